"""What the KB answers to a few questions, with its confidence (a support lead's quick check).

  python scripts/kb_confidence.py "phí ship bao nhiêu vậy shop?" "cửa hàng ở đâu"

Loads the built index (CSKH_KB_INDEX_DIR, `make kb` builds it) with the tuned ranker and prints,
per question and path, the entry the assistant answers with, its confidence, and whether it clears
that path's threshold: the FAQ path's (CSKH_KB_FAQ_THRESHOLD, when NLU classified the message as
an FAQ question) and the strict one (every other path). Below the threshold of its path the
assistant says it is not sure. The entry can differ by path: an overview is chosen only when its
family clears the path's threshold and the top entry alone does not.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cskh.settings import get_settings  # noqa: E402
from retrieval.encoder import Encoder  # noqa: E402
from retrieval.index import read_meta  # noqa: E402
from retrieval.search import KnowledgeBase  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("questions", nargs="+")
    args = parser.parse_args()
    settings = get_settings()
    kb = KnowledgeBase.load(settings.kb_index_dir, Encoder(read_meta(settings.kb_index_dir)["model"]))
    strict = kb.ranker.threshold if kb.ranker is not None else kb.fusion.threshold
    faq = settings.kb_faq_threshold
    print(f"| question | FAQ path (≥ {faq:.2f}) | other paths (≥ {strict:.3f}) |")
    print("|---|---|---|")
    for text in args.questions:
        cells = []
        for threshold in (faq, strict):
            hits = kb.search(text, k=1, threshold=threshold)
            if not hits:
                cells.append("not sure (no candidate)")
                continue
            top = hits[0]
            verdict = "answers" if top.confidence >= threshold else "not sure"
            cells.append(f"{verdict}: {top.id} {top.confidence:.2f}")
        print(f"| {text} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
