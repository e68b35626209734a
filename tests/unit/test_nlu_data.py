"""The NLU training data: enough varied Vietnamese examples per intent, no contradictions."""
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from cskh.text import has_diacritics, normalize_folded

ROOT = Path(__file__).resolve().parents[2]
INTENTS = ["greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "request_human", "complain",
           "out_of_scope", "faq", "order_status", "order_change", "order_cancel", "return_request",
           "warranty_claim", "product_info", "inform"]


def examples(name: str):
    data = yaml.safe_load((ROOT / "bot" / "data" / "nlu" / name).read_text(encoding="utf-8"))
    out = defaultdict(list)
    for block in data["nlu"]:
        out[block["intent"]] += [line[2:].strip() for line in block["examples"].splitlines() if line.startswith("- ")]
    return out


@pytest.mark.parametrize("intent", INTENTS)
def test_every_intent_has_40_vietnamese_examples_with_and_without_diacritics(intent):
    vi = examples("vi.yml")[intent]
    assert len(vi) >= 40
    assert sum(has_diacritics(e) for e in vi) >= 10
    assert sum(not has_diacritics(e) for e in vi) >= 5


@pytest.mark.parametrize("intent", INTENTS)
def test_every_intent_is_understood_in_english_too(intent):
    assert len(examples("en.yml")[intent]) >= 15


def test_no_example_is_labelled_with_two_intents_after_normalisation():
    seen = {}
    clashes = []
    for name in ("vi.yml", "en.yml", "en_bitext.yml"):
        for intent, texts in examples(name).items():
            for text in texts:
                key = normalize_folded(text)
                if seen.setdefault(key, intent) != intent:
                    clashes.append((text, seen[key], intent))
    assert clashes == []
