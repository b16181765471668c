"""The generic REST adapter against a local server, every request and response validated against the OpenAPI document."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from bot.carriers import ChangeRefused, TimeWindow, UnknownShipment
from bot.carriers.rest import RestCarrier
from bot.core.models import Shipment
from bot.core.runtime import Runtime
from bot.web.carrier_webhooks import sign_rest
from tests.carriers.conftest import REST_SECRET, switch
from tests.carriers.fakes import API_KEY, Fake
from tests.carriers.test_karrio import in_transit
from tests.test_web import LiveServer

BERLIN = ZoneInfo("Europe/Berlin")
SPEC = Path(__file__).resolve().parents[2] / "docs" / "carrier-api" / "openapi.yaml"


class _Request:
    def __init__(self, request: httpx.Request) -> None:
        self.host_url = f"{request.url.scheme}://{request.url.netloc.decode()}"
        self.path = request.url.path
        self.full_url_pattern = self.host_url + self.path
        self.method = request.method.lower()
        self.body = request.content or None
        self.content_type = request.headers.get("content-type", "application/json").split(";")[0]
        self.parameters = RequestParameters(query=ImmutableMultiDict(list(request.url.params.multi_items())),
                                            header=Headers(dict(request.headers)), cookie=ImmutableMultiDict(), path={})


class _Response:
    def __init__(self, response: httpx.Response) -> None:
        self.status_code = response.status_code
        self.data = response.content
        self.content_type = response.headers.get("content-type", "application/json").split(";")[0]
        self.headers = Headers(dict(response.headers))


class ContractTransport(httpx.HTTPTransport):
    """Every request the adapter makes and every answer it gets must match the contract."""

    def __init__(self, api: OpenAPI) -> None:
        super().__init__()
        self.api = api
        self.checked = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.api.validate_request(_Request(request))
        response = super().handle_request(request)
        response.read()
        self.api.validate_response(_Request(request), _Response(response))
        self.checked += 1
        return response


@pytest.fixture
def contract(carrier_url: str) -> ContractTransport:
    document = yaml.safe_load(SPEC.read_text())
    document["servers"] = [{"url": f"{carrier_url}/rest"}]
    return ContractTransport(OpenAPI.from_dict(document))


def windows(days: int = 2) -> list[dict[str, str]]:
    first = datetime(2026, 11, 25, 10, tzinfo=BERLIN)
    return [{"start": (first + timedelta(days=d)).isoformat(), "end": (first + timedelta(days=d, hours=2)).isoformat()}
            for d in range(days)]


def on_rest(world: Runtime, fake: Fake, status: str = "at_depot") -> Shipment:
    shipment = switch(world, in_transit(world)[0].id, "rest")
    fake.rest[shipment.tracking_number] = {
        "tracking": {"tracking_number": shipment.tracking_number, "status": status, "status_at": "2026-11-24T07:00:00+01:00",
                     "eta": windows(1)[0], "stops_away": None, "driver_position": None, "locker_name": None},
        "windows": windows(),
        "lockers": [{"code": "LK1", "name": "Boxhagener Platz", "address": "Gärtnerstraße 12, 10245", "distance_m": 950,
                     "free": 12, "opening_hours": {"mon": ["00:00", "24:00"]}}],
    }
    return shipment


def test_every_operation_follows_the_contract(world: Runtime, fake: Fake, carrier_url: str,
                                              contract: ContractTransport) -> None:
    shipment = on_rest(world, fake)
    rest = RestCarrier(world.sessions, name="rest", base_url=f"{carrier_url}/rest", api_key=API_KEY,
                       capabilities=world.carrier("rest").capabilities, transport=contract)
    number = shipment.tracking_number
    assert rest.track(number).status == "at_depot"
    offered = rest.available_windows(number)
    assert len(offered) == 2
    assert rest.reschedule(number, offered[1]) == offered[1]
    assert [lk.code for lk in rest.nearby_lockers(number)] == ["LK1"]
    rest.set_instructions(number, "back door")
    rest.deliver_to_neighbour(number, "Meyer, no 14")
    rest.change_address(number, address_line="Warschauer Str. 1", postcode="10243")
    assert rest.redirect_to_locker(number, "LK1").name == "Boxhagener Platz"
    label = rest.create_return(number, items=["sku-1"], reason="too small", method="label")
    assert label.rma == "R00000042"
    assert contract.checked == 9
    rest.close()
    with world.sessions() as session:  # the adapter writes nothing of ours: the change service records (test_contract)
        row = session.get(Shipment, shipment.id)
        assert (row.promised_start, row.postcode) == (shipment.promised_start, shipment.postcode)


def test_a_refusal_is_shown_and_changes_nothing(world: Runtime, fake: Fake, carrier_url: str,
                                                contract: ContractTransport) -> None:
    shipment = on_rest(world, fake, status="out_for_delivery")
    rest = RestCarrier(world.sessions, name="rest", base_url=f"{carrier_url}/rest", api_key=API_KEY,
                       capabilities=world.carrier("rest").capabilities, transport=contract)
    w = TimeWindow(datetime.fromisoformat(windows()[0]["start"]), datetime.fromisoformat(windows()[0]["end"]))
    with pytest.raises(ChangeRefused, match="already out with the driver"):
        rest.reschedule(shipment.tracking_number, w)
    unknown = switch(world, in_transit(world)[1].id, "rest")  # ours, but the carrier has never heard of it
    with pytest.raises(UnknownShipment):
        rest.track(unknown.tracking_number)
    rest.close()
    with world.sessions() as session:
        assert session.get(Shipment, shipment.id).promised_start == shipment.promised_start


def post_event(live: LiveServer, event: dict, *, at: int | None = None, secret: str = REST_SECRET) -> httpx.Response:
    raw = json.dumps(event).encode()
    stamp = str(at if at is not None else int(time.time()))
    return httpx.post(f"{live.url}/webhooks/rest-carrier", content=raw,
                      headers={"X-Doorstep-Timestamp": stamp, "X-Doorstep-Signature": sign_rest(secret, stamp, raw)})


def test_rest_webhook_signature_replay_and_order(world: Runtime, fake: Fake) -> None:
    shipment = on_rest(world, fake)
    event = {"event_id": "e1", "tracking_number": shipment.tracking_number, "status": "out_for_delivery",
             "occurred_at": "2026-11-24T09:00:00+01:00"}
    with LiveServer(world.settings) as live:
        assert httpx.get(f"{live.url}/carrier-api/openapi.yaml").text.startswith("openapi: 3.1.0")
        assert post_event(live, event, secret="wrong").status_code == 403
        assert post_event(live, event, at=int(time.time()) - 301).status_code == 401
        assert post_event(live, event).json() == {"outcome": "applied", "status": "out_for_delivery"}
        assert post_event(live, event).json()["outcome"] == "duplicate"
        older = {**event, "event_id": "e0", "status": "at_depot", "occurred_at": "2026-11-24T08:00:00+01:00"}
        assert post_event(live, older).json() == {"outcome": "stale", "status": "out_for_delivery"}
        odd = {**event, "event_id": "e2", "status": "teleported", "occurred_at": "2026-11-24T09:30:00+01:00"}
        assert post_event(live, odd).json() == {"outcome": "stale", "status": "out_for_delivery"}
    with world.sessions() as session:
        assert session.get(Shipment, shipment.id).status == "out_for_delivery"


def test_a_claim_goes_to_the_rest_carrier_by_the_contract_and_survives_its_failure(
        world: Runtime, fake: Fake, carrier_url: str, contract: ContractTransport) -> None:
    from bot.aftercare.claims import open_or_add
    from bot.core.models import Claim, ClaimKind

    shipment = on_rest(world, fake, status="delivered")
    rest = RestCarrier(world.sessions, name="rest", base_url=f"{carrier_url}/rest", api_key=API_KEY,
                       capabilities=world.carrier("rest").capabilities, transport=contract)
    claim_id = rest.open_claim(shipment.tracking_number, reference="CL-7K3Q9", kind="missing", evidence={
        "proof": {"place": "porch", "note": "by the door", "neighbour": None,
                  "delivered_at": "2026-11-24T10:50:00+01:00", "photo": True},
        "instructions": "back door", "words": "never got it", "distance_m": 12,
        "timeline": [{"at": "2026-11-24T10:50:00+01:00", "status": "delivered", "description": "Delivered"}]})
    assert claim_id == "RC-0001" and contract.checked == 1
    assert fake.claims["RC-0001"]["proof"]["has_photo"] is True and fake.claims["RC-0001"]["reference"] == "CL-7K3Q9"
    rest.close()

    # Through the service: the claim is recorded with the carrier's id; a failing carrier keeps it open with us.
    ticket = open_or_add(world, shipment_id=shipment.id, customer_id=shipment.customer_id, kind=ClaimKind.MISSING,
                         channel="sms", sender_id=None, words="never got it")
    other = switch(world, in_transit(world)[1].id, "rest")  # a parcel the REST carrier refuses (404)
    failed = open_or_add(world, shipment_id=other.id, customer_id=other.customer_id, kind=ClaimKind.NOT_AS_ASKED,
                         channel="sms", sender_id=None, words="left in the rain")
    with world.sessions() as session:
        first, second = session.get(Claim, ticket.claim_id), session.get(Claim, failed.claim_id)
    assert first.carrier_claim_id == "RC-0002" and first.status == "open"
    assert second.carrier_claim_id is None and second.status == "open" and "No such shipment" in second.evidence["carrier_error"]
