"""Frustration detector: train on cskh/sentiment_data/train.tsv, measure on test.tsv.

Prints a markdown table (negative precision/recall/F1, macro F1, accuracy, false-handoff rate on
neutral messages at the default threshold) for the model and for the lexicon alone, the confusion
matrix, and the handoff threshold that cross-validation on the training set picks today.

    .venv/bin/python scripts/eval_sentiment.py
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import List, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cskh.sentiment import (  # noqa: E402
    DEFAULT_THRESHOLD, FALSE_HANDOFF_TARGET, LABELS, TEST_PATH, TRAIN_PATH, Sentiment, SentimentModel,
    calibrate_threshold, is_frustrated, lexicon_only, load_rows,
)


def metrics(rows: Sequence[Tuple[str, str]], predictions: Sequence[Sentiment], threshold: float) -> dict:
    gold = [label for label, _ in rows]
    guess = [p.label for p in predictions]
    f1s = {}
    for label in LABELS:
        tp = sum(g == label and p == label for g, p in zip(gold, guess))
        fp = sum(g != label and p == label for g, p in zip(gold, guess))
        fn = sum(g == label and p != label for g, p in zip(gold, guess))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        f1s[label] = (precision, recall, f1)
    neutral = [p for g, p in zip(gold, predictions) if g == "neutral"]
    negative = [p for g, p in zip(gold, predictions) if g == "negative"]
    return {
        "neg_p": f1s["negative"][0], "neg_r": f1s["negative"][1], "neg_f1": f1s["negative"][2],
        "macro_f1": sum(f[2] for f in f1s.values()) / len(LABELS),
        "accuracy": sum(g == p for g, p in zip(gold, guess)) / len(gold),
        "false_handoff": sum(is_frustrated(p, threshold) for p in neutral) / len(neutral),
        "handoff_recall": sum(is_frustrated(p, threshold) for p in negative) / len(negative),
    }


def confusion(rows: Sequence[Tuple[str, str]], predictions: Sequence[Sentiment]) -> List[str]:
    lines = ["| gold \\ predicted | " + " | ".join(LABELS) + " |", "|---|" + "---|" * len(LABELS)]
    for gold in LABELS:
        counts = [sum(g == gold and p.label == label for (g, _), p in zip(rows, predictions)) for label in LABELS]
        lines.append(f"| {gold} | " + " | ".join(str(c) for c in counts) + " |")
    return lines


def main() -> int:
    train, test = load_rows(TRAIN_PATH), load_rows(TEST_PATH)

    def count(rows: Sequence[Tuple[str, str]]) -> str:
        return ", ".join(f"{label} {sum(r[0] == label for r in rows)}" for label in LABELS)

    print(f"train: {len(train)} ({count(train)}); test: {len(test)} ({count(test)})\n")
    started = time.perf_counter()
    model = SentimentModel().train(train)
    trained_in = time.perf_counter() - started
    texts = [text for _, text in test]
    started = time.perf_counter()
    predicted = model.predict_many(texts)
    per_message_ms = (time.perf_counter() - started) / len(texts) * 1000
    baseline = [lexicon_only(text) for text in texts]
    # The lexicon only says yes or no: its "negative probability" is 1 or 0, so any threshold works.
    rows = [("model (TF-IDF + lexicon, LogisticRegression)", metrics(test, predicted, DEFAULT_THRESHOLD)),
            ("lexicon only (baseline)", metrics(test, baseline, DEFAULT_THRESHOLD))]
    print(f"test set: {TEST_PATH.relative_to(TEST_PATH.parent.parent.parent)}; handoff threshold "
          f"{DEFAULT_THRESHOLD} (negative probability)\n")
    print("| detector | negative precision | negative recall | negative F1 | macro F1 | accuracy "
          "| false handoff (neutral) | handoff recall (negative) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, m in rows:
        print(f"| {name} | {m['neg_p']:.3f} | {m['neg_r']:.3f} | {m['neg_f1']:.3f} | {m['macro_f1']:.3f} "
              f"| {m['accuracy']:.3f} | {m['false_handoff']:.3f} | {m['handoff_recall']:.3f} |")
    print("\nconfusion matrix, model (rows: gold)\n")
    print("\n".join(confusion(test, predicted)))
    print("\nconfusion matrix, lexicon only\n")
    print("\n".join(confusion(test, baseline)))
    threshold, fhr, recall = calibrate_threshold(train)
    print(f"\ntrained in {trained_in:.2f}s; {per_message_ms:.2f} ms per message (batch)")
    print(f"5-fold cross-validation on train picks threshold {threshold} (false handoff {fhr:.3f} <= "
          f"{FALSE_HANDOFF_TARGET}, negative recall {recall:.3f}); DEFAULT_THRESHOLD = {DEFAULT_THRESHOLD}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
