"""The tracking page behind the link in every message: `/t/<signed shipment token>`."""

from __future__ import annotations

from fastapi import APIRouter

from bot.carriers import CarrierError
from bot.clock import sim_now
from bot.identity import read_link_token
from bot.models import Shipment
from bot.status_text import describe
from bot.web.deps import RuntimeDep, SessionDep
from bot.web.pages import render

router = APIRouter()


@router.get("/t/{token}")
def tracking_page(token: str, runtime: RuntimeDep, session: SessionDep):  # type: ignore[no-untyped-def]
    settings = runtime.settings
    shipment_id = read_link_token(settings.link_secret, token, max_age_days=settings.link_max_age_days)
    shipment = session.get(Shipment, shipment_id) if shipment_id is not None else None
    if shipment is None:
        return render("tracking_invalid.html", status_code=404)
    try:
        info = runtime.carrier(shipment.carrier).track(shipment.tracking_number)
    except CarrierError:
        return render("tracking_invalid.html", status_code=503, unavailable=True)
    now = sim_now(session)
    summary = describe(shipment, info, now=now, tz=shipment.customer.time_zone, link="").removesuffix(" Track: ")
    events = [e for e in shipment.events if e.applied]
    return render("tracking.html", shipment=shipment, info=info, summary=summary, events=events,
                  tz=shipment.customer.time_zone, token=token)
