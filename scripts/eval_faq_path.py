"""The KB as the assistant uses it: NLU first, then the KB with the threshold that path applies.

  python scripts/eval_faq_path.py                      # test split, CSKH_KB_FAQ_THRESHOLD
  python scripts/eval_faq_path.py --split dev --faq-threshold 0.4 0.5 0.6 0.7   # tune on dev
  python scripts/eval_faq_path.py --no-overviews        # without the overview step, to compare

For every question of one split of retrieval/eval/questions_vi.jsonl (test by default; `--split
short`: retrieval/eval/short_vi.jsonl): the
trained Rasa model's intent decides the path: `faq` → KB answer if confidence ≥ the FAQ threshold
(CSKH_KB_FAQ_THRESHOLD unless --faq-threshold gives others); greet, out_of_scope, nlu_fallback,
inform → KB answer only at the strict tuned threshold; any task intent → no KB answer (the question
goes to a form). Prints precision, coverage and abstention of what customers get, overall and on
the questions NLU sent down the FAQ path, one row per FAQ threshold. Choose the threshold on dev:
the test split is for reporting.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import structlog  # noqa: E402
from rasa.core.agent import Agent  # noqa: E402

from cskh.assistant import served_model  # noqa: E402
from cskh.settings import get_settings  # noqa: E402
from retrieval.corpus import load_source  # noqa: E402
from retrieval.encoder import Encoder  # noqa: E402
from retrieval.evaluate import load_questions, read_short, split  # noqa: E402
from retrieval.search import KnowledgeBase  # noqa: E402

KB_FIRST = {"greet", "out_of_scope", "nlu_fallback", "inform"}


async def intents(texts):
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))  # no per-message debug
    agent = Agent.load(str(served_model(get_settings())))
    return [((await agent.parse_message(t))["intent"] or {}).get("name") for t in texts]


def path_of(intent) -> str:
    return "faq" if intent == "faq" else "kb-first" if intent in KB_FIRST else "task form"


def measure(questions, tops, paths, faq_threshold: float, covers):
    """(precision, coverage, abstention) of what customers get, and the same on the FAQ path.
    `tops`: per question, the KB's first hit as its path asks for it. An overview's answer is
    right for a question about an entry it covers (`covers`: entry id → the ids it covers)."""
    answered = right = covered = declined = 0
    faq_answered = faq_right = faq_covered = faq_declined = 0
    for q, top, path in zip(questions, tops, paths):
        if path == "faq":
            gives = top is not None and top.confidence >= faq_threshold
        elif path == "kb-first":
            gives = top is not None and top.confident
        else:
            gives = False
        correct = int(gives and q.entry is not None and (top.id == q.entry or q.entry in covers.get(top.id, ())))
        answered += int(gives)
        right += correct
        if q.entry is not None:
            covered += int(gives)
        else:
            declined += int(not gives)
        if path == "faq":
            faq_answered += int(gives)
            faq_right += correct
            if q.entry is not None:
                faq_covered += int(gives)
            else:
                faq_declined += int(not gives)
    n_ans = sum(q.entry is not None for q in questions)
    n_un = len(questions) - n_ans
    faq_ans = sum(q.entry is not None for q, p in zip(questions, paths) if p == "faq")
    faq_un = sum(q.entry is None for q, p in zip(questions, paths) if p == "faq")
    return ((right / max(answered, 1), covered / max(n_ans, 1), declined / max(n_un, 1)),
            (faq_right / max(faq_answered, 1), faq_covered / max(faq_ans, 1), faq_declined / max(faq_un, 1),
             faq_answered))


def main(argv=None) -> int:
    settings = get_settings()
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--split", choices=("test", "dev", "short"), default="test",
                      help="short: the short generic questions of retrieval/eval/short_vi.jsonl (test data)")
    args.add_argument("--fusion", action="store_true", help="the fusion baseline instead of the learned ranker")
    args.add_argument("--no-overviews", action="store_true",
                      help="answer with the top entry only, without the overview step (faq_corpus `covers`)")
    args.add_argument("--faq-threshold", type=float, nargs="+",
                      help=f"FAQ-path thresholds to compare (default CSKH_KB_FAQ_THRESHOLD: {settings.kb_faq_threshold})")
    opts = args.parse_args(argv)
    dev, test = split(load_questions())
    questions = {"dev": dev, "test": test, "short": read_short()}[opts.split]
    kb = KnowledgeBase.build(load_source(settings.kb_source_dir), Encoder(settings.embedding_model),
                             **({"ranker": None} if opts.fusion else {}))
    if opts.no_overviews:
        kb.overview_of = lambda entry_id: None  # type: ignore[assignment]  # no family, no overview step
    covers = {e.id: e.covers for e in kb.entries.values() if e.covers}
    paths = [path_of(i) for i in asyncio.run(intents([q.text for q in questions]))]

    def tops_for(threshold):
        """The first hit of each question as its path asks for it (the FAQ path with `threshold`)."""
        out = []
        for q, path in zip(questions, paths):
            hit = kb.search(q.text, k=1, threshold=threshold if path == "faq" else None)
            out.append(hit[0] if hit else None)
        return out

    strict = kb.ranker.threshold if kb.ranker is not None else kb.fusion.threshold
    n_faq = Counter(q.entry is None for q, p in zip(questions, paths) if p == "faq")
    kind = "fusion" if kb.ranker is None else "learned ranker"
    print(f"{opts.split} split, {kind}: {len(questions)} questions; paths taken: {dict(Counter(paths))}; "
          f"FAQ path: {n_faq[False]} answerable, {n_faq[True]} unanswerable; strict threshold {strict:.3f}")
    print("| FAQ threshold | answer precision | coverage (answerable) | abstention (unanswerable) "
          "| FAQ path: precision | FAQ path: coverage | FAQ path: abstention | FAQ path: answers |")
    print("|---|---|---|---|---|---|---|---|")
    for threshold in opts.faq_threshold or [settings.kb_faq_threshold]:
        (p, c, a), (fp, fc, fa, fn) = measure(questions, tops_for(threshold), paths, threshold, covers)
        print(f"| {threshold:.2f} | {p:.3f} | {c:.3f} | {a:.3f} | {fp:.3f} | {fc:.3f} | {fa:.3f} | {fn} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
