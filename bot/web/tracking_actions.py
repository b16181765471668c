"""The tracking page's own changes (issue 16): choose, confirm, done, in plain HTML forms that work without
JavaScript, through the change service like the HTTP API (`bot/web/api_changes.py`).

`GET  /t/<token>/change/<kind>`          the choices the service offers now, or why it can't be done
`POST /t/<token>/change/<kind>`          the chosen change, checked again and shown for confirmation
`POST /t/<token>/change/<kind>/confirm`  the change made; the service tells the customer on their channel

The link's token authorises its one parcel (as for the page itself); a form from another site is refused
(its Origin), a choice the service did not offer is refused before anything is asked or changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from babel.numbers import format_decimal
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy import select

from bot.carriers import TimeWindow
from bot.changes import (
    RETURN_METHODS,
    Asker,
    CarrierDown,
    InstructionsRequest,
    Kind,
    LockerRequest,
    Options,
    Refused,
    Requester,
    RescheduleRequest,
    ReturnRequest,
    make,
    options,
)
from bot.changes import Request as ChangeRequest
from bot.conversation.identity import read_link_token
from bot.core.models import Locker, Shipment
from bot.core.runtime import Runtime
from bot.text import N_, language_of, t, template_texts
from bot.text.timefmt import window as window_text
from bot.web.api_changes import changes_limiter
from bot.web.auth import client_address
from bot.web.deps import RuntimeDep
from bot.web.pages import render
from bot.web.tracking import PAGE_KINDS, invalid_link
from bot.web.tracking_view import PAGE_DASH, action_labels

router = APIRouter()
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
# These pages run no inline script (their data is in data- attributes); styles may be inline (base.html), the map's
# tiles may come from the configured tile server.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: https:; "
       "connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'")
MAX_FIELD = 300  # a note for the driver; longer is refused, not cut
MAX_REASON = 200  # why a return
READ_AT_MOST = 2000  # what is read of any one form field
NOT_OFFERED = N_("That choice is not on offer any more. Please choose again.")
QUESTIONS = {
    Kind.RESCHEDULE: N_("When should we come?"), Kind.LOCKER: N_("Which locker?"),
    Kind.INSTRUCTIONS: N_("What should the driver know?"), Kind.RETURN: N_("What do you want to return?"),
}


@dataclass(frozen=True)
class Visitor:
    """The parcel the link is for, and the language the page speaks."""

    shipment_id: int
    customer_id: int
    tracking_number: str
    language: str
    home: tuple[float, float] | None = None  # the delivery address, for the locker map

    def asker(self) -> Asker:
        return Asker(shipment_id=self.shipment_id, by=Requester.API, customer_id=self.customer_id,
                     language=self.language)


@dataclass
class Choice:
    """What the customer chose, checked against what the service offers; `problem` says why not."""

    request: ChangeRequest | None = None
    summary: list[str] = field(default_factory=list)
    fields: dict[str, str | list[str]] = field(default_factory=dict)
    problem: str | None = None


def _visitor(runtime: Runtime, token: str, lang: str | None) -> Visitor | None:
    settings = runtime.settings
    shipment_id = read_link_token(settings.link_secret, token, max_age_days=settings.link_max_age_days)
    if shipment_id is None:
        return None
    with runtime.sessions() as session:
        shipment = session.get(Shipment, shipment_id)
        if shipment is None:
            return None
        home = (shipment.lat, shipment.lng) if shipment.lat is not None and shipment.lng is not None else None
        return Visitor(shipment.id, shipment.customer_id, shipment.tracking_number,
                       language_of(lang or shipment.customer.locale), home)


def _kind(kind: str) -> Kind | None:
    return next((k for k in PAGE_KINDS if k.value == kind), None)


def _same_origin(request: Request) -> bool:
    """A form posted from this site. Browsers say so in `Sec-Fetch-Site`; the page's no-referrer policy makes
    them send `Origin: null`, so Origin is compared only when it names a site (older browsers, other clients)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    return origin in (None, "null") or urlsplit(origin).netloc == request.headers.get("host", "")


def _window_value(window: TimeWindow) -> str:
    return f"{window.start.isoformat()}|{window.end.isoformat()}"


def _windows(found: Options, windows: list[TimeWindow], lang: str) -> list[dict[str, str]]:
    parcel = found.parcel
    assert parcel is not None
    return [{"value": _window_value(w), "label": window_text(w.start, w.end, parcel.now, parcel.tz, lang, dash=PAGE_DASH)}
            for w in windows]


def _lockers(runtime: Runtime, found: list[Any], lang: str) -> list[dict[str, Any]]:
    """The offered lockers with their places on the map (from our locker table, when we know them)."""
    with runtime.sessions() as session:
        places = {locker.code: (locker.lat, locker.lng) for locker in session.scalars(
            select(Locker).where(Locker.code.in_([o.code for o in found])))}
    return [{"value": o.code, "name": o.name, "address": o.address, "position": places.get(o.code),
             "detail": t(lang, "{km} km away, {free} free", km=format_decimal(o.distance_m / 1000, "0.0", locale=lang),
                       free=o.free)}
            for o in found]


def _form_view(runtime: Runtime, visitor: Visitor, kind: Kind, found: Options) -> dict[str, Any]:
    lang = visitor.language
    refusal = found.refusals.get(kind)
    view: dict[str, Any] = {"why_not": refusal.message if refusal is not None else None,
                            "question": t(lang, QUESTIONS[kind]), "tile_url": runtime.settings.map_tile_url,
                            "tile_attribution": runtime.settings.map_tile_attribution,
                            "home": list(visitor.home) if visitor.home else None}
    if kind == Kind.RESCHEDULE:
        view["windows"] = _windows(found, found.windows, lang)
    elif kind == Kind.LOCKER:
        view["lockers"] = _lockers(runtime, found.lockers, lang)
    elif kind == Kind.RETURN:
        view["items"] = found.return_items
        view["methods"] = [{"value": m, "label": t(lang, RETURN_METHODS[m])} for m in found.return_methods]
        view["return_lockers"] = _lockers(runtime, found.return_lockers, lang)
        view["pickup_windows"] = _windows(found, found.pickup_windows, lang)
    return view


def _text(form: dict[str, Any], name: str) -> str:
    value = form.get(name)
    return " ".join(value[:READ_AT_MOST].split()) if isinstance(value, str) else ""


def _window(value: str, offered: list[TimeWindow]) -> TimeWindow | None:
    return next((w for w in offered if _window_value(w) == value), None)


def _choice(visitor: Visitor, kind: Kind, found: Options, form: dict[str, Any], items: list[str]) -> Choice:
    """The customer's form as a change request, if it chooses only what the service offers now."""
    lang, parcel = visitor.language, found.parcel
    refusal = found.refusals.get(kind)
    if refusal is not None or parcel is None:
        return Choice(problem=refusal.message if refusal is not None else t(lang, NOT_OFFERED))
    who: dict[str, Any] = {"shipment_id": visitor.shipment_id, "by": Requester.API,
                           "customer_id": visitor.customer_id, "language": lang}
    when = lambda w: window_text(w.start, w.end, parcel.now, parcel.tz, lang, dash=PAGE_DASH)  # noqa: E731
    if kind == Kind.RESCHEDULE:
        window = _window(_text(form, "window"), found.windows)
        if window is None:
            return Choice(problem=t(lang, NOT_OFFERED))
        return Choice(RescheduleRequest(**who, window=window), [t(lang, "New window: {window}", window=when(window))],
                      {"window": _window_value(window)})
    if kind == Kind.LOCKER:
        locker = next((o for o in found.lockers if o.code == _text(form, "locker")), None)
        if locker is None:
            return Choice(problem=t(lang, NOT_OFFERED))
        return Choice(LockerRequest(**who, locker_code=locker.code),
                      [t(lang, "Locker: {name}, {address}", name=locker.name, address=locker.address)],
                      {"locker": locker.code})
    if kind == Kind.INSTRUCTIONS:
        note = _text(form, "note")
        if not 3 <= len(note) <= MAX_FIELD:
            return Choice(problem=t(lang, "Please write between 3 and 300 characters for the driver."))
        return Choice(InstructionsRequest(**who, note=note), [t(lang, "Note for the driver: {note}", note=note)],
                      {"note": note})
    return _return_choice(who, lang, found, form, items, when)


def _return_choice(who: dict[str, Any], lang: str, found: Options, form: dict[str, Any], items: list[str],
                   when: Any) -> Choice:
    names = {item["sku"]: item["name"] for item in found.return_items}
    chosen = [sku for sku in dict.fromkeys(items) if sku in names]
    method, reason = _text(form, "method"), _text(form, "reason")
    if not chosen or len(chosen) != len(set(items)) or method not in found.return_methods:
        return Choice(problem=t(lang, NOT_OFFERED))
    if not 0 < len(reason) <= MAX_REASON:
        return Choice(problem=t(lang, "Please tell us in a few words why you are returning it."))
    summary = [t(lang, "Items: {items}", items=", ".join(names[sku] for sku in chosen)),
               t(lang, "How: {method}", method=t(lang, RETURN_METHODS[method])),
               t(lang, "Why: {reason}", reason=reason)]
    fields: dict[str, str | list[str]] = {"items": chosen, "method": method, "reason": reason}
    locker_code, pickup = None, None
    if method == "locker":
        locker = next((o for o in found.return_lockers if o.code == _text(form, "locker")), None)
        if locker is None:
            return Choice(problem=t(lang, NOT_OFFERED))
        locker_code = fields["locker"] = locker.code
        summary.append(t(lang, "Locker: {name}, {address}", name=locker.name, address=locker.address))
    if method == "pickup":
        pickup = _window(_text(form, "pickup"), found.pickup_windows)
        if pickup is None:
            return Choice(problem=t(lang, NOT_OFFERED))
        fields["pickup"] = _window_value(pickup)
        summary.append(t(lang, "Pickup: {window}", window=when(pickup)))
    request = ReturnRequest(**who, items=chosen, reason=reason, method=method, locker_code=locker_code, pickup=pickup)
    return Choice(request, summary, fields)


def _page(visitor: Visitor, token: str, kind: Kind, step: str, *, status_code: int = 200,
          **context: Any) -> Response:
    lang = visitor.language
    response = render("tracking_change.html", status_code=status_code, **template_texts(lang), lang=lang,
                      token=token, kind=kind.value, step=step, title=action_labels(lang)[kind.value],
                      tracking_number=visitor.tracking_number, **context)
    response.headers.update({**NO_STORE, "Content-Security-Policy": CSP})
    return response


def _not_found(request: Request) -> Response:
    return invalid_link(request)  # the friendly page with the lookup form, 404


async def _form_fields(request: Request) -> tuple[dict[str, Any], list[str]]:
    form = await request.form()
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    items = [str(value)[:40] for value in form.getlist("items") if isinstance(value, str)][:50]
    return fields, items


@router.get("/t/{token}/change/{kind}")
async def change_form(token: str, kind: str, request: Request, runtime: RuntimeDep, lang: str | None = None) -> Response:
    visitor = await run_in_threadpool(_visitor, runtime, token, lang)
    change = _kind(kind)
    if visitor is None or change is None:
        return _not_found(request)
    found = await run_in_threadpool(options, runtime, visitor.asker())
    return _page(visitor, token, change, "choose", **_form_view(runtime, visitor, change, found))


async def _checked(token: str, kind: str, request: Request, runtime: Runtime,
                   lang: str | None) -> tuple[Visitor, Kind, Choice, dict[str, Any]] | Response:
    visitor = await run_in_threadpool(_visitor, runtime, token, lang)
    change = _kind(kind)
    if visitor is None or change is None:
        return _not_found(request)
    if not _same_origin(request):
        return Response("cross-site form refused", status_code=403, headers=NO_STORE)
    if not changes_limiter(request).allow(client_address(request)):  # each confirmation may reach the carrier
        return Response("too many requests; try again later", status_code=429, headers={**NO_STORE, "Retry-After": "3600"})
    fields, items = await _form_fields(request)
    found = await run_in_threadpool(options, runtime, visitor.asker())
    return visitor, change, _choice(visitor, change, found, fields, items), _form_view(runtime, visitor, change, found)


@router.post("/t/{token}/change/{kind}")
async def change_confirm(token: str, kind: str, request: Request, runtime: RuntimeDep,
                         lang: str | None = None) -> Response:
    """The chosen change, checked with the service, shown for the customer to confirm (nothing changed yet)."""
    checked = await _checked(token, kind, request, runtime, lang)
    if isinstance(checked, Response):
        return checked
    visitor, change, choice, view = checked
    if choice.request is None:
        return _page(visitor, token, change, "choose", status_code=422, problem=choice.problem, **view)
    return _page(visitor, token, change, "confirm", summary=choice.summary, fields=choice.fields)


@router.post("/t/{token}/change/{kind}/confirm")
async def change_make(token: str, kind: str, request: Request, runtime: RuntimeDep,
                      lang: str | None = None) -> Response:
    """The confirmed change, made by the service; the customer is told on the page and on their channel."""
    checked = await _checked(token, kind, request, runtime, lang)
    if isinstance(checked, Response):
        return checked
    visitor, change, choice, view = checked
    if choice.request is None:
        return _page(visitor, token, change, "choose", status_code=409, problem=choice.problem, **view)
    outcome = await run_in_threadpool(make, runtime, choice.request)
    if isinstance(outcome, Refused):
        return _page(visitor, token, change, "choose", status_code=409, problem=outcome.message, **view)
    if isinstance(outcome, CarrierDown):
        return _page(visitor, token, change, "choose", status_code=503, problem=outcome.message, **view)
    return _page(visitor, token, change, "done", message=outcome.message)
