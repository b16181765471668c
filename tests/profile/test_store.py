"""The profile store: items checked, each change and deletion recorded, contact settings on the customer."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.core.models import Customer, ProfileChange
from bot.core.runtime import Runtime
from bot.profile import By, InvalidValue, Item, delete_wishes, history, read, set_item
from tests.profile.conftest import first_customer


def test_a_change_is_stored_and_recorded_with_who_and_where(world: Runtime) -> None:
    customer_id = first_customer(world)
    with world.sessions() as session, session.begin():
        assert set_item(session, customer_id=customer_id, item=Item.NEIGHBOUR, value="  no.   14 ", by=By.CUSTOMER,
                        channel="sms")
        assert not set_item(session, customer_id=customer_id, item=Item.NEIGHBOUR, value="no. 14", by=By.CUSTOMER,
                            channel="sms")  # already so: nothing recorded twice
    with world.sessions() as session:
        profile = read(session, customer_id)
        assert profile is not None and profile.neighbour == "no. 14" and profile.has_wishes
        (change,) = history(session, customer_id)
        assert (change.item, change.action, change.old, change.new, change.by, change.channel) == (
            "neighbour", "set", {"value": None}, {"value": "no. 14"}, "customer", "sms")


def test_contact_settings_live_on_the_customer(world: Runtime) -> None:
    customer_id = first_customer(world)
    with world.sessions() as session, session.begin():
        set_item(session, customer_id=customer_id, item=Item.LANGUAGE, value="nl", by=By.AGENT, channel="console",
                 actor="agent:1")
        set_item(session, customer_id=customer_id, item=Item.QUIET_HOURS, value=[22, 7], by=By.CUSTOMER, channel="page")
        set_item(session, customer_id=customer_id, item=Item.CHANNELS, value=["sms"], by=By.CUSTOMER, channel="page")
    with world.sessions() as session:
        customer = session.get(Customer, customer_id)
        assert customer is not None
        assert (customer.locale, customer.quiet_hours_start, customer.quiet_hours_end) == ("nl", 22, 7)
        assert customer.preferred_channels == ["sms"]
        assert [c.item for c in history(session, customer_id)] == ["channels", "quiet_hours", "language"]


@pytest.mark.parametrize(("item", "value"), [
    (Item.SAFE_PLACE, "x" * 201), (Item.SAFE_PLACE, "a"), (Item.SAFE_PLACE, "bell\x00"),
    (Item.SUIT_DAYS, ["someday"]), (Item.SUIT_DAYS, "fri"), (Item.NOT_BEFORE, 24 * 60), (Item.NOT_BEFORE, True),
    (Item.LOCKER, "NOPE-1"), (Item.LANGUAGE, "fr"), (Item.CHANNELS, ["fax"]), (Item.CHANNELS, []),
    (Item.QUIET_HOURS, [22]), (Item.DOOR_MINUTES, 90),
])
def test_bad_values_are_refused_and_change_nothing(world: Runtime, item: Item, value: object) -> None:
    customer_id = first_customer(world)
    with world.sessions() as session, session.begin(), pytest.raises(InvalidValue):
        set_item(session, customer_id=customer_id, item=item, value=value, by=By.CUSTOMER, channel="page")
    with world.sessions() as session:
        assert history(session, customer_id) == []


def test_html_is_stored_as_text(world: Runtime) -> None:
    customer_id = first_customer(world)
    words = '<script>alert("x")</script> by the door'
    with world.sessions() as session, session.begin():
        set_item(session, customer_id=customer_id, item=Item.SAFE_PLACE, value=words, by=By.CUSTOMER, channel="page")
    with world.sessions() as session:
        profile = read(session, customer_id)
        assert profile is not None and profile.safe_place == words


def test_deleting_the_wishes_records_each_and_leaves_contact_settings(world: Runtime) -> None:
    customer_id = first_customer(world)
    with world.sessions() as session, session.begin():
        for item, value in [(Item.NEIGHBOUR, "no. 14"), (Item.NOT_BEFORE, 600), (Item.SUIT_DAYS, ["fri"]),
                            (Item.LOCKER, "BER-ALX"), (Item.LANGUAGE, "de")]:
            set_item(session, customer_id=customer_id, item=item, value=value, by=By.CUSTOMER, channel="sms")
    with world.sessions() as session, session.begin():
        assert delete_wishes(session, customer_id=customer_id, by=By.CUSTOMER, channel="page") == 4
    with world.sessions() as session:
        profile = read(session, customer_id)
        assert profile is not None and not profile.has_wishes and profile.language == "de"
        deletions = session.scalars(select(ProfileChange.item).where(ProfileChange.action == "delete",
                                                                     ProfileChange.customer_id == customer_id)).all()
        assert sorted(deletions) == ["locker", "neighbour", "not_before", "suit_days"]
