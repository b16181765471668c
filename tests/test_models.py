"""The data model on SQLite and PostgreSQL: round trips, UTC, uniqueness."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from bot.core.models import Base, Customer, Notification, Shipment, ShipmentEvent
from bot.core.runtime import Runtime
from tests import factories
from tests.conftest import T0


def test_migration_creates_every_model_table(runtime: Runtime) -> None:
    tables = set(inspect(runtime.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables


def test_shipment_round_trip_keeps_aware_utc_times_and_json(runtime: Runtime) -> None:
    berlin_morning = datetime(2026, 11, 24, 9, 0, tzinfo=timezone(timedelta(hours=1)))
    with runtime.sessions() as session, session.begin():
        owner = factories.customer(session)
        factories.shipment(session, owner, at=T0, eta_start=berlin_morning, eta_end=berlin_morning + timedelta(hours=1))
    with runtime.sessions() as session:
        loaded = session.scalars(select(Shipment)).one()
        assert loaded.eta_start == berlin_morning
        assert loaded.eta_start.utcoffset() == timedelta(0)
        assert loaded.items[0]["returnable"] is True
        assert loaded.customer.phone.startswith("+49")


def test_naive_datetimes_are_refused(runtime: Runtime) -> None:
    with pytest.raises(Exception, match="naive datetime"), runtime.sessions() as session, session.begin():
        owner = factories.customer(session)
        factories.shipment(session, owner, at=datetime(2026, 11, 24, 9, 0))


def test_tracking_numbers_and_phones_are_unique(runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        owner = factories.customer(session)
        first = factories.shipment(session, owner, at=T0)
        number, phone = first.tracking_number, owner.phone
    with pytest.raises(IntegrityError), runtime.sessions() as session, session.begin():
        owner = session.scalars(select(Customer)).one()
        factories.shipment(session, owner, at=T0, tracking_number=number)
    with pytest.raises(IntegrityError), runtime.sessions() as session, session.begin():
        factories.customer(session, phone=phone)


def test_event_ids_are_unique_per_carrier(runtime: Runtime) -> None:
    with runtime.sessions() as session, session.begin():
        shipment = factories.shipment(session, factories.customer(session), at=T0)
        for carrier in ("sandbox", "other"):
            session.add(ShipmentEvent(shipment_id=shipment.id, carrier=carrier, event_id="e1", status="in_transit",
                                      occurred_at=T0, applied=True))
    with pytest.raises(IntegrityError), runtime.sessions() as session, session.begin():
        session.add(ShipmentEvent(shipment_id=shipment.id, carrier="sandbox", event_id="e1", status="in_transit",
                                  occurred_at=T0, applied=True))


def test_notification_dedupe_key_is_unique(runtime: Runtime) -> None:
    def planned(session, owner):  # type: ignore[no-untyped-def]
        return Notification(customer_id=owner.id, trigger="out_for_delivery", channel="sms", template="ofd",
                            locale="en", to_address=owner.phone, dedupe_key=f"ofd:{owner.id}:2026-11-24")

    with runtime.sessions() as session, session.begin():
        owner = factories.customer(session)
        session.add(planned(session, owner))
    with pytest.raises(IntegrityError), runtime.sessions() as session, session.begin():
        session.add(planned(session, owner))


def test_two_first_contacts_of_one_sender_at_once_share_one_link(runtime: Runtime) -> None:
    """A customer's first text and a notification opening the same conversation verify it together:
    both find no link, both insert one at the same moment; neither fails on the unique (channel,
    sender_id), and there is one verified link."""
    import threading

    from sqlalchemy import event

    from bot.conversation.identity import link_conversation
    from bot.core.models import ConversationLink

    with runtime.sessions() as session, session.begin():
        owner = factories.customer(session)
    barrier, errors, waited = threading.Barrier(2), [], threading.local()

    def insert_together(conn, cursor, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO CONVERSATION_LINKS") and not getattr(waited, "done", False):
            waited.done = True
            barrier.wait(timeout=10)

    def first_contact() -> None:
        try:
            with runtime.sessions() as session, session.begin():
                link_conversation(session, channel="twilio", sender_id=owner.phone, customer_id=owner.id,
                                  shipment_id=None)
        except Exception as exc:
            errors.append(exc)

    event.listen(runtime.engine, "before_cursor_execute", insert_together)
    try:
        threads = [threading.Thread(target=first_contact) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        event.remove(runtime.engine, "before_cursor_execute", insert_together)
    assert errors == []
    with runtime.sessions() as session:
        links = session.scalars(select(ConversationLink).where(ConversationLink.sender_id == owner.phone)).all()
    assert len(links) == 1 and links[0].verified and links[0].customer_id == owner.id
