"""A shipper's pre-advice over HTTP: signed, idempotent, hostile input refused with a 4xx that changes nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bot.core.models import Customer, ProfileApplication, Shipment
from bot.core.runtime import Runtime
from bot.profile import By, Item, set_item
from bot.web.carrier_webhooks import sign_rest
from tests.changes.conftest import build
from tests.test_web import LiveServer

SECRET = "shipper-secret-for-tests-0123456789abcdef"
URL = "/api/v1/shipments"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Runtime]:
    rt = build(tmp_path, shipper_api_secret=SECRET)
    yield rt
    rt.engine.dispose()


@pytest.fixture
def client(world: Runtime) -> Iterator[httpx.Client]:
    with LiveServer(world.settings) as server, httpx.Client(base_url=server.url) as http:
        yield http


def body(**overrides: Any) -> dict[str, Any]:
    return {"carrier": "sandbox", "tracking_number": "DS7000000001", "order_reference": "ORD-77",
            "recipient": {"phone": "+4915120000001", "name": "Anna Schmidt", "email": "anna@example.com"},
            "address_line": "Invalidenstraße 5", "postcode": "10115", "city": "Berlin", "lat": 52.532, "lng": 13.384,
            "window_start": "2026-11-25T09:00:00+01:00", "window_end": "2026-11-25T11:00:00+01:00",
            "items": [{"sku": "MUG-2PK", "name": "mug set"}], **overrides}


def post(client: httpx.Client, payload: Any, *, secret: str = SECRET, stamp: int | None = None,
         raw: bytes | None = None) -> httpx.Response:
    data = raw if raw is not None else json.dumps(payload).encode()
    when = str(stamp if stamp is not None else int(time.time()))
    return client.post(URL, content=data, headers={"Content-Type": "application/json", "X-Doorstep-Timestamp": when,
                                                   "X-Doorstep-Signature": sign_rest(secret, when, data)})


def shipments(world: Runtime) -> int:
    with world.sessions() as session:
        return session.scalar(select(func.count()).select_from(Shipment)) or 0


def test_a_signed_pre_advice_registers_the_parcel_once_and_applies_the_profile(client: httpx.Client,
                                                                              world: Runtime) -> None:
    with world.sessions() as session, session.begin():
        customer = session.scalar(select(Customer).where(Customer.phone == "+4915120000001"))
        assert customer is not None
        set_item(session, customer_id=customer.id, item=Item.SAFE_PLACE, value="behind the green gate",
                 by=By.CUSTOMER, channel="sms")
    before = shipments(world)
    first = post(client, body())
    assert first.status_code == 201, first.text
    assert first.json()["created"] is True and first.json()["profile"] == [{"item": "note", "outcome": "applied"}]
    again = post(client, body())
    assert again.status_code == 200 and again.json() == {**first.json(), "created": False, "profile": []}
    assert shipments(world) == before + 1
    with world.sessions() as session:
        shipment = session.get(Shipment, first.json()["shipment_id"])
        assert shipment is not None and shipment.customer_id == customer.id
        assert shipment.instructions == "Safe place: behind the green gate."
        assert session.scalar(select(func.count()).select_from(ProfileApplication)) == 1


def test_a_new_phone_number_is_a_new_customer(client: httpx.Client, world: Runtime) -> None:
    response = post(client, body(recipient={"phone": "+49 151 29999999", "name": "New Person",
                                            "email": "new@example.com", "locale": "de"}))
    assert response.status_code == 201
    with world.sessions() as session:
        customer = session.scalar(select(Customer).where(Customer.phone == "+4915129999999"))
        assert customer is not None and customer.locale == "de"


def test_the_same_number_for_another_carrier_is_409(client: httpx.Client, world: Runtime) -> None:
    with world.sessions() as session, session.begin():
        taken = session.scalars(select(Shipment).order_by(Shipment.id)).first()
        assert taken is not None
        taken.carrier = "otherco"
        number = taken.tracking_number
    before = shipments(world)
    response = post(client, body(tracking_number=number))
    assert response.status_code == 409
    assert shipments(world) == before


@pytest.mark.parametrize(("case", "expected"), [
    ("no signature", 403), ("forged", 403), ("stale", 401), ("no timestamp", 401), ("too big", 413),
    ("not json", 422), ("deep json", 422), ("bad phone", 422), ("html name", 201), ("bad tracking", 422),
    ("bad postcode", 422), ("window backwards", 422), ("half window", 422), ("unknown carrier", 422),
    ("extra field", 422), ("lat out of range", 422), ("long address", 422),
])
def test_hostile_pre_advice(client: httpx.Client, world: Runtime, case: str, expected: int) -> None:
    before = shipments(world)
    stamp = None
    secret = SECRET
    raw = None
    payload: Any = body()
    if case == "no signature":
        response = client.post(URL, json=payload, headers={"X-Doorstep-Timestamp": str(int(time.time()))})
        assert response.status_code == expected
        assert shipments(world) == before
        return
    if case == "forged":
        secret = "not-the-secret"
    elif case == "stale":
        stamp = int(time.time()) - 3600
    elif case == "no timestamp":
        response = client.post(URL, json=payload, headers={"X-Doorstep-Signature": "sha256=00"})
        assert response.status_code == expected
        return
    elif case == "too big":
        raw = b"{" + b" " * (70 * 1024) + b"}"
    elif case == "not json":
        raw = b"carrier=sandbox"
    elif case == "deep json":
        raw = b"[" * 30000 + b"]" * 30000
    elif case == "bad phone":
        payload = body(recipient={**payload["recipient"], "phone": "12"})
    elif case == "html name":
        payload = body(recipient={**payload["recipient"], "phone": "+4915129999998",
                                  "name": "<script>alert(1)</script>"})
    elif case == "bad tracking":
        payload = body(tracking_number="'; DROP TABLE shipments;--")
    elif case == "bad postcode":
        payload = body(postcode="<b>")
    elif case == "window backwards":
        payload = body(window_start=payload["window_end"], window_end=payload["window_start"])
    elif case == "half window":
        payload = body(window_end=None)
    elif case == "unknown carrier":
        payload = body(carrier="nobody")
    elif case == "extra field":
        payload = body(is_admin=True)
    elif case == "lat out of range":
        payload = body(lat=1e308)
    elif case == "long address":
        payload = body(address_line="x" * 5000)
    response = post(client, payload, secret=secret, stamp=stamp, raw=raw)
    assert response.status_code == expected, response.text
    assert shipments(world) == before + (1 if expected == 201 else 0)


def test_without_a_secret_the_endpoint_is_off(tmp_path: Path) -> None:
    rt = build(tmp_path)
    with LiveServer(rt.settings) as server, httpx.Client(base_url=server.url) as http:
        assert post(http, body()).status_code == 404
    rt.engine.dispose()
