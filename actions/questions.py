"""The forms' plain questions (texts in actions/texts.py)."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import texts


class Ask(Action):
    """Asks for `slot` with `text` (the form calls `action_ask_<slot>`)."""

    slot = ""
    text = ""

    def name(self) -> str:
        return f"action_ask_{self.slot}"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(text=self.text)
        return []


class AskTrackingNumber(Ask):
    slot, text = "tracking_number", texts.ASK_TRACKING_NUMBER


class AskPostcode(Ask):
    slot, text = "postcode", texts.ASK_POSTCODE


class AskReturnReason(Ask):
    slot, text = "return_reason", texts.ASK_RETURN_REASON
