"""The demo world as data: what `python -m bot demo --json` and `/api/demo` print."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.core.models import Customer, Handoff, Return, Shipment


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def demo_report(session: Session, now: datetime) -> dict[str, Any]:
    customers = session.scalars(
        select(Customer).options(selectinload(Customer.consents), selectinload(Customer.shipments))
        .order_by(Customer.id)
    ).all()
    open_handoffs = {h.customer_id for h in session.scalars(select(Handoff).where(Handoff.status != "closed"))}
    returns: dict[int, list[Return]] = {}
    for ret in session.scalars(select(Return)):
        returns.setdefault(ret.shipment_id, []).append(ret)
    shipments = session.scalars(select(Shipment).options(selectinload(Shipment.locker)).order_by(Shipment.id)).all()
    by_customer = {c.id: c for c in customers}
    return {
        "sim_now": now.isoformat(),
        "customers": [
            {
                "id": c.id, "name": c.name, "phone": c.phone, "email": c.email, "locale": c.locale,
                "time_zone": c.time_zone,
                "opted_out": sorted(k.channel for k in c.consents if k.opted_out),
                "open_handoff": c.id in open_handoffs,
                "tracking_numbers": [s.tracking_number for s in c.shipments],
            }
            for c in customers
        ],
        "shipments": [
            {
                "tracking_number": s.tracking_number, "customer_id": s.customer_id,
                "customer_phone": by_customer[s.customer_id].phone,
                "customer_email": by_customer[s.customer_id].email,
                "postcode": s.postcode, "status": s.status,
                "eta_start": _iso(s.eta_start), "eta_end": _iso(s.eta_end),
                "promised_start": _iso(s.promised_start), "promised_end": _iso(s.promised_end),
                "locker": s.locker.code if s.locker else None, "instructions": s.instructions,
                "items": [i["sku"] for i in s.items],
                "return_eligible_until": _iso(s.return_until),
                "returns": [{"rma": r.rma, "status": r.status, "method": r.method} for r in returns.get(s.id, [])],
            }
            for s in shipments
        ],
    }
