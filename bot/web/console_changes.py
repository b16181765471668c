"""Changes an agent makes for a customer from the console, through the same carrier calls the bot makes
(the carrier checks and commits each in one transaction) and the same re-planning of messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.carriers import CarrierError, ChangeRefused
from bot.carriers.models import Capability, TimeWindow
from bot.clock import sim_now
from bot.db import transaction
from bot.models import Shipment
from bot.notify import replan_after_change
from bot.runtime import Runtime
from bot.text import language_of, t
from bot.timefmt import window as window_text

KINDS = {"reschedule": Capability.RESCHEDULE, "locker": Capability.REDIRECT, "return": Capability.RETURNS}


class ChangeFailed(RuntimeError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Done:
    kind: str
    message: str  # what the customer is told, in their language
    detail: dict[str, Any] = field(default_factory=dict)


def _encode(window: TimeWindow) -> str:
    return f"{window.start.isoformat()}|{window.end.isoformat()}"


def _decode(value: str) -> TimeWindow:
    try:
        start, end = value.split("|")
        return TimeWindow(datetime.fromisoformat(start), datetime.fromisoformat(end))
    except ValueError:
        raise ChangeFailed("not a window") from None


def change_options(runtime: Runtime, shipment_id: int) -> dict[str, Any]:
    """What the console offers for this parcel right now; each part empty when the carrier refuses it."""
    with runtime.sessions() as session:
        shipment = session.get(Shipment, shipment_id)
        assert shipment is not None
        now, tz, number = sim_now(session), shipment.customer.time_zone, shipment.tracking_number
        returnable = [i for i in shipment.items or [] if i.get("returnable")]
        carrier = runtime.carrier(shipment.carrier)
    options: dict[str, Any] = {"windows": [], "lockers": [], "items": [], "notes": []}
    try:
        if Capability.RESCHEDULE in carrier.capabilities:
            options["windows"] = [{"value": _encode(w), "label": window_text(w.start, w.end, now, tz, "en", dash="–")}
                                  for w in carrier.available_windows(number)[:12]]
    except (ChangeRefused, CarrierError) as exc:
        options["notes"].append(f"reschedule: {getattr(exc, 'reason', None) or exc}")
    try:
        if Capability.REDIRECT in carrier.capabilities:
            options["lockers"] = [{"value": o.code, "label": f"{o.name} ({o.distance_m / 1000:.1f} km, {o.free} free)"}
                                  for o in carrier.nearby_lockers(number)]
    except CarrierError as exc:
        options["notes"].append(f"lockers: {exc}")
    if Capability.RETURNS in carrier.capabilities:
        options["items"] = [{"value": i["sku"], "label": i["name"]} for i in returnable]
    return options


def make_change(runtime: Runtime, shipment_id: int, form: dict[str, str], items: list[str], locale: str) -> Done:
    kind = form.get("kind", "")
    if kind not in KINDS:
        raise ChangeFailed("unknown change")
    with runtime.sessions() as session:
        shipment = session.get(Shipment, shipment_id)
        assert shipment is not None
        number, short, tz, now = (shipment.tracking_number, shipment.tracking_number[-4:],
                                  shipment.customer.time_zone, sim_now(session))
        carrier = runtime.carrier(shipment.carrier)
    if KINDS[kind] not in carrier.capabilities:
        raise ChangeFailed("this carrier doesn't offer that")
    lang = language_of(locale)
    try:
        if kind == "reschedule":
            window = carrier.reschedule(number, _decode(form.get("window", "")))
            when = window_text(window.start, window.end, now, tz, lang)
            done = Done(kind, t(lang, "Done: parcel …{short} now comes {window}.", short=short, window=when),
                        {"start": window.start.isoformat()})
        elif kind == "locker":
            locker = carrier.redirect_to_locker(number, form.get("locker", ""))
            done = Done(kind, t(lang, "Done: parcel …{short} goes to the {locker} locker ({address}). You'll get the "
                                "pickup code when it's there.", short=short, locker=locker.name, address=locker.address),
                        {"locker": locker.code})
        else:
            method = form.get("method", "label")
            label = carrier.create_return(number, items=items, reason=form.get("reason", "")[:200] or "agent",
                                          method=method, locker_code=form.get("locker") if method == "locker" else None)
            how = t(lang, "At the {locker} locker, scan code {code} and put the parcel in.", locker=label.locker_name,
                    code=label.label_code) if method == "locker" \
                else t(lang, "The label ({code}) is on its way to your email.", code=label.label_code)
            done = Done(kind, t(lang, "Return {rma} booked. {how}", rma=label.rma, how=how),
                        {"rma": label.rma, "method": method})
    except ChangeRefused as refused:
        raise ChangeFailed(refused.code.value) from None
    except CarrierError as exc:
        raise ChangeFailed(f"carrier error: {exc}") from None
    if kind != "return":
        with transaction(runtime.sessions) as session:
            replan_after_change(session, shipment_id=shipment_id, change=kind)
    return done
