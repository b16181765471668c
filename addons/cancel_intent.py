""""Never mind" is a no, whatever else the classifier thought: an NLU component (config.yml, after the
classifiers).

A cancel phrase ("never mind, ill be home after all", "laat maar, ik ben toch thuis", "vergiss es")
starts with words the classifier also sees elsewhere ("ik ben" in "ben jij een bot?"), so it can come
out as small talk, and small talk interrupts a change form instead of ending it. When bot/conversation/answers.py
reads the message as a cancel, the intent becomes `deny`: the form's validation then ends the change
("OK, nothing was changed"), and outside a form the stray-no rule answers. Requests that must win
(STOP, a person, a missing parcel) and what the classifier found off-topic ("cancel my pizza order") keep their
intent; a cancel there still ends a change form, whose validation reads the words itself.
"""

from __future__ import annotations

from typing import Any, Dict, List

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.conversation.answers import is_cancel

CANCEL_INTENT = "deny"
KEPT = frozenset({"deny", "opt_out", "opt_in", "talk_to_human", "report_missing", "delivery_complaint", "out_of_scope",
                  "cancel_hold"})  # "cancel my hold" ends a hold, it does not say no


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class CancelIntent(GraphComponent):
    """Sets the intent to `deny` on a cancel phrase, unless the classifier found a request that must win."""

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {}

    @classmethod
    def create(cls, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "CancelIntent":
        return cls()

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            current = (message.get(INTENT) or {}).get("name")
            if text and not text.startswith("/") and current not in KEPT and is_cancel(text):
                intent = {"name": CANCEL_INTENT, "confidence": 1.0}
                ranking = [intent, *[i for i in message.get(INTENT_RANKING_KEY) or [] if i.get("name") != CANCEL_INTENT]]
                message.set(INTENT, intent, add_to_output=True)
                message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        return messages
