"""karrio return labels through its SDK against the local UPS, FedEx and DHL Express servers."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import select

from bot.carriers import CarrierUnavailable, ChangeRefused
from bot.changes import Done, Requester, ReturnRequest, make
from bot.core.clock import sim_now
from bot.core.models import AuditLog, Return, Shipment
from bot.core.runtime import Runtime
from tests.carriers.conftest import switch
from tests.carriers.fakes import Fake

MAGIC = {"PDF": b"%PDF-", "GIF": b"GIF8"}


def returnable(world: Runtime) -> Shipment:
    """A delivered demo parcel whose return window is open."""
    with world.sessions() as session:
        now = sim_now(session)
        for shipment in session.scalars(select(Shipment).where(Shipment.status == "delivered").order_by(Shipment.id)):
            if shipment.return_until and shipment.return_until > now and any(i.get("returnable") for i in shipment.items):
                session.expunge(shipment)
                return shipment
    raise LookupError("no returnable parcel")


def returns_of(world: Runtime, shipment_id: int) -> list[Return]:
    with world.sessions() as session:
        return list(session.scalars(select(Return).where(Return.shipment_id == shipment_id)))


def skus(shipment: Shipment) -> list[str]:
    return [i["sku"] for i in shipment.items if i.get("returnable")][:1]


@pytest.mark.parametrize("carrier", ["ups", "fedex", "dhl_express"])
def test_a_return_label_is_created_and_recorded(world: Runtime, fake: Fake, carrier: str) -> None:
    parcel = returnable(world)
    switch(world, parcel.id, carrier)
    outcome = make(world, ReturnRequest(shipment_id=parcel.id, by=Requester.AGENT, items=skus(parcel),
                                        reason="too small", method="label"))
    assert isinstance(outcome, Done), outcome
    label_code, rma = outcome.detail["label_code"], outcome.detail["rma"]
    assert outcome.detail["method"] == "label" and rma.startswith("R")
    assert label_code and label_code != parcel.tracking_number
    (name, body), = fake.shipments
    assert name == carrier
    if carrier == "ups":  # the customer ships to the returns desk with UPS Print Return Label
        shipment = body["ShipmentRequest"]["Shipment"]
        assert shipment["ReturnService"]["Code"] == "9"
        assert shipment["Shipper"]["Address"]["PostalCode"] == parcel.postcode
        assert shipment["ShipTo"]["Address"]["PostalCode"] == "10245"
    elif carrier == "dhl_express":  # XML-PI: the customer is the shipper, the returns desk the consignee
        shipper, consignee = body.split("<Shipper>")[1], body.split("<Consignee>")[1]
        assert f"<PostalCode>{parcel.postcode}</PostalCode>" in shipper.split("</Shipper>")[0]
        assert "<PostalCode>10245</PostalCode>" in consignee.split("</Consignee>")[0]
    else:
        requested = body["requestedShipment"]
        assert requested["shipmentSpecialServices"]["returnShipmentDetail"]["returnType"] == "PRINT_RETURN_LABEL"
        assert requested["shipper"]["address"]["postalCode"] == parcel.postcode
    (row,) = returns_of(world, parcel.id)  # our copy, written by the change service
    assert (row.rma, row.method, row.label_code, row.items) == (rma, "label", label_code, skus(parcel))
    assert row.label_document is not None and base64.b64decode(row.label_document).startswith(MAGIC["PDF"])
    assert row.label_format  # kept for the label email
    with world.sessions() as session:
        audit = session.scalars(select(AuditLog).where(AuditLog.action == "create_return",
                                                       AuditLog.entity_id == str(parcel.id))).all()
        assert [a.actor for a in audit] == [f"carrier:{carrier}"]


@pytest.mark.parametrize("carrier", ["ups", "fedex", "dhl_express"])
def test_a_refused_label_changes_nothing(world: Runtime, fake: Fake, carrier: str) -> None:
    parcel = returnable(world)
    switch(world, parcel.id, carrier)
    fake.refuse_shipments = True
    with pytest.raises(ChangeRefused):
        world.carrier(carrier).create_return(parcel.tracking_number, items=skus(parcel), reason="broken",
                                             method="label")
    assert len(fake.shipments) == 1 and returns_of(world, parcel.id) == []


def test_a_failing_carrier_is_unavailable_not_retried_and_changes_nothing(world: Runtime, fake: Fake) -> None:
    parcel = returnable(world)
    switch(world, parcel.id, "ups")
    fake.faults["/ups/api/shipments"] = 500
    with pytest.raises(CarrierUnavailable):
        world.carrier("ups").create_return(parcel.tracking_number, items=skus(parcel), reason="x", method="label")
    assert fake.count("/ups/api/shipments") == 1  # creating a label is not idempotent: never retried
    assert returns_of(world, parcel.id) == []


def test_only_label_returns_and_only_delivered_parcels(world: Runtime, fake: Fake) -> None:
    parcel = returnable(world)
    switch(world, parcel.id, "fedex")
    carrier = world.carrier("fedex")
    assert carrier.return_methods == frozenset({"label"})
    with pytest.raises(ChangeRefused):
        carrier.create_return(parcel.tracking_number, items=skus(parcel), reason="x", method="pickup")
    with pytest.raises(ChangeRefused):
        carrier.create_return(parcel.tracking_number, items=["NOT-A-SKU"], reason="x", method="label")
    assert fake.shipments == [] and returns_of(world, parcel.id) == []
