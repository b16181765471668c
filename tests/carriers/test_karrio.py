"""karrio through its SDK against local UPS, FedEx and DHL Express servers: tracking, errors, timeouts, breaker."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from bot.carriers import Capability, CarrierUnavailable, UnknownShipment
from bot.core.models import Shipment, ShipmentEvent
from bot.core.runtime import Runtime
from tests.carriers.conftest import TIMEOUT, switch
from tests.carriers.fakes import Fake

UPS_NUMBER, FEDEX_NUMBER, DHL_NUMBER = "1Z12345E0205271688", "794887075005", "1234567890"


def ups_package(*activities: tuple[str, str, str, str, str]) -> dict:
    """UPS Track API v1 package; activities newest first as (type, code, description, yyyymmdd, hhmmss)."""
    return {
        "trackingNumber": UPS_NUMBER,
        "deliveryDate": [{"type": "DEL", "date": "20261124"}],
        "activity": [{"location": {"address": {"city": "Berlin", "postalCode": "10245", "country": "DE"}},
                      "status": {"type": t, "code": c, "description": d}, "date": day, "time": clock}
                     for t, c, d, day, clock in activities],
    }


def fedex_result(*events: tuple[str, str, str]) -> dict:
    """FedEx Track API trackResult; scan events newest first as (eventType, description, ISO date)."""
    return {
        "trackingNumberInfo": {"trackingNumber": FEDEX_NUMBER},
        "latestStatusDetail": {"code": events[0][0], "description": events[0][1]},
        "standardTransitTimeWindow": {"window": {"begins": "2026-11-24T09:00:00+01:00", "ends": "2026-11-24T18:00:00+01:00"}},
        "estimatedDeliveryTimeWindow": {"window": {"begins": "2026-11-24T09:00:00+01:00", "ends": "2026-11-24T18:00:00+01:00"}},
        "scanEvents": [{"date": date, "eventType": code, "eventDescription": text,
                        "scanLocation": {"city": "BERLIN", "postalCode": "10245", "countryCode": "DE"}}
                       for code, text, date in events],
    }


def dhl_info(*events: tuple[str, str, str, str]) -> str:
    """DHL XML-PI ShipmentInfo; events oldest first as (date, time, code, description)."""
    rows = "".join(
        f"<ShipmentEvent><Date>{d}</Date><Time>{t}</Time><ServiceEvent><EventCode>{c}</EventCode>"
        f"<Description>{text}</Description></ServiceEvent><Signatory></Signatory><ServiceArea>"
        "<ServiceAreaCode>BER</ServiceAreaCode><Description>BERLIN - GERMANY</Description></ServiceArea></ShipmentEvent>"
        for d, t, c, text in events)
    return ("<ShipmentInfo><OriginServiceArea><ServiceAreaCode>LEJ</ServiceAreaCode><Description>LEIPZIG - GERMANY"
            "</Description></OriginServiceArea><DestinationServiceArea><ServiceAreaCode>BER</ServiceAreaCode>"
            "<Description>BERLIN - GERMANY</Description></DestinationServiceArea><ShipperName>Shop</ShipperName>"
            "<ConsigneeName>Customer</ConsigneeName><ShipmentDate>2026-11-22T10:00:00</ShipmentDate><Pieces>1</Pieces>"
            "<Weight>1.2</Weight><WeightUnit>K</WeightUnit><EstDlvyDate>2026-11-24 18:00:00 GMT+01:00</EstDlvyDate>"
            f"{rows}</ShipmentInfo>")


def in_transit(world: Runtime) -> list[Shipment]:
    with world.sessions() as session:
        return list(session.scalars(select(Shipment).where(Shipment.status == "in_transit").order_by(Shipment.id)))


def events_of(world: Runtime, shipment_id: int) -> list[ShipmentEvent]:
    with world.sessions() as session:
        return list(session.scalars(select(ShipmentEvent).where(ShipmentEvent.shipment_id == shipment_id)
                                    .order_by(ShipmentEvent.occurred_at)))


def test_karrio_offers_tracking_and_label_returns_only(world: Runtime) -> None:
    for name in ("ups", "fedex", "dhl_express"):
        assert world.carrier(name).capabilities == frozenset({Capability.TRACK, Capability.RETURNS})
        assert world.carrier(name).return_methods == frozenset({"label"})


def test_ups_delivered_is_ingested_once(world: Runtime, fake: Fake) -> None:
    shipment = switch(world, in_transit(world)[0].id, "ups", UPS_NUMBER)
    fake.ups[UPS_NUMBER] = ups_package(("D", "KB", "DELIVERED", "20261124", "091500"),
                                       ("I", "OT", "Out For Delivery Today", "20261124", "071000"),
                                       ("I", "AR", "Arrived at Facility", "20261123", "220000"))
    info = world.carrier("ups").track(shipment.tracking_number)
    assert info.status == "delivered" and info.eta is None
    first = events_of(world, shipment.id)
    assert [e.status for e in first][-1] == "delivered" and len(first) == 3
    world.carrier("ups").track(shipment.tracking_number)  # the same events again: nothing new
    assert len(events_of(world, shipment.id)) == 3
    with world.sessions() as session:
        assert session.get(Shipment, shipment.id).status == "delivered"


def test_fedex_out_for_delivery_with_the_day_as_window(world: Runtime, fake: Fake) -> None:
    shipment = switch(world, in_transit(world)[1].id, "fedex", FEDEX_NUMBER)
    fake.fedex[FEDEX_NUMBER] = fedex_result(("OD", "On FedEx vehicle for delivery", "2026-11-24T07:40:00+01:00"),
                                            ("AR", "At local FedEx facility", "2026-11-23T20:10:00+01:00"))
    info = world.carrier("fedex").track(shipment.tracking_number)
    assert info.status == "out_for_delivery"
    assert info.eta is not None and info.eta.start.date().isoformat() == "2026-11-24"


def test_dhl_express_with_courier_and_an_unknown_code_is_kept(world: Runtime, fake: Fake) -> None:
    shipment = switch(world, in_transit(world)[2].id, "dhl_express", DHL_NUMBER)
    fake.dhl[DHL_NUMBER] = dhl_info(("2026-11-23", "21:10:00", "AF", "Arrived at DHL Delivery Facility"),
                                    ("2026-11-24", "06:50:00", "ZZ", "Something new"),
                                    ("2026-11-24", "07:30:00", "WC", "With delivery courier"))
    info = world.carrier("dhl_express").track(shipment.tracking_number)
    assert info.status == "out_for_delivery"
    kept = [e for e in events_of(world, shipment.id) if e.status == "unknown"]
    assert len(kept) == 1 and kept[0].applied is False and kept[0].payload["carrier_status"] == "ZZ"


def test_unknown_numbers_are_unknown_shipments(world: Runtime) -> None:
    for name, number in (("ups", UPS_NUMBER), ("fedex", FEDEX_NUMBER), ("dhl_express", DHL_NUMBER)):
        shipment = switch(world, in_transit(world)[0].id, name, number)
        with pytest.raises(UnknownShipment):
            world.carrier(name).track(shipment.tracking_number)


def test_ups_5xx_is_retried_then_unavailable_and_changes_nothing(world: Runtime, fake: Fake) -> None:
    shipment = switch(world, in_transit(world)[0].id, "ups", UPS_NUMBER)
    fake.ups[UPS_NUMBER] = ups_package(("D", "KB", "DELIVERED", "20261124", "091500"))
    fake.faults["/ups/api/track"] = 500
    with pytest.raises(CarrierUnavailable):
        world.carrier("ups").track(shipment.tracking_number)
    assert fake.count("/ups/api/track") == 2  # CARRIER_RETRY_ATTEMPTS
    assert events_of(world, shipment.id) == []


def test_a_slow_carrier_times_out_and_the_breaker_then_fails_fast(world: Runtime, fake: Fake) -> None:
    shipment = switch(world, in_transit(world)[0].id, "fedex", FEDEX_NUMBER)
    fake.fedex[FEDEX_NUMBER] = fedex_result(("OD", "On FedEx vehicle for delivery", "2026-11-24T07:40:00+01:00"))
    fake.faults["/fedex/track"] = "slow"
    carrier = world.carrier("fedex")
    started = time.monotonic()
    with pytest.raises(CarrierUnavailable):
        carrier.track(shipment.tracking_number)
    assert time.monotonic() - started < 2 * fake.slow_seconds  # our timeout, not the server's pace
    for _ in range(2):  # CARRIER_BREAKER_FAILURES=3 failed calls in a row: the carrier is down
        with pytest.raises(CarrierUnavailable):
            carrier.track(shipment.tracking_number)
    before = fake.count("/fedex")
    started = time.monotonic()
    with pytest.raises(CarrierUnavailable, match="circuit open"):
        carrier.track(shipment.tracking_number)
    assert fake.count("/fedex") == before and time.monotonic() - started < TIMEOUT
