"""Intent evaluation on the fixed set (bot/eval/nlu_eval.yml, never trained on) and the regression
gate that decides whether a retrained candidate may replace the served model.

The gate promotes a candidate only when
  - its intent macro-F1 is at most `tolerance` below the current model's, and
  - no intent with at least MIN_SUPPORT examples lost more than `intent_tolerance` F1,
so a label set that wrecks one intent is refused even when the average barely moves.
"""
from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import yaml

FALLBACK = "nlu_fallback"
MIN_SUPPORT = 5
_ANNOTATION = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")

Progress = Callable[[int, int], None]  # (done, total)


@dataclass(frozen=True)
class Example:
    text: str
    intent: str


def load_examples(path: Path) -> List[Example]:
    """The examples of a Rasa NLU YAML file, entity markup removed."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    found: List[Example] = []
    for block in data.get("nlu") or []:
        intent = block.get("intent") if isinstance(block, dict) else None
        if not intent:
            continue
        raw = block.get("examples") or ""
        lines = raw if isinstance(raw, list) else [l.strip()[2:] for l in str(raw).splitlines()
                                                   if l.strip().startswith("- ")]
        found += [Example(_ANNOTATION.sub(r"\1", str(line)).strip(), intent) for line in lines if str(line).strip()]
    if not found:
        raise ValueError(f"{path}: no NLU examples")
    return found


@dataclass
class Evaluation:
    macro_f1: float
    accuracy: float
    per_intent: Dict[str, Dict[str, float]]
    labels: List[str]                      # rows: gold intents; columns: the same plus nlu_fallback
    confusion: List[List[int]]
    examples: int
    errors: List[Dict[str, str]] = field(default_factory=list)  # misclassified examples

    def as_dict(self) -> Dict[str, Any]:
        return {"macro_f1": self.macro_f1, "accuracy": self.accuracy, "per_intent": self.per_intent,
                "labels": self.labels, "confusion": self.confusion, "examples": self.examples,
                "errors": self.errors}


def score(gold: Sequence[str], predicted: Sequence[str], texts: Sequence[str] = ()) -> Evaluation:
    """Per-intent precision/recall/F1 over the gold intents, macro-F1, and the confusion matrix."""
    intents = sorted(set(gold))
    columns = intents + sorted({p for p in predicted if p not in intents})
    index = {name: i for i, name in enumerate(columns)}
    confusion = [[0] * len(columns) for _ in intents]
    for g, p in zip(gold, predicted):
        confusion[index[g]][index[p]] += 1
    per_intent: Dict[str, Dict[str, float]] = {}
    for i, name in enumerate(intents):
        tp = confusion[i][i]
        support = sum(confusion[i])
        predicted_as = sum(row[i] for row in confusion)
        precision = tp / predicted_as if predicted_as else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_intent[name] = {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
                            "support": support}
    macro = sum(v["f1"] for v in per_intent.values()) / len(per_intent) if per_intent else 0.0
    correct = sum(1 for g, p in zip(gold, predicted) if g == p)
    errors = [{"text": t, "intent": g, "predicted": p} for t, g, p in zip(texts, gold, predicted) if g != p]
    return Evaluation(round(macro, 4), round(correct / len(gold), 4) if gold else 0.0, per_intent, columns,
                      confusion, len(gold), errors)


async def predict(model_path: Path, texts: Sequence[str], progress: Optional[Progress] = None) -> List[str]:
    """The intent the model (its NLU, as the service runs it, fallback included) gives each text."""
    from rasa.core.agent import Agent

    agent = await asyncio.get_running_loop().run_in_executor(None, Agent.load, str(model_path))
    found: List[str] = []
    for i, text in enumerate(texts, 1):
        parsed = await agent.parse_message(text)
        found.append(((parsed.get("intent") or {}).get("name")) or FALLBACK)
        if progress and (i % 10 == 0 or i == len(texts)):
            progress(i, len(texts))
    return found


def evaluate(model_path: Path, examples: Sequence[Example], progress: Optional[Progress] = None) -> Evaluation:
    texts = [e.text for e in examples]
    predicted = asyncio.run(predict(model_path, texts, progress))
    return score([e.intent for e in examples], predicted, texts)


@dataclass
class Decision:
    promote: bool
    reasons: List[str]                      # why refused (empty when promoted)
    deltas: Dict[str, float]                # intent → candidate F1 − current F1
    macro_delta: float

    def summary(self) -> str:
        if self.promote:
            return f"promoted: macro-F1 {self.macro_delta:+.3f} against the current model"
        return "refused: " + "; ".join(self.reasons)


def gate(candidate: Evaluation, current: Optional[Evaluation], tolerance: float,
         intent_tolerance: float) -> Decision:
    if current is None:
        return Decision(True, [], {}, 0.0)
    macro_delta = round(candidate.macro_f1 - current.macro_f1, 4)
    deltas: Dict[str, float] = {}
    reasons: List[str] = []
    if macro_delta < -tolerance:
        reasons.append(f"macro-F1 fell {-macro_delta:.3f} ({current.macro_f1:.3f} → {candidate.macro_f1:.3f}), "
                       f"more than the tolerance {tolerance:.3f}")
    for intent, before in sorted(current.per_intent.items()):
        after = candidate.per_intent.get(intent, {"f1": 0.0})
        delta = round(after["f1"] - before["f1"], 4)
        deltas[intent] = delta
        if before.get("support", 0) >= MIN_SUPPORT and delta < -intent_tolerance:
            reasons.append(f"{intent} F1 fell {-delta:.3f} ({before['f1']:.3f} → {after['f1']:.3f}), "
                           f"more than the per-intent tolerance {intent_tolerance:.3f}")
    return Decision(not reasons, reasons, deltas, macro_delta)


def format_comparison(candidate: Evaluation, current: Optional[Evaluation]) -> str:
    """A Markdown table: per-intent F1 of both models and the change."""
    lines = ["| intent | current F1 | candidate F1 | change | support |", "|---|---|---|---|---|"]
    for intent, after in sorted(candidate.per_intent.items()):
        before = current.per_intent.get(intent) if current else None
        change = f"{after['f1'] - before['f1']:+.3f}" if before else ""
        lines.append(f"| {intent} | {before['f1']:.3f} | {after['f1']:.3f} | {change} | {after['support']} |"
                     if before else f"| {intent} | | {after['f1']:.3f} | | {after['support']} |")
    before_macro = f"{current.macro_f1:.3f}" if current else ""
    delta = f"{candidate.macro_f1 - current.macro_f1:+.3f}" if current else ""
    lines.append(f"| **macro** | {before_macro} | {candidate.macro_f1:.3f} | {delta} | {candidate.examples} |")
    return "\n".join(lines)

