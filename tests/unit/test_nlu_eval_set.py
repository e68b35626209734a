"""The fixed NLU evaluation set (bot/eval/nlu_eval.yml) that `cskh retrain`'s regression gate scores
candidate models on: it covers every intent, holds no duplicates, and never overlaps the training
data, so the gate measures generalisation rather than memory."""
import re
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from cskh.text import normalize_folded

ROOT = Path(__file__).resolve().parents[2]
EVAL_FILE = ROOT / "bot" / "eval" / "nlu_eval.yml"
TRAINING_DIR = ROOT / "bot" / "data" / "nlu"
INTENTS = ["greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "request_human", "complain",
           "out_of_scope", "faq", "order_status", "order_change", "order_cancel", "return_request",
           "warranty_claim", "product_info", "inform"]
MIN_EXAMPLES = 15

# Rasa entity annotations: [text](entity), [text](entity:value), [text]{"entity": ...}.
_ANNOTATION = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")


def strip_annotations(text: str) -> str:
    """The plain text of an annotated Rasa example: "[DH1001](order_code)" -> "DH1001"."""
    return _ANNOTATION.sub(r"\1", text)


def _block_examples(block) -> list:
    examples = block.get("examples") or []
    if isinstance(examples, str):
        return [line.strip()[2:].strip() for line in examples.splitlines() if line.strip().startswith("- ")]
    # The long form: a list of {"text": ..., "metadata": ...}.
    return [item["text"].strip() if isinstance(item, dict) else str(item).strip() for item in examples]


def load_examples(path: Path) -> dict:
    """Intent -> examples of one Rasa NLU YAML file (synonym, regex and lookup blocks ignored)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out = defaultdict(list)
    for block in data.get("nlu") or []:
        if "intent" in block:
            out[block["intent"]] += _block_examples(block)
    return out


@pytest.fixture(scope="module")
def eval_set() -> dict:
    return load_examples(EVAL_FILE)


@pytest.fixture(scope="module")
def training_examples() -> dict:
    """Normalised training text -> (file, intent, original example)."""
    seen = {}
    files = sorted(TRAINING_DIR.glob("*.yml"))
    assert files, f"no training data under {TRAINING_DIR}"
    for path in files:
        for intent, texts in load_examples(path).items():
            for text in texts:
                seen.setdefault(normalize_folded(strip_annotations(text)), (path.name, intent, text))
    return seen


def test_eval_set_lies_outside_the_training_data_folder():
    assert TRAINING_DIR not in EVAL_FILE.parents


def test_eval_set_uses_only_the_domain_intents(eval_set):
    assert sorted(set(eval_set) - set(INTENTS)) == []


@pytest.mark.parametrize("intent", INTENTS)
def test_every_intent_has_enough_eval_examples(eval_set, intent):
    assert len(eval_set.get(intent, [])) >= MIN_EXAMPLES


def test_eval_examples_are_plain_text_without_entity_annotations(eval_set):
    annotated = [text for texts in eval_set.values() for text in texts if strip_annotations(text) != text]
    assert annotated == []


def test_no_example_appears_twice_in_the_eval_set(eval_set):
    seen = {}
    duplicates = []
    for intent, texts in eval_set.items():
        for text in texts:
            key = normalize_folded(text)
            if key in seen:
                duplicates.append((text, seen[key], intent))
            else:
                seen[key] = intent
    assert duplicates == []


def test_no_eval_example_equals_a_training_example_after_normalisation(eval_set, training_examples):
    collisions = [
        (intent, text, training_examples[normalize_folded(text)])
        for intent, texts in eval_set.items()
        for text in texts
        if normalize_folded(text) in training_examples
    ]
    assert collisions == []


def test_training_annotations_are_stripped_before_comparing():
    assert strip_annotations("hủy đơn [DH1001](order_code) nhé") == "hủy đơn DH1001 nhé"
    assert strip_annotations('lấy màu [tím]{"entity": "color", "value": "tím"}') == "lấy màu tím"
    assert strip_annotations("[nova x5](product:NOVA-X5) [đen](color)") == "nova x5 đen"
    assert strip_annotations("giao hàng mất mấy ngày") == "giao hàng mất mấy ngày"
