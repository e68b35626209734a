"""The KB as the assistant uses it: NLU first, then the KB with the threshold that path applies.

  python scripts/eval_faq_path.py

For every test-split question of retrieval/eval/questions_vi.jsonl: the trained Rasa model's intent
decides the path: `faq` → KB answer if confidence ≥ CSKH_KB_FAQ_THRESHOLD; greet, out_of_scope,
nlu_fallback, inform → KB answer only at the strict tuned threshold; any task intent → no KB answer
(the question goes to a form). Prints precision, coverage and abstention of what customers get.
"""
from __future__ import annotations

import asyncio
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rasa.core.agent import Agent  # noqa: E402

from cskh.assistant import served_model  # noqa: E402
from cskh.settings import get_settings  # noqa: E402
from retrieval.corpus import load_source  # noqa: E402
from retrieval.encoder import Encoder  # noqa: E402
from retrieval.evaluate import load_questions, split  # noqa: E402
from retrieval.search import KnowledgeBase  # noqa: E402

KB_FIRST = {"greet", "out_of_scope", "nlu_fallback", "inform"}


async def intents(texts):
    agent = Agent.load(str(served_model(get_settings())))
    return [((await agent.parse_message(t))["intent"] or {}).get("name") for t in texts]


def main() -> int:
    settings = get_settings()
    _, test = split(load_questions())
    kb = KnowledgeBase.build(load_source(settings.kb_source_dir), Encoder(settings.embedding_model))
    predicted = asyncio.run(intents([q.text for q in test]))
    answered = right = covered = declined = 0
    paths: Counter = Counter()
    for q, intent in zip(test, predicted):
        hit = kb.search(q.text, k=1)
        top = hit[0] if hit else None
        if intent == "faq":
            gives = top is not None and top.confidence >= settings.kb_faq_threshold
            paths["faq"] += 1
        elif intent in KB_FIRST:
            gives = top is not None and top.confident
            paths["kb-first"] += 1
        else:
            gives = False
            paths["task form"] += 1
        if gives:
            answered += 1
            right += int(q.entry is not None and top.id == q.entry)
        if q.entry is not None:
            covered += int(gives)
        else:
            declined += int(not gives)
    n_ans = sum(q.entry is not None for q in test)
    n_un = len(test) - n_ans
    print(f"paths taken: {dict(paths)}")
    print("| answer precision | coverage (answerable) | abstention (unanswerable) |\n|---|---|---|")
    print(f"| {right / max(answered, 1):.3f} | {covered / n_ans:.3f} | {declined / n_un:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
