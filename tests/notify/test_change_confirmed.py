"""A change made on the tracking page is told on the customer's channel exactly once (issue 16): the page's
forms, then the dispatcher sending through the real twilio library to the fake Twilio API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bot.conversation.identity import make_link_token
from bot.core.clock import sim_now
from bot.core.models import Notification, Shipment, ShipmentStatus
from bot.core.runtime import Runtime
from tests.changes.conftest import build, parcel
from tests.notify.helpers import MailRecorder, dispatch, fake_twilio
from tests.test_web import LiveServer


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Runtime]:
    rt = build(tmp_path)
    yield rt
    rt.engine.dispose()


def test_a_note_left_on_the_page_is_texted_once(world: Runtime) -> None:
    shipment = parcel(world, ShipmentStatus.AT_DEPOT)
    with world.sessions() as session, session.begin():
        customer = session.get(Shipment, shipment.id).customer  # type: ignore[union-attr]
        customer.preferred_channels, customer.locale, phone = ["sms"], "en", customer.phone
        now = sim_now(session) + timedelta(minutes=1)
    page = f"/t/{make_link_token(world.settings.link_secret, shipment.id)}"
    with LiveServer(world.settings) as server, httpx.Client(base_url=server.url) as http:
        for _ in range(2):  # the customer presses "yes" twice
            answer = http.post(f"{page}/change/instructions/confirm", data={"note": "behind the green gate"})
            assert answer.status_code == 200
    mail = MailRecorder()
    with fake_twilio() as (fake, base):
        dispatch(world, now, base, mail)
        dispatch(world, now + timedelta(minutes=5), base, mail)
        texts = [(to, body) for (to, body), n in fake.received.items() for _ in range(n)]
    told = [body for to, body in texts if "the driver will see your note" in body]
    assert len(told) == 1 and told[0].startswith("Doorstep: done, the driver will see your note for parcel ")
    assert [to for to, body in texts if body == told[0]] == [phone] and fake.duplicates == 0
    with world.sessions() as session:
        rows = session.scalars(select(Notification).where(Notification.shipment_id == shipment.id,
                                                          Notification.trigger == "change_confirmed")).all()
        assert [(r.channel, r.status) for r in rows] == [("sms", "sent")]
