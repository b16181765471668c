"""The language the bot answers in: the conversation's `language` slot (set at session start from the
customer's locale or the web page, and per message by language identification in Rasa)."""

from __future__ import annotations

from rasa_sdk import Tracker

from bot.text import language_of


def reply_language(tracker: Tracker) -> str:
    """'en', 'de' or 'nl' (English when the slot is unset or holds anything else)."""
    return language_of(tracker.get_slot("language"))
