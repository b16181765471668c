"""A carrier's STOP or START is binding, also while an agent has the conversation.

During a handoff the conversation is paused (ConversationPaused): Rasa logs the customer's messages
and runs no action, only `/restart` gets through (`MessageProcessor._should_handle_message`). So a
STOP sent to the agent was never recorded, and the agent's replies and the next notifications still
went out as SMS. Here the opt-out and opt-in that our Twilio channel makes of a carrier keyword
(`/opt_out`, `/opt_in`: addons/twilio_channel.py; a customer's own words never start with "/") get
through as well. The existing rules take them (confirm once and record, or re-subscribe, then
listen: actions/consent.py); the conversation stays paused, so the agent keeps it and the bot says
nothing else. HELP stays with the agent.

The rules predict from a listening state, and a handoff pauses the conversation before Rasa's
`action_listen`: so `action_listen` is logged before such a keyword when it is missing.

Imported from `addons/__init__.py` with the other add-ons, and checked against Rasa's own code and
the trained model by tests/rasa_runtime/keywords_in_handoff_agrees.py.
"""

from __future__ import annotations

from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.processor import MessageProcessor
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from addons import speedups
from addons.twilio_channel import KEYWORDS, SignedTwilioInput

# What the channel makes of STOP, STOPALL, UNSUBSCRIBE, ... and of START, UNSTOP (or of Twilio's
# `OptOutType`): the binding ones. "/help" is not among them.
BINDING = frozenset(text for text in KEYWORDS.values() if text in ("/opt_out", "/opt_in"))


def is_binding_keyword(input_channel: str | None, text: str | None) -> bool:
    """The message is a carrier keyword that opts the customer out or in (only our SMS channel
    writes these texts; every channel strips a customer's leading "/")."""
    return input_channel == SignedTwilioInput.name() and text in BINDING


_should_handle_message = MessageProcessor._should_handle_message


def should_handle_message(tracker: DialogueStateTracker) -> bool:
    """Rasa's rule (not paused, or `/restart`), and a binding keyword even when paused."""
    if _should_handle_message(tracker):
        return True
    latest = tracker.latest_message
    return (isinstance(latest, UserUttered) and is_binding_keyword(latest.input_channel, latest.text)
            and latest.intent.get(INTENT_NAME_KEY) == (latest.text or "")[1:])


_handle_message_with_tracker = MessageProcessor._handle_message_with_tracker


async def handle_message_with_tracker(self: MessageProcessor, message: UserMessage,
                                      tracker: DialogueStateTracker) -> Any:
    """`MessageProcessor._handle_message_with_tracker`; a binding keyword in a paused conversation
    comes after `action_listen`, as every message the bot reads does."""
    if (tracker.is_paused() and is_binding_keyword(message.input_channel, message.text)
            and tracker.latest_action_name != ACTION_LISTEN_NAME):
        tracker.update(ActionExecuted(ACTION_LISTEN_NAME), self.domain)
    return await _handle_message_with_tracker(self, message, tracker)


def install() -> None:
    speedups._replace(MessageProcessor, "_should_handle_message", staticmethod(should_handle_message))
    speedups._replace(MessageProcessor, "_handle_message_with_tracker", handle_message_with_tracker)
