"""Pretrained word features for the NLU: WordLlama's 256-dimensional token embeddings.

The weights and the tokenizer ship inside the `wordllama` wheel (MIT), so nothing is downloaded at run
time. WordLlama's own loader needs pydantic 2 and numpy 2, which Rasa 3.6 cannot have, so the package
is installed without its dependencies and its two files are read here with `safetensors` and
`tokenizers` (the package's loader also looks for the tokenizer in a folder the wheel does not have).

Each Rasa token gets the mean of its sub-word embeddings; the sentence feature is the normalised mean
of all sub-words, scaled so that it weighs against the sparse count features in a linear classifier.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

CONFIG = "l2_supercat"


def wordllama_files() -> tuple[Path, Path]:
    """The weights and tokenizer files inside the installed wheel."""
    import importlib.util

    spec = importlib.util.find_spec("wordllama")
    if spec is None or spec.origin is None:
        raise RuntimeError("the NLU pipeline needs the wordllama package: make setup installs it")
    root = Path(spec.origin).parent
    return root / "weights" / f"{CONFIG}_256.safetensors", root / "tokenizers" / f"{CONFIG}_tokenizer_config.json"


class Embeddings:
    """Token embeddings and their tokenizer, loaded once per process."""

    _loaded: Embeddings | None = None

    def __init__(self) -> None:
        from safetensors import safe_open
        from tokenizers import Tokenizer

        weights, tokenizer = wordllama_files()
        with safe_open(str(weights), framework="np") as handle:
            self.table = handle.get_tensor("embedding.weight").astype(np.float32)
        self.tokenizer = Tokenizer.from_file(str(tokenizer))

    @classmethod
    def shared(cls) -> Embeddings:
        if cls._loaded is None:
            cls._loaded = cls()
        return cls._loaded

    def ids(self, text: str) -> list[int]:
        return [i for i in self.tokenizer.encode(text, add_special_tokens=False).ids if i < len(self.table)]

    def mean(self, text: str) -> np.ndarray:
        ids = self.ids(text)
        if not ids:
            return np.zeros(self.table.shape[1], dtype=np.float32)
        vector = self.table[ids].mean(axis=0)
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm else vector


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class WordLlamaFeaturizer(DenseFeaturizer, GraphComponent):
    """Dense sequence and sentence features for the message text."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**DenseFeaturizer.get_default_config(), "scale": 1.0}

    @staticmethod
    def required_packages() -> list[str]:
        return ["wordllama", "tokenizers", "safetensors"]

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> WordLlamaFeaturizer:
        return cls(config, execution_context.node_name)

    def __init__(self, config: dict[str, Any], name: str) -> None:
        super().__init__(name, config)
        self.embeddings = Embeddings.shared()
        self.scale = float(config.get("scale", 1.0))

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._featurize(message)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for message in training_data.training_examples:
            self._featurize(message)
        return training_data

    def _featurize(self, message: Message) -> None:
        tokens = message.get(TOKENS_NAMES[TEXT])
        text = message.get(TEXT)
        if not tokens or not text:
            return
        sequence = np.stack([self.embeddings.mean(token.text) for token in tokens]) * self.scale
        sentence = self.embeddings.mean(text)[np.newaxis, :] * self.scale
        self.add_features_to_message(sequence=sequence, sentence=sentence, attribute=TEXT, message=message)

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        if float(config.get("scale", 1.0)) <= 0:
            raise ValueError("WordLlamaFeaturizer: scale must be positive")
