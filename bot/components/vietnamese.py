"""Custom Rasa NLU components: the shared Vietnamese normaliser and the shop's entity rules."""
from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Set, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from cskh.entities import extract_all
from cskh.text import normalize_folded


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class VietnameseTokenizer(WhitespaceTokenizer):
    """Whitespace tokens of the normalised, accent-folded text.

    Accented, unaccented and abbreviated spellings of a message ("hủy đơn", "huy don",
    "huỷ đh") get the same tokens, so the featurizers and DIET see one vocabulary.
    The message text itself is left untouched for entity offsets and transcripts.
    """

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        if attribute != TEXT:
            return super().tokenize(message, attribute)
        normalised = normalize_folded(message.get(attribute) or "")
        words = ["".join(ch for ch in w if ch.isalnum() or ch in "/-") for w in normalised.split()]
        words = [w for w in words if w] or ["_"]
        return self._convert_words_to_tokens(words, " ".join(words))


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class ShopEntityExtractor(GraphComponent):
    """Order codes, phones, catalog products, colours, quantities, addresses and keyword slots."""

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "ShopEntityExtractor":
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            found = [e.as_rasa(self.__class__.__name__) for e in extract_all(text)]
            message.set(ENTITIES, list(message.get(ENTITIES, [])) + found, add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class UnknownWordsDamper(GraphComponent):
    """Scales intent confidence by the share of the message's words seen in training.

    DIET is confidently wrong on keyboard mash ("asdkjh" → affirm 1.00) because nothing in its
    features says "never seen this". Placed before the FallbackClassifier, this turns messages
    made of unknown words into nlu_fallback, so the assistant asks to rephrase instead of guessing.
    Numbers, order codes and words inside extracted entities count as known.
    """

    FILE = "vocabulary.json"

    def __init__(self, model_storage: ModelStorage, resource: Resource, vocabulary: Optional[Set[str]] = None) -> None:
        self._storage, self._resource = model_storage, resource
        self.vocabulary: Set[str] = vocabulary or set()

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "UnknownWordsDamper":
        return cls(model_storage, resource)

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "UnknownWordsDamper":
        try:
            with model_storage.read_from(resource) as path:
                words = json.loads((path / cls.FILE).read_text(encoding="utf-8"))
        except (ValueError, FileNotFoundError):
            words = []
        return cls(model_storage, resource, set(words))

    def train(self, training_data: TrainingData) -> Resource:
        for example in training_data.intent_examples:
            self.vocabulary.update(_words(example.get(TEXT) or ""))
        with self._storage.write_to(self._resource) as path:
            (path / self.FILE).write_text(json.dumps(sorted(self.vocabulary), ensure_ascii=False), encoding="utf-8")
        return self._resource

    def known_share(self, message: Message) -> float:
        words = _words(message.get(TEXT) or "")
        if not words:
            return 1.0
        covered = set()
        for entity in message.get(ENTITIES, []):
            if entity.get("end", 0) > entity.get("start", 0):
                covered.update(_words(str(message.get(TEXT))[entity["start"]:entity["end"]]))
        known = [w for w in words if w in self.vocabulary or w in covered or any(ch.isdigit() for ch in w)]
        return len(known) / len(words)

    def process(self, messages: List[Message]) -> List[Message]:
        if not self.vocabulary:
            return messages
        for message in messages:
            intent = message.get(INTENT)
            if not intent:
                continue
            share = self.known_share(message)
            if share >= 1.0:
                continue
            intent = dict(intent, confidence=float(intent.get("confidence") or 0.0) * share)
            message.set(INTENT, intent, add_to_output=True)
            ranking = message.get(INTENT_RANKING_KEY)
            if ranking:
                ranking = [dict(r, confidence=float(r.get("confidence") or 0.0) * share) for r in ranking]
                message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        return messages


def _words(text: str) -> List[str]:
    return [w for w in normalize_folded(text).split() if any(ch.isalnum() for ch in w)]
