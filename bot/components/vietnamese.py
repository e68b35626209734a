"""Custom Rasa NLU components: the shared Vietnamese normaliser and the shop's entity rules."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import ENTITIES, TEXT
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
