"""The web chat page: the rasa-webchat widget talking to Rasa's socket.io channel.

With `?t=<signed shipment link>` the widget passes the token in `customData`, and the bot knows the
parcel without asking; without it, the bot asks for tracking number and postcode.
"""

from __future__ import annotations

from fastapi import APIRouter

from bot.identity import read_link_token
from bot.web.deps import SettingsDep
from bot.web.pages import render

router = APIRouter()


@router.get("/chat")
def chat_page(settings: SettingsDep, t: str | None = None):
    valid = t is not None and read_link_token(settings.link_secret, t, max_age_days=settings.link_max_age_days)
    return render("chat.html", socket_url=settings.rasa_public_url, token=t if valid else None,
                  expired=t is not None and not valid)
