"""One running stack (rasa, actions, web) for the end-to-end tests of a session."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.core.models import Consent, Customer, DeliveryProof, Shipment, ShipmentEvent
from bot.core.runtime import Runtime
from bot.processes.devstack import Stack
from bot.processes.model_files import model_path


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not model_path().exists():
        pytest.fail(f"no trained model at {model_path()}: `make test` trains it first")
    running = Stack(Path(tmp_path_factory.mktemp("stack")))
    running.setup()
    running.env["SANDBOX_FAULTS"] = faulty_tracking_number(running)
    mostly_english(running)
    twin_english_customers(running)
    try:
        running.start()
    except Exception:
        running.stop()
        raise
    yield running
    running.stop()


def mostly_english(stack: Stack) -> None:
    """Before anything runs: the German and Dutch customers with exactly one changeable parcel (the kind
    most tests need, and all in English) read English. Those with several parcels stay German or Dutch,
    for the tests in their language (tests/e2e/test_languages.py)."""
    runtime = Runtime.build(stack.settings)
    try:
        with runtime.sessions() as session:
            for customer in session.scalars(select(Customer).where(Customer.locale != "en")):
                if sum(p.status in ("at_depot", "in_transit") for p in customer.shipments) == 1:
                    customer.locale = "en"
            session.commit()
    finally:
        runtime.engine.dispose()


TWIN_PHONES = "+4915130"  # the twins' numbers: +4915130000001, …
TWIN_STATUSES = ("at_depot", "in_transit", "delivered")


def _copy(row: object, **changes: object) -> dict[str, object]:
    table = type(row).__table__  # type: ignore[attr-defined]
    return {c.key: getattr(row, c.key) for c in table.columns if c.key != "id"} | changes


def twin_english_customers(stack: Stack) -> None:
    """Before anything runs: a twin of every English customer, with copies of their parcels on the way
    (not on a route: the sandbox never moves them) and delivered (with the proof and the events), so the
    ~50 tests on one stack don't run out of customers. The pool hands twins out only after the real ones."""
    runtime = Runtime.build(stack.settings)
    try:
        with runtime.sessions() as session, session.begin():
            originals = session.scalars(select(Customer).where(Customer.locale == "en").order_by(Customer.id)).all()
            for number, original in enumerate(originals, start=1):
                twin = Customer(**_copy(original, phone=f"{TWIN_PHONES}{number:06d}", name=f"{original.name} Jr.",
                                        email=f"twin{number}@example.com"))
                session.add(twin)
                session.flush()
                for consent in original.consents:
                    session.add(Consent(**_copy(consent, customer_id=twin.id)))
                for index, parcel in enumerate(p for p in original.shipments if p.status in TWIN_STATUSES):
                    copy = Shipment(**_copy(parcel, customer_id=twin.id,
                                            tracking_number=f"DS9{number:04d}{index:05d}"))
                    session.add(copy)
                    session.flush()
                    for event in parcel.events:
                        session.add(ShipmentEvent(**_copy(event, shipment_id=copy.id,
                                                          event_id=f"twin:{copy.tracking_number}:{event.id}")))
                    proof = session.scalars(select(DeliveryProof).where(DeliveryProof.shipment_id == parcel.id)).first()
                    if proof is not None:
                        session.add(DeliveryProof(**_copy(proof, shipment_id=copy.id)))
    finally:
        runtime.engine.dispose()


def faulty_tracking_number(stack: Stack) -> str:
    """One parcel whose carrier calls fail (SANDBOX_FAULTS), for the carrier-failure path."""
    runtime = Runtime.build(stack.settings)
    try:
        with runtime.sessions() as session:
            return session.scalars(select(Shipment.tracking_number).where(Shipment.status == "in_transit")
                                   .order_by(Shipment.id.desc())).first() or ""
    finally:
        runtime.engine.dispose()


def usefulness(parcels: list[Shipment]) -> int:
    """How much the e2e tests want a customer like this: the kinds most tests ask for count most."""
    changeable = sum(p.status in ("at_depot", "in_transit") for p in parcels)
    delivered = sum(p.status == "delivered" for p in parcels)
    return 4 * (changeable == 1) + 3 * (delivered == 1) + 2 * (changeable >= 2) + (delivered >= 2)


class CustomerPool:
    """Hands each test its own demo customers, so tests on one running stack don't meet."""

    def __init__(self, runtime: Runtime, reserved: set[str]) -> None:
        self.runtime = runtime
        self.used: set[int] = set()
        self.reserved = reserved

    def take(self, wanted: Callable[[list[Shipment]], bool], locale: str = "en") -> tuple[Customer, list[Shipment]]:
        """An unused customer whose parcels fit `wanted`, who reads `locale` (the language of the test's texts)."""
        with self.runtime.sessions() as session:
            # The least useful fit first: a test that takes "anyone" must not use up the customers with
            # one changeable or one delivered parcel (most tests need one), and the rarer ones (returns,
            # several parcels) stay available for the tests that need them, whatever order tests run in.
            everyone = sorted(session.scalars(select(Customer)),
                              key=lambda c: (c.phone.startswith(TWIN_PHONES), usefulness(list(c.shipments)),
                                             len(c.shipments), c.id))
            for customer in everyone:
                parcels = list(customer.shipments)
                if customer.id in self.used or any(p.tracking_number in self.reserved for p in parcels):
                    continue
                if customer.locale != locale:
                    continue
                if wanted(parcels):
                    self.used.add(customer.id)
                    return customer, parcels
        raise LookupError("no unused demo customer fits")


@pytest.fixture(scope="session")
def customers(stack: Stack, stack_runtime: Runtime) -> CustomerPool:
    return CustomerPool(stack_runtime, {stack.env["SANDBOX_FAULTS"]})


@pytest.fixture(scope="session")
def stack_runtime(stack: Stack) -> Iterator[Runtime]:
    runtime = Runtime.build(stack.settings)
    yield runtime
    runtime.engine.dispose()
