"""Agents see the customer's profile with the conversation, and what could not be applied to each parcel."""

from __future__ import annotations

from sqlalchemy import select

from bot.core.models import ProfileApplication, Shipment
from bot.core.runtime import Runtime
from bot.profile import By, Item, set_item
from tests.test_console import live, login, open_handoff, world  # noqa: F401  (fixtures)
from tests.test_web import LiveServer


def test_the_conversation_page_shows_the_profile_and_what_was_not_applied(live: LiveServer,  # noqa: F811
                                                                          world: Runtime) -> None:  # noqa: F811
    handoff_id = open_handoff(world)
    with world.sessions() as session, session.begin():
        shipment = session.scalars(select(Shipment).order_by(Shipment.id)).first()
        assert shipment is not None
        set_item(session, customer_id=shipment.customer_id, item=Item.SAFE_PLACE, value="<i>behind the gate</i>",
                 by=By.CUSTOMER, channel="sms")
        session.add(ProfileApplication(shipment_id=shipment.id, customer_id=shipment.customer_id, item="window",
                                       outcome="not_offered", detail="not_offered"))
        number = shipment.tracking_number
    client, _ = login(live)
    page = client.get(f"/agent/handoffs/{handoff_id}")
    assert page.status_code == 200
    assert "Recipient profile" in page.text and "&lt;i&gt;behind the gate&lt;/i&gt;" in page.text
    assert f"{number}: window — not offered" in page.text
    assert "set safe_place by customer (sms)" in page.text
