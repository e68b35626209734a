"""`cskh kb eval --quick --misses` on the real KB, encoder and evaluation questions: the quality
table, the split by closeness to the KB's phrasings, and the dev misses."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _table(out: str, title: str) -> list:
    """The rows (cells) of the markdown table after the line starting with `title`."""
    lines = out[out.index(title):].splitlines()
    rows = []
    for line in lines[1:]:
        if line.startswith("|"):
            rows.append([c.strip() for c in line.strip("|").split("|")])
        elif rows:
            break
    return rows[2:]  # without the header and the rule


def test_kb_eval_prints_quality_closeness_and_the_dev_misses():
    done = subprocess.run([sys.executable, "-m", "cskh.cli", "kb", "eval", "--quick", "--misses", "--finetuned", "none"],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    quality = _table(out, "quality (test split)")
    assert [r[0] for r in quality] == ["dense only", "lexical only (BM25)", "hybrid", "hybrid + learned ranker"]
    ranker_hit1 = float(quality[-1][1])
    assert 0.0 <= ranker_hit1 <= 1.0

    heading = re.search(r"quality by closeness .*?: (\d+) of (\d+) answerable questions, (\d+) of (\d+) unanswerable", out)
    near, answerable, near_none, unanswerable = (int(heading.group(i)) for i in range(1, 5))
    assert 0 < near < answerable and 0 <= near_none <= unanswerable
    closeness = _table(out, "quality by closeness")
    assert [r[0] for r in closeness] == [r[0] for r in quality]
    for whole, parts in zip(quality, closeness):
        # the whole split's hit@1, coverage and abstention are the two parts' weighted means
        for at_whole, at_far, at_near, n_near, n in ((1, 1, 6, near, answerable), (5, 4, 9, near, answerable),
                                                     (6, 5, 10, near_none, unanswerable)):
            far_value = float(parts[at_far])
            near_value = float(parts[at_near]) if n_near else 0.0
            mean = (far_value * (n - n_near) + near_value * n_near) / n
            assert abs(mean - float(whole[at_whole])) < 0.002, (whole[0], at_whole)

    count = re.search(r"hit@1 misses of the learned ranker on the dev split: (\d+) of (\d+)", out)
    misses = _table(out, "hit@1 misses of the learned ranker")
    assert len(misses) == int(count.group(1)) > 0
    from retrieval.evaluate import load_questions, split

    dev = {q.id: q for q in split(load_questions())[0]}
    for qid, _, entry, first, _ in misses:
        assert qid in dev  # dev only: test stays unread
        assert dev[qid].entry == entry and first.split(", ")[0] != entry
