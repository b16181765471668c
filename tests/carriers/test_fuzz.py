"""Hostile payloads at every carrier webhook: always a 2xx or 4xx, never a 500, and no change unless validly signed."""

from __future__ import annotations

import json
import time

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.core.models import ShipmentEvent
from bot.core.runtime import Runtime
from bot.web.carrier_webhooks import sign_onfleet, sign_rest
from bot.web.webhooks import sign
from tests.carriers.conftest import ONFLEET_SECRET, REST_SECRET
from tests.test_web import LiveServer

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20,
)
keys = st.sampled_from(["event_id", "tracking_number", "status", "occurred_at", "eta", "lat", "triggerName", "taskId",
                        "time", "data", "etaSeconds"])
payloads = st.dictionaries(keys, json_values, max_size=8).map(lambda d: json.dumps(d).encode()) | st.binary(max_size=200)


def test_every_webhook_survives_hostile_payloads(world: Runtime) -> None:
    settings_ = world.settings
    with world.sessions() as session:
        before = session.scalar(select(func.count()).select_from(ShipmentEvent))
    with LiveServer(settings_) as live, httpx.Client(base_url=live.url, timeout=10) as client:

        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
        @given(body=payloads, signed=st.booleans())
        def check(body: bytes, signed: bool) -> None:
            stamp = str(int(time.time()))
            answers = [
                client.post("/webhooks/carriers/sandbox", content=body, headers={
                    "X-Doorstep-Signature": sign(settings_.carrier_webhook_secret, body) if signed else "sha256=00"}),
                client.post("/webhooks/onfleet", content=body, headers={
                    "X-Onfleet-Signature": sign_onfleet(ONFLEET_SECRET, body) if signed else "ab" * 64}),
                client.post("/webhooks/rest-carrier", content=body, headers={
                    "X-Doorstep-Timestamp": stamp,
                    "X-Doorstep-Signature": sign_rest(REST_SECRET, stamp, body) if signed else "sha256=" + "0" * 64}),
            ]
            for answer in answers:
                assert answer.status_code < 500, (answer.request.url, answer.text)
                if not signed:
                    assert answer.status_code in (401, 403)

        check()
    with world.sessions() as session:
        # random bodies name no real shipment, so even a signed one changes nothing
        assert session.scalar(select(func.count()).select_from(ShipmentEvent)) == before
