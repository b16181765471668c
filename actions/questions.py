"""A form's question asked by an action (texts in actions/texts.py).

Plain questions that need nothing from the database (the tracking number, the postcode, the return
reason) are domain responses (`utter_ask_<slot>`): Rasa says them itself, without a call to the
action server. An action asks only where it must check something first (see the change flows, e.g.
actions/reschedule.py).
"""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.language import reply_language
from bot.text import t


class Ask(Action):
    """Asks for `slot` with `text` (the form calls `action_ask_<slot>`)."""

    slot = ""
    text = ""

    def name(self) -> str:
        return f"action_ask_{self.slot}"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(text=t(reply_language(tracker), self.text))
        return []
