"""Which language a customer writes in: an NLU component (config.yml, after the classifiers).

For a message clearly written in one language (at least MIN_WORDS words or MIN_LETTERS letters once
numbers and the entities found so far are left out, and a clear winner: see `identify`) it adds an entity
`language` (en/de/nl), which domain.yml maps to the `language` slot: the bot answers in it from
then on. Short messages ("ja", "2", "ok", a tracking number) add nothing, so the conversation keeps
its language. A message clearly in a language the bot does not speak (French, Spanish, ...) gets
the intent `unsupported_language`, answered in the current language and in English.

lingua's high-accuracy models (about 250 MB for the nine languages): its low-accuracy mode is
smaller but wrong on short messages ("are you a machine" → German), see the component's
`low_accuracy` option.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Dict, List, Tuple

from lingua import Language, LanguageDetector, LanguageDetectorBuilder
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

SUPPORTED = {Language.ENGLISH: "en", Language.GERMAN: "de", Language.DUTCH: "nl"}
UNSUPPORTED = (Language.FRENCH, Language.SPANISH, Language.ITALIAN, Language.POLISH, Language.TURKISH,
               Language.PORTUGUESE)
ENTITY = "language"
UNSUPPORTED_INTENT = "unsupported_language"
WORD = re.compile(r"[^\W\d_]{2,}")
POSTCODE = re.compile(r"\b\d{4,5}\b")


@lru_cache(maxsize=2)
def detector(low_accuracy: bool = False) -> LanguageDetector:
    """Built once per process: the supported languages and a few others, to recognise those."""
    builder = LanguageDetectorBuilder.from_languages(*SUPPORTED, *UNSUPPORTED)
    return (builder.with_low_accuracy_mode() if low_accuracy else builder).build()


def without_entities(text: str, entities: List[Dict[str, Any]]) -> str:
    """The text with the entities found so far blanked out: "the Hermannplatz locker" is no German."""
    chars = list(text)
    for entity in entities:
        start, end = entity.get("start"), entity.get("end")
        if isinstance(start, int) and isinstance(end, int) and entity.get("entity") != ENTITY:
            chars[start:end] = " " * (end - start)
    return "".join(chars)


def identify(text: str, *, min_words: int = 3, min_letters: int = 15, min_confidence: float = 0.45,
             min_ratio: float = 2.5, min_supported_confidence: float = 0.2,
             low_accuracy: bool = False) -> Tuple[str, bool] | None:
    """(ISO 639-1 code, supported) when `text` is clearly in one language; None when it can't tell.

    lingua spreads its confidence over all nine languages, and short English shares words with Spanish
    or French ("where is my parcel": English 0.30, Spanish 0.14). So:
    - one of ours (en/de/nl) wins when it is at least `min_supported_confidence` and `min_ratio` times as
      likely as the next of ours: all that matters is which of our languages to answer in;
    - another language wins only when it is at least `min_confidence` and `min_ratio` times as likely
      as the next language of all nine: the customer gets English as well, so doubt stays with ours.
    """
    words = WORD.findall(text)
    if len(words) < min_words and sum(len(w) for w in words) < min_letters:
        return None
    if len(words) < 4 and POSTCODE.search(text):
        return None  # "Oranienstraße 14, 10999 Berlin": an address is in the language of the place
    values = detector(low_accuracy).compute_language_confidence_values(" ".join(words))
    if not values:
        return None
    best = values[0]
    if best.language in SUPPORTED:
        rival = max((v.value for v in values if v.language in SUPPORTED and v.language != best.language),
                    default=0.0)
        if best.value < min_supported_confidence or best.value < min_ratio * rival:
            return None
        return SUPPORTED[best.language], True
    second = values[1].value if len(values) > 1 else 0.0
    if best.value < min_confidence or best.value < min_ratio * second:
        return None
    return best.language.iso_code_639_1.name.lower(), False


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class LanguageIdentifier(GraphComponent):
    """Adds the entity `language` (en/de/nl), or the intent `unsupported_language`."""

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {"min_words": 3, "min_letters": 15, "min_confidence": 0.45, "min_ratio": 2.5,
                "min_supported_confidence": 0.2, "low_accuracy": False}

    def __init__(self, config: Dict[str, Any]) -> None:
        self.config = {**self.get_default_config(), **config}

    @classmethod
    def create(cls, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "LanguageIdentifier":
        return cls(config)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._process(message)
        return messages

    def _process(self, message: Message) -> None:
        text = message.get(TEXT) or ""
        if not text or text.startswith("/"):  # intent payloads: buttons, initPayload, carrier keywords
            return
        entities = list(message.get(ENTITIES) or [])
        found = identify(without_entities(text, entities), min_words=self.config["min_words"],
                         min_letters=self.config["min_letters"], min_confidence=self.config["min_confidence"],
                         min_ratio=self.config["min_ratio"],
                         min_supported_confidence=self.config["min_supported_confidence"],
                         low_accuracy=self.config["low_accuracy"])
        if found is None:
            return
        code, supported = found
        if supported:
            entities.append({"entity": ENTITY, "value": code, "start": 0, "end": len(text),
                             "extractor": self.__class__.__name__})
            message.set(ENTITIES, entities, add_to_output=True)
            return
        intent = {"name": UNSUPPORTED_INTENT, "confidence": 1.0}
        ranking = [intent, *[i for i in message.get(INTENT_RANKING_KEY) or [] if i.get("name") != UNSUPPORTED_INTENT]]
        message.set(INTENT, intent, add_to_output=True)
        message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
