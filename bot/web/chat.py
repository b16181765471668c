"""The web chat page: the rasa-webchat widget talking to Rasa's socket.io channel.

With `?t=<signed shipment link>` the widget passes the token in `customData`, and the bot knows the
parcel without asking; without it, the bot asks for tracking number and postcode.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from bot.conversation.identity import read_link_token
from bot.text import best_language, template_texts
from bot.web.deps import SettingsDep
from bot.web.pages import render

router = APIRouter()


@router.get("/chat")
def chat_page(request: Request, settings: SettingsDep, t: str | None = None):
    valid = t is not None and read_link_token(settings.link_secret, t, max_age_days=settings.link_max_age_days)
    language = best_language(request.headers.get("accept-language"))
    return render("chat.html", socket_url=settings.rasa_public_url, token=t if valid else None,
                  expired=t is not None and not valid, lang=language, **template_texts(language))
