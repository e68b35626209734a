"""What the KB answers to a few questions, with its confidence (a support lead's quick check).

  python scripts/kb_confidence.py "phí ship bao nhiêu vậy shop?" "cửa hàng ở đâu"

Loads the built index (CSKH_KB_INDEX_DIR, `make kb` builds it) with the tuned ranker and prints,
per question, the confidence, the top entry, and which thresholds it clears: the FAQ path's
(CSKH_KB_FAQ_THRESHOLD, when NLU classified the message as an FAQ question) and the strict one
(every other path). Below the threshold of its path the assistant says it is not sure.
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
    print(f"| question | confidence | top entry | FAQ path (≥ {faq:.2f}) | other paths (≥ {strict:.3f}) |")
    print("|---|---|---|---|---|")
    for text in args.questions:
        hits = kb.search(text, k=1)
        if not hits:
            print(f"| {text} | 0.00 | (none) | not sure | not sure |")
            continue
        top = hits[0]
        verdict = lambda threshold: "answers" if top.confidence >= threshold else "not sure"  # noqa: E731
        print(f"| {text} | {top.confidence:.2f} | {top.id} | {verdict(faq)} | {verdict(strict)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
