"""Away from home (issue 16, item 2): the hold service (`bot.changes.hold`) and what the rest of Doorstep calls.

`on_new_parcel` is for the new-parcel intake: a parcel of a customer who is away, due during their hold, gets
the same treatment as the parcels the customer confirmed (the first window after the hold, or the hold's
locker). The customer hears of it through the parcel's usual messages, which the change re-plans.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from bot.changes.common import Requester
from bot.changes.hold import (
    HoldDone,
    HoldMode,
    HoldPlan,
    HoldRequest,
    ParcelPlan,
    active_holds,
    apply_plan,
    cancel,
    claim,
    covers,
    current_hold,
    make,
    plan,
    plan_parcel,
    preferred_locker,
    settle,
)
from bot.core.models import HoldParcel, Locker, Shipment
from bot.core.runtime import Runtime

__all__ = ["HoldDone", "HoldMode", "HoldPlan", "HoldRequest", "ParcelPlan", "cancel", "current_hold", "make",
           "on_new_parcel", "plan", "preferred_locker"]

log = logging.getLogger(__name__)


def on_new_parcel(runtime: Runtime, shipment_id: int) -> None:
    """Give a parcel that arrived during a hold the hold's treatment, once. Nothing if no hold covers it."""
    now = runtime.clock.now()
    with runtime.sessions() as session:
        shipment = session.get(Shipment, shipment_id)
        if shipment is None:
            return
        customer = shipment.customer
        hold = next((h for h in reversed(active_holds(session, customer.id, now=now))
                     if covers(shipment, starts_on=h.starts_on, ends_on=h.ends_on, tz=customer.time_zone)), None)
        if hold is None:
            return
        if session.scalar(select(HoldParcel.id).where(HoldParcel.hold_id == hold.id,
                                                      HoldParcel.shipment_id == shipment_id)) is not None:
            return  # in this hold already
        locker = session.get(Locker, hold.locker_id) if hold.locker_id is not None else None
        request = HoldRequest(customer_id=customer.id, by=Requester.CUSTOMER, starts_on=hold.starts_on,
                              ends_on=hold.ends_on, mode=HoldMode(hold.mode), language=hold.language,
                              channel=hold.channel)
        hold_id, ref, tz = hold.id, shipment.tracking_number[-4:], customer.time_zone
        locker_code = locker.code if locker is not None else None
    planned = plan_parcel(runtime, request, shipment_id, ref, tz, locker_code)
    row_id = claim(runtime, hold_id, planned, new=True)
    if row_id is None:
        return  # another worker took it first
    changed, outcome = apply_plan(runtime, request, planned, tz)
    settle(runtime, row_id, changed, outcome)
    log.info("hold %s: new parcel %s -> %s", hold_id, shipment_id, type(outcome).__name__)
