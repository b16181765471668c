"""The profile page, `/t/<signed parcel token>/profile`: see, edit and delete what is saved, with no account.

The parcel's signed link is the key, as for the tracking page: it opens the profile of that parcel's
customer and nobody else's (the form names no customer). A forged or expired link gets 404 and changes
nothing. Every POST carries a form token derived from the link (HMAC with the link secret), so another
site can't post the form. Changes are shown for confirmation first ("Save these for all your parcels?"),
stored only on the second POST, recorded with channel "page", and told on the customer's channel
(`profile_changed`, planned for this parcel). What the driver should know (often a health or access need)
is never shown here: a parcel link gets forwarded. The page says that something is saved, and lets the
holder replace or remove it; an empty field keeps it. Sizes and values are checked by the store: a bad value gets
422 and changes nothing. Every value is shown HTML-escaped (the templates autoescape).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from bot.conversation.identity import read_link_token
from bot.core.models import Locker, Shipment
from bot.core.runtime import Runtime
from bot.notify.replan import request_replan
from bot.profile import By, InvalidValue, Item, Profile, delete_wishes, read, set_item
from bot.profile.store import CHANNELS, LANGUAGES, MAX_DOOR_MINUTES, WEEK, clean
from bot.profile.words import LANGUAGE_NAMES, say_item, stored
from bot.text import N_, best_language, language_of, t, template_texts
from bot.web.api_changes import changes_limiter
from bot.web.auth import client_address
from bot.web.deps import RuntimeDep
from bot.web.pages import render

router = APIRouter()
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
MAX_FIELD = 300
EDITABLE = (Item.SAFE_PLACE, Item.NEIGHBOUR, Item.SUIT_DAYS, Item.NEVER_DAYS, Item.NOT_BEFORE, Item.NOT_AFTER,
            Item.LOCKER, Item.ACCESSIBILITY, Item.DOOR_MINUTES, Item.LANGUAGE, Item.CHANNELS, Item.QUIET_HOURS)


class BadForm(ValueError):
    """The form can't be read (a field too long, a time that is no time)."""


def form_token(secret: str, token: str) -> str:
    """The form's anti-forgery token: only someone holding the parcel link (and our secret) has it."""
    return hmac.new(secret.encode(), b"profile-form:" + token.encode(), hashlib.sha256).hexdigest()[:40]


def _shipment_id(runtime: Runtime, token: str) -> int | None:
    settings = runtime.settings
    return read_link_token(settings.link_secret, token, max_age_days=settings.link_max_age_days)


def _text(form: FormData, name: str) -> str:
    values = form.getlist(name)
    if len(values) > 1:
        raise BadForm(name)
    value = values[0] if values else ""
    if not isinstance(value, str) or len(value) > MAX_FIELD:
        raise BadForm(name)
    return value.strip()


def _many(form: FormData, name: str, allowed: tuple[str, ...]) -> list[str]:
    values = form.getlist(name)
    if len(values) > len(allowed) or any(not isinstance(v, str) or v not in allowed for v in values):
        raise BadForm(name)
    return [str(v) for v in values]


def _clock(value: str) -> int | None:
    if not value:
        return None
    hours, _, minutes = value.partition(":")
    if not (hours.isascii() and hours.isdigit() and len(hours) <= 2 and (not minutes or (minutes.isascii()
            and minutes.isdigit() and len(minutes) == 2))):
        raise BadForm("time")
    return int(hours) * 60 + int(minutes or 0)


def _hour(value: str) -> int:
    if not (value.isascii() and value.isdigit() and len(value) <= 2):
        raise BadForm("hour")
    return int(value)


def _accessibility(form: FormData) -> dict[Item, Any]:
    """The driver's note as asked: new text, removed (the box ticked), or not at all (kept as saved)."""
    text = _text(form, "accessibility")
    if text:
        return {Item.ACCESSIBILITY: text}
    return {Item.ACCESSIBILITY: None} if _many(form, "accessibility_clear", ("yes",)) else {}


def wanted(form: FormData) -> dict[Item, Any]:
    """Every editable item as the form asks for it (None: empty); `BadForm` when it can't be read."""
    door = _text(form, "door_minutes") or "0"
    if not (door.isascii() and door.isdigit() and len(door) <= 2):
        raise BadForm("door_minutes")
    return {
        Item.SAFE_PLACE: _text(form, "safe_place") or None,
        Item.NEIGHBOUR: _text(form, "neighbour") or None,
        Item.SUIT_DAYS: _many(form, "suit_days", WEEK) or None,
        Item.NEVER_DAYS: _many(form, "never_days", WEEK) or None,
        Item.NOT_BEFORE: _clock(_text(form, "not_before")),
        Item.NOT_AFTER: _clock(_text(form, "not_after")),
        Item.LOCKER: _text(form, "locker") or None,
        **_accessibility(form),
        Item.DOOR_MINUTES: int(door) or None,
        Item.LANGUAGE: _text(form, "language") or "en",
        Item.CHANNELS: _many(form, "channels", CHANNELS) or None,
        Item.QUIET_HOURS: [_hour(_text(form, "quiet_start") or "21"), _hour(_text(form, "quiet_end") or "8")],
    }


def _now_value(profile: Profile, item: Item) -> Any:
    value = profile.value(item)
    value = list(value) if isinstance(value, tuple) else value
    return value if value not in ((), [], 0, "") else None


def changes(session: Session, profile: Profile, asked: dict[Item, Any]) -> dict[Item, Any]:
    """The items that differ from what is stored, each checked by the store (`InvalidValue` if one is bad)."""
    found = {}
    for item, value in asked.items():
        new = clean(session, item, value) if value is not None else None
        if item == Item.CHANNELS and new is None:
            raise InvalidValue("channels: at least one")
        # a typed driver's note always counts as a change: "nothing changed" would confirm a guess of the hidden one
        if new != _now_value(profile, item) or (item == Item.ACCESSIBILITY and new is not None):
            found[item] = new
    return found


def _lockers(session: Session) -> dict[str, str]:
    return {code: name for code, name in session.execute(select(Locker.code, Locker.name).order_by(Locker.name))}


LABELS = {
    Item.SAFE_PLACE: N_("Safe place"), Item.NEIGHBOUR: N_("Neighbour"), Item.SUIT_DAYS: N_("Days that suit"),
    Item.NEVER_DAYS: N_("Days that never suit"), Item.NOT_BEFORE: N_("Never before"), Item.NOT_AFTER: N_("Never after"),
    Item.LOCKER: N_("Preferred locker"), Item.ACCESSIBILITY: N_("What the driver should know"),
    Item.DOOR_MINUTES: N_("Extra minutes at the door"), Item.LANGUAGE: N_("Language"), Item.CHANNELS: N_("Messages by"),
    Item.QUIET_HOURS: N_("Quiet hours"),
}


def _described(language: str, items: dict[Item, Any], lockers: dict[str, str]) -> list[str]:
    return [say_item(language, item, value, lockers) if value is not None
            else t(language, "remove: {what}", what=t(language, LABELS[item])) for item, value in items.items()]


def _page(request: Request, runtime: Runtime, token: str, shipment_id: int, *, lang: str | None, status: int = 200,
          step: str = "edit", asked: dict[Item, Any] | None = None, error: str | None = None,
          done: str | None = None) -> Response:
    with runtime.sessions() as session:
        shipment = session.get(Shipment, shipment_id)
        if shipment is None:
            return _invalid(request)
        profile = read(session, shipment.customer_id)
        assert profile is not None
        lockers = _lockers(session)
        language = language_of(lang or profile.language)
        pending: dict[Item, Any] = {}
        if asked is not None and step == "review":
            pending = changes(session, profile, asked)
    shown = asked or {item: _now_value(profile, item) for item in EDITABLE if item != Item.ACCESSIBILITY}
    response = render(
        "profile.html", status_code=status, **template_texts(language), lang=language, token=token,
        form_token=form_token(runtime.settings.link_secret, token), step=step, error=error, done=done,
        saved=[say_item(language, Item(item), value, lockers) if item != Item.ACCESSIBILITY.value
               else t(language, "What the driver should know: saved (not shown on this page)")
               for item, value in stored(profile).items()],
        accessibility_saved=_now_value(profile, Item.ACCESSIBILITY) is not None,
        accessibility_clear=asked is not None and Item.ACCESSIBILITY in asked and asked[Item.ACCESSIBILITY] is None,
        pending=_described(language, pending, lockers), form=_form_values(shown), week=_week(language),
        lockers=lockers, languages={code: t(language, LANGUAGE_NAMES[code]) for code in LANGUAGES},
        labels={item.value: t(language, LABELS[item]) for item in EDITABLE}, door_choices=range(0, MAX_DOOR_MINUTES + 1, 5),
        hours=[(hour, f"{hour:02d}:00") for hour in range(24)], tracking_number=shipment.tracking_number,
    )
    response.headers.update(NO_STORE)
    return response


def _week(language: str) -> list[tuple[str, str]]:
    from babel.dates import get_day_names

    names = get_day_names("wide", locale=language)
    return [(day, names[index]) for index, day in enumerate(WEEK)]


def _form_values(values: dict[Item, Any]) -> dict[str, Any]:
    def clock(minutes: int | None) -> str:
        return f"{minutes // 60:02d}:{minutes % 60:02d}" if minutes is not None else ""

    quiet = values.get(Item.QUIET_HOURS) or [21, 8]
    return {
        "safe_place": values.get(Item.SAFE_PLACE) or "", "neighbour": values.get(Item.NEIGHBOUR) or "",
        "suit_days": values.get(Item.SUIT_DAYS) or [], "never_days": values.get(Item.NEVER_DAYS) or [],
        "not_before": clock(values.get(Item.NOT_BEFORE)), "not_after": clock(values.get(Item.NOT_AFTER)),
        "locker": values.get(Item.LOCKER) or "", "accessibility": values.get(Item.ACCESSIBILITY) or "",
        "door_minutes": values.get(Item.DOOR_MINUTES) or 0, "language": values.get(Item.LANGUAGE) or "en",
        "channels": values.get(Item.CHANNELS) or [], "quiet_start": quiet[0], "quiet_end": quiet[1],
    }


def _invalid(request: Request, status: int = 404) -> Response:
    locale = best_language(request.headers.get("accept-language"))
    response = render("tracking_invalid.html", status_code=status, **template_texts(locale), lang=locale,
                      unavailable=False, message=None, number="")
    response.headers.update(NO_STORE)
    return response


@router.get("/t/{token}/profile")
def profile_page(token: str, request: Request, runtime: RuntimeDep, lang: str | None = None,
                 done: str | None = None) -> Response:
    shipment_id = _shipment_id(runtime, token)
    if shipment_id is None:
        return _invalid(request)
    return _page(request, runtime, token, shipment_id, lang=lang, done=done if done in ("saved", "deleted") else None)


def _store(runtime: Runtime, shipment_id: int, asked: dict[Item, Any] | None) -> int:
    """Save the changes (or delete the wishes, `asked` None) for the parcel's customer; the count changed."""
    with runtime.sessions() as session, session.begin():
        shipment = session.get(Shipment, shipment_id)
        assert shipment is not None
        customer_id = shipment.customer_id
        who: dict[str, Any] = {"customer_id": customer_id, "by": By.CUSTOMER, "channel": "page", "shipment_id": shipment_id}
        if asked is None:
            count = delete_wishes(session, **who)
        else:
            profile = read(session, customer_id)
            assert profile is not None
            found = changes(session, profile, asked)
            count = sum(set_item(session, item=item, value=value, **who) for item, value in found.items())
        if count:
            request_replan(session, shipment_id, "profile changed on the page")
        return count


@router.post("/t/{token}/profile")
async def profile_post(token: str, request: Request, runtime: RuntimeDep, lang: str | None = None) -> Response:
    shipment_id = _shipment_id(runtime, token)
    if shipment_id is None:
        return _invalid(request)
    if not changes_limiter(request).allow(client_address(request)):  # a saved change is told on the customer's channel
        return Response("too many requests; try again later", status_code=429, headers={**NO_STORE, "Retry-After": "3600"})
    form = await request.form()
    sent = form.get("form_token")
    if not isinstance(sent, str) or not hmac.compare_digest(sent, form_token(runtime.settings.link_secret, token)):
        return _invalid(request, 403)
    step = form.get("step")
    if step in ("delete_review", "delete"):
        if step == "delete_review":
            return await run_in_threadpool(_page, request, runtime, token, shipment_id, lang=lang, step="delete_review")
        await run_in_threadpool(_store, runtime, shipment_id, None)
        return RedirectResponse(f"/t/{token}/profile?done=deleted" + (f"&lang={language_of(lang)}" if lang else ""),
                                status_code=303, headers=NO_STORE)
    if step not in ("review", "save"):
        return _invalid(request, 400)
    try:
        asked = wanted(form)
        if step == "review":
            return await run_in_threadpool(_page, request, runtime, token, shipment_id, lang=lang, step="review",
                                           asked=asked)
        await run_in_threadpool(_store, runtime, shipment_id, asked)
    except (BadForm, InvalidValue):
        language = language_of(lang)
        message = t(language, "Some entries can't be saved (too long, or not a time or day we know). Nothing was "
                              "changed.")
        return await run_in_threadpool(_page, request, runtime, token, shipment_id, lang=lang, status=422,
                                       error=message)
    return RedirectResponse(f"/t/{token}/profile?done=saved" + (f"&lang={language_of(lang)}" if lang else ""),
                            status_code=303, headers=NO_STORE)

