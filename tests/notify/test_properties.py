"""Property: for any sequence of opt-outs, opt-ins, reschedules, deliveries and clock jumps, no message
goes to a channel the customer has left, and none is sent in their quiet hours."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.conversation.consent import set_opt_out
from bot.core.models import Base, Customer, Shipment, ShipmentStatus
from bot.core.runtime import Runtime
from bot.notify.dispatch import Dispatcher
from bot.notify.planner import load_shipments, sync_plans
from bot.notify.providers import Sent
from bot.notify.replan import replan_after_change
from bot.notify.rules import load_rules
from tests.conftest import make_settings

START = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
PEOPLE = [  # time zone, quiet from, quiet until
    ("Europe/Berlin", 21, 8), ("Europe/London", 22, 7), ("America/New_York", 20, 9), ("Asia/Tokyo", 0, 6),
]


class Recorder:
    """Both senders in one: what went where, in order (the providers themselves are tested elsewhere)."""

    name = "recorder"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []  # (channel, address)

    async def send(self, to: str, *args: object) -> Sent:
        self.sent.append(("email" if "@" in to else "sms", to))
        return Sent(self.name, f"M{len(self.sent)}")

    async def find_sent(self, to: str, body: str, since: datetime) -> str | None:
        return None

    async def close(self) -> None:
        return None


operation = st.one_of(
    st.tuples(st.just("opt_out"), st.integers(0, 3), st.sampled_from(["sms", "email"])),
    st.tuples(st.just("opt_in"), st.integers(0, 3), st.sampled_from(["sms", "email"])),
    st.tuples(st.just("move"), st.integers(0, 3), st.integers(1, 3), st.integers(8, 19)),
    st.tuples(st.just("out"), st.integers(0, 3)),
    st.tuples(st.just("late"), st.integers(0, 3), st.integers(10, 90)),
    st.tuples(st.just("deliver"), st.integers(0, 3)),
    st.tuples(st.just("jump"), st.integers(5, 16 * 60)),
)


def build(runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        for i, (tz, quiet_from, quiet_until) in enumerate(PEOPLE):
            customer = Customer(name=f"Person {i}", phone=f"+49151999000{i:02d}", email=f"p{i}@example.com",
                                locale=("en", "de", "nl", "en")[i], time_zone=tz, preferred_channels=["sms", "email"],
                                quiet_hours_start=quiet_from, quiet_hours_end=quiet_until)
            session.add(customer)
            session.flush()
            promised = START + timedelta(days=1, hours=i)
            session.add(Shipment(tracking_number=f"PT{i:08d}", order_reference=f"O{i}", customer_id=customer.id,
                                 status=ShipmentStatus.IN_TRANSIT, status_at=START, promised_start=promised,
                                 promised_end=promised + timedelta(hours=1), address_line="Teststraße 1",
                                 postcode="10115", city="Berlin", lat=52.5, lng=13.4, items=[]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operation, min_size=1, max_size=25))
def test_no_message_to_a_left_channel_and_none_in_quiet_hours(operations: list[tuple]) -> None:  # type: ignore[type-arg]
    with TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'p.db'}"
        runtime = Runtime.build(make_settings(url))
        Base.metadata.create_all(runtime.engine)
        build(runtime)
        rules = load_rules()
        recorder = Recorder()
        dispatcher = Dispatcher(runtime.sessions, runtime.settings, rules, sms=recorder, email=recorder, worker="p")
        opted_out: set[tuple[int, str]] = set()
        now = START
        for op in operations:
            with runtime.sessions() as session:
                shipments = session.scalars(select(Shipment).order_by(Shipment.id)).all()
                customers = session.scalars(select(Customer).order_by(Customer.id)).all()
                kind = op[0]
                if kind in ("opt_out", "opt_in"):
                    customer = customers[op[1]]
                    set_opt_out(session, customer_id=customer.id, channel=op[2], opted_out=kind == "opt_out",
                                source="property test")
                    (opted_out.add if kind == "opt_out" else opted_out.discard)((customer.id, op[2]))
                elif kind == "move" and shipments[op[1]].status not in (ShipmentStatus.DELIVERED,):
                    shipment = shipments[op[1]]
                    day = (now + timedelta(days=op[2])).astimezone(ZoneInfo("Europe/Berlin")).date()
                    start = datetime.combine(day, datetime.min.time(), ZoneInfo("Europe/Berlin")) + timedelta(hours=op[3])
                    shipment.status, shipment.status_at = ShipmentStatus.AT_DEPOT, now
                    shipment.promised_start, shipment.promised_end = start, start + timedelta(hours=2)
                    shipment.eta_start = shipment.eta_end = None
                    replan_after_change(session, shipment_id=shipment.id, change="reschedule")
                elif kind == "out" and shipments[op[1]].status != ShipmentStatus.DELIVERED:
                    shipment = shipments[op[1]]
                    shipment.status, shipment.status_at = ShipmentStatus.OUT_FOR_DELIVERY, now
                    shipment.eta_start, shipment.eta_end = now + timedelta(hours=1), now + timedelta(hours=2)
                elif kind == "late" and shipments[op[1]].eta_end is not None:
                    shipment = shipments[op[1]]
                    shipment.eta_start += timedelta(minutes=op[2])  # type: ignore[operator]
                    shipment.eta_end += timedelta(minutes=op[2])  # type: ignore[operator]
                elif kind == "deliver":
                    shipment = shipments[op[1]]
                    shipment.status, shipment.status_at, shipment.delivered_at = ShipmentStatus.DELIVERED, now, now
                elif kind == "jump":
                    now += timedelta(minutes=op[1])
                session.commit()
                sync_plans(session, load_shipments(session, [s.id for s in shipments]), now, rules)
                session.commit()
                addresses = {c.phone: c for c in customers} | {c.email: c for c in customers}
            before = len(recorder.sent)
            asyncio.run(dispatcher.run_once(now))
            for channel, to in recorder.sent[before:]:
                customer = addresses[to]
                assert (customer.id, channel) not in opted_out, f"{channel} to {to} after opting out"
                hour = now.astimezone(ZoneInfo(customer.time_zone)).hour
                start_q, end_q = customer.quiet_hours_start, customer.quiet_hours_end
                quiet = (hour >= start_q or hour < end_q) if start_q > end_q else start_q <= hour < end_q
                assert not quiet, f"sent to {to} at {hour}:00 their time (quiet {start_q}-{end_q})"
        runtime.engine.dispose()
