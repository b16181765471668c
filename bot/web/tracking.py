"""The tracking page behind the link in every message: `/t/<signed shipment token>`.

`/t/<token>/live` answers the same facts as JSON for the page to poll (authorised by the same token).
A bad or expired token gets a friendly page with a lookup by tracking number + postcode, which answers
the same for an unknown number and a wrong postcode and is rate-limited per client address.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.aftercare.proof import PHOTO_TYPES, photo_bytes, proof_of, proof_view
from bot.aftercare.proof_media import read_media_token
from bot.carriers import CarrierError
from bot.changes import Asker, Kind, Requester, check
from bot.conversation.identity import (
    make_link_token,
    normalise_postcode,
    normalise_tracking_number,
    read_link_token,
)
from bot.conversation.verify_limits import VerifyPolicy, address_client, verify
from bot.core.models import Depot, Shipment
from bot.core.runtime import Runtime
from bot.text import best_language, language_of, pt, t, template_texts
from bot.web.deps import RuntimeDep, SessionDep
from bot.web.pages import render
from bot.web.proofmap import photo_img, pin_map, pin_map_svg
from bot.web.ratelimit import Limiter, app_limits
from bot.web.tracking_view import action_labels, live_view

router = APIRouter()
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
PHOTO_HEADERS = {"Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff",
                 "Referrer-Policy": "no-referrer", "Content-Security-Policy": "default-src 'none'"}
PAGE_KINDS = (Kind.RESCHEDULE, Kind.LOCKER, Kind.INSTRUCTIONS, Kind.RETURN)  # the changes the page makes itself
TOPICS = {"person": "/talk_to_human"}  # what the chat is opened on from the page


def _shipment(runtime: Runtime, session: Session, token: str) -> Shipment | None:
    settings = runtime.settings
    shipment_id = read_link_token(settings.link_secret, token, max_age_days=settings.link_max_age_days)
    return session.get(Shipment, shipment_id) if shipment_id is not None else None


def _view(runtime: Runtime, session: Session, shipment: Shipment, locale: str, token: str) -> dict[str, Any]:
    info = runtime.carrier(shipment.carrier).track(shipment.tracking_number)
    depot = session.scalar(select(Depot).order_by(Depot.id))
    now = runtime.clock.now()
    proof = proof_of(session, shipment.id)
    delivery = proof_view(proof, locale, shipment.customer.time_zone, now) if proof is not None else None
    photo = f"/t/{token}/proof.{delivery.photo_format}" if delivery is not None and delivery.has_photo else None
    view = live_view(shipment, info, now=now, locale=locale, depot=depot, delivery=delivery, photo_url=photo)
    view["actions"], view["why_not"] = possible_changes(runtime, shipment, locale)
    return view


def possible_changes(runtime: Runtime, shipment: Shipment, locale: str) -> tuple[dict[str, bool], dict[str, str]]:
    """What the page offers: the change service's own check for each of its changes, and why not in words."""
    asker = Asker(shipment_id=shipment.id, by=Requester.API, customer_id=shipment.customer_id,
                  language=language_of(locale))
    refusals = {kind.value: check(runtime, kind, asker) for kind in PAGE_KINDS}
    return ({kind: refusal is None for kind, refusal in refusals.items()},
            {kind: refusal.message for kind, refusal in refusals.items() if refusal is not None})


def _invalid(request: Request, *, status_code: int, unavailable: bool = False, message: str | None = None,
             number: str = ""):
    locale = best_language(request.headers.get("accept-language"))
    response = render("tracking_invalid.html", status_code=status_code, **template_texts(locale), lang=locale,
                      unavailable=unavailable, message=message, number=number)
    response.headers.update(NO_STORE)
    return response


def invalid_link(request: Request) -> Response:
    """The friendly page for a link that is not (or no longer) valid, with the lookup form: 404."""
    return _invalid(request, status_code=404)


def _limiter(request: Request) -> Limiter:
    state = request.app.state
    if not hasattr(state, "lookup_limiter"):
        state.lookup_limiter = app_limits(state).limiter("lookup", state.runtime.settings.lookup_attempts_per_hour,
                                                         3600)
    limiter: Limiter = state.lookup_limiter
    return limiter


@router.get("/t/{token}")
def tracking_page(token: str, request: Request, runtime: RuntimeDep, session: SessionDep,
                  lang: str | None = None):
    shipment = _shipment(runtime, session, token)
    if shipment is None:
        return _invalid(request, status_code=404)
    locale = language_of(lang or shipment.customer.locale)
    try:
        view = _view(runtime, session, shipment, locale, token)
    except CarrierError:
        return _invalid(request, status_code=503, unavailable=True)
    settings = runtime.settings
    pins = (view["proof"] or {}).get("map") or pin_map((shipment.lat, shipment.lng), None)
    proof_map = pin_map_svg(pins, title=t(locale, "Where it was left, against your address"),
                            address_label=t(locale, "Your address"), drop_label=pt(locale, "map pin", "Where it was left"))
    response = render(
        "tracking.html", **template_texts(locale), lang=locale, action_labels=action_labels(locale),
        shipment=shipment, view=view, token=token,
        socket_url=settings.rasa_public_url, tile_url=settings.map_tile_url,
        tile_attribution=settings.map_tile_attribution, topics=TOPICS, proof_map=proof_map,
        proof_photo=photo_img((view["proof"] or {}).get("photo"), alt=t(locale, "The driver's photo of where the parcel was left")),
    )
    response.headers.update({**NO_STORE, "Content-Security-Policy": page_policy(settings.rasa_public_url)})
    return response


def page_policy(chat_url: str) -> str:
    """The page's Content-Security-Policy: scripts only from this site (no inline script: the page's data is a
    JSON block), the chat's socket.io at Rasa's public address, map tiles from the configured tile server."""
    parts = urlsplit(chat_url)
    socket = f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}"
    return (f"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob: https:; "
            f"connect-src 'self' {parts.scheme}://{parts.netloc} {socket}; font-src 'self' data:; form-action 'self'; "
            "base-uri 'none'; object-src 'none'; frame-ancestors 'none'")


@router.get("/t/{token}/live")
def tracking_live(token: str, runtime: RuntimeDep, session: SessionDep, lang: str | None = None) -> JSONResponse:
    shipment = _shipment(runtime, session, token)
    if shipment is None:
        return JSONResponse({"detail": "link not valid"}, status_code=404, headers=NO_STORE)
    try:
        view = _view(runtime, session, shipment, language_of(lang or shipment.customer.locale), token)
    except CarrierError:
        return JSONResponse({"detail": "tracking unavailable"}, status_code=503, headers=NO_STORE)
    return JSONResponse(view, headers=NO_STORE)


@router.get("/t/{token}/proof.{fmt}")
def proof_photo(token: str, fmt: str, runtime: RuntimeDep, session: SessionDep) -> Response:
    """The driver's photo, only through the parcel's own valid link; anything else is a 404 without it."""
    shipment = _shipment(runtime, session, token)
    proof = proof_of(session, shipment.id) if shipment is not None else None
    picture = photo_bytes(proof.photo, proof.photo_format) if proof is not None and proof.photo_format == fmt else None
    if picture is None or fmt not in PHOTO_TYPES:
        return JSONResponse({"detail": "not found"}, status_code=404, headers=NO_STORE)
    return Response(picture, media_type=PHOTO_TYPES[fmt], headers=PHOTO_HEADERS)


@router.get("/m/{token}/proof.{fmt}")
def proof_media(token: str, fmt: str, runtime: RuntimeDep, session: SessionDep) -> Response:
    """The photo sent with a message (WhatsApp, MMS): a signed link that works for an hour, this photo only."""
    shipment_id = read_media_token(runtime.settings.link_secret, token)
    proof = proof_of(session, shipment_id) if shipment_id is not None else None
    picture = photo_bytes(proof.photo, proof.photo_format) if proof is not None and proof.photo_format == fmt else None
    if picture is None or fmt not in PHOTO_TYPES:
        return JSONResponse({"detail": "not found"}, status_code=404, headers=NO_STORE)
    return Response(picture, media_type=PHOTO_TYPES[fmt], headers=PHOTO_HEADERS)


@router.post("/t/lookup")
async def tracking_lookup(
    request: Request, runtime: RuntimeDep,
    tracking_number: Annotated[str, Form(max_length=40)] = "", postcode: Annotated[str, Form(max_length=12)] = "",
):
    locale = best_language(request.headers.get("accept-language"))
    client = request.client.host if request.client else "unknown"
    if not _limiter(request).allow(client):
        return _invalid(request, status_code=429, message=t(locale, "Too many attempts. Please wait a while and try again."))
    number, code = normalise_tracking_number(tracking_number), normalise_postcode(postcode)

    def find() -> int | None:
        if number is None or code is None:
            return None
        now = runtime.clock.now()
        with runtime.sessions() as session, session.begin():  # the bot's limits too (bot/conversation/verify_limits.py)
            shipment = verify(session, tracking_number=number, postcode=code, clients=[address_client(client) or client],
                              now=now, policy=VerifyPolicy.from_settings(runtime.settings))
            return shipment.id if shipment is not None else None

    shipment_id = await run_in_threadpool(find)
    if shipment_id is None:  # one answer for unknown number, wrong postcode and bad format
        return _invalid(request, status_code=200, message=t(locale, "We couldn't find a parcel with that tracking number "
                                                           "and postcode. Check both and try again."), number=number or "")
    token = make_link_token(runtime.settings.link_secret, shipment_id)
    return RedirectResponse(f"/t/{token}", status_code=303, headers=NO_STORE)
