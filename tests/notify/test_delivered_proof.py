"""The "delivered" message links to the tracking page (where the proof and photo are) in every language,
and says where the parcel was left from the carrier's proof when there is one."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from bot.aftercare.proof import record_proof
from bot.carriers.models import DropProof
from bot.conversation.identity import read_link_token
from bot.core.models import Notification, ShipmentStatus
from bot.core.runtime import Runtime
from bot.notify.render import context_for, render
from bot.notify.segments import segments
from tests import factories
from tests.conftest import T0

WHERE = {"en": "(at the back door)", "de": "(an der Hintertür)", "nl": "(bij de achterdeur)"}


@pytest.mark.parametrize("locale", ["en", "de", "nl"])
def test_the_delivered_message_links_to_the_page_and_says_where_it_was_left(sqlite_runtime: Runtime,
                                                                            locale: str) -> None:
    settings = sqlite_runtime.settings
    with sqlite_runtime.sessions() as session, session.begin():
        owner = factories.customer(session, locale=locale, time_zone="Europe/Berlin")
        shipment = factories.shipment(session, owner, at=T0, status=ShipmentStatus.DELIVERED,
                                      delivered_at=T0 + timedelta(hours=3), instructions="back door please")
        record_proof(session, shipment, DropProof(place="back_door", lat=shipment.lat, lng=shipment.lng),
                     carrier="sandbox", delivered_at=T0 + timedelta(hours=3), max_distance_m=50)
        note = Notification(trigger="delivered", context={})
        out = render("delivered", locale, context_for(note, shipment, now=T0 + timedelta(hours=4), settings=settings))
        shipment_id = shipment.id
    for text in (out.sms, out.html):
        links = re.findall(r"https?://[^\s\"<]+/t/([\w.\-]+)", text)
        assert links and read_link_token(settings.link_secret, links[0], max_age_days=30) == shipment_id
    assert WHERE[locale] in out.sms and WHERE[locale] in out.text
    assert segments(out.sms) <= 2


def test_without_a_proof_the_message_names_the_instructions_as_before(sqlite_runtime: Runtime) -> None:
    with sqlite_runtime.sessions() as session, session.begin():
        owner = factories.customer(session, locale="en")
        shipment = factories.shipment(session, owner, at=T0, status=ShipmentStatus.DELIVERED,
                                      delivered_at=T0, instructions="behind the gate")
        out = render("delivered", "en", context_for(Notification(trigger="delivered", context={}), shipment,
                                                    now=T0, settings=sqlite_runtime.settings))
    assert "(behind the gate)" in out.sms and "/t/" in out.sms
