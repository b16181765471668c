"""'Where did you leave it?' end to end: a signed SMS into the running stack, the answer from the parcel's
proof of delivery, and the photo fetched through the link in that very answer."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select

from bot.aftercare.proof import PLACE_WORDS
from bot.core.models import DeliveryProof, DropPlace
from bot.core.runtime import Runtime
from bot.demo.sms_sim import send_as_customer
from tests.e2e.conftest import CustomerPool
from tests.e2e.helpers import recently_delivered


def test_where_did_you_leave_it_over_sms_answers_with_the_proof_and_its_photo(stack_runtime: Runtime,
                                                                             customers: CustomerPool) -> None:
    customer, _, delivered = recently_delivered(customers, stack_runtime)
    with stack_runtime.sessions() as session:
        proof = session.scalar(select(DeliveryProof).where(DeliveryProof.shipment_id == delivered.id))
        assert proof is not None and proof.photo_format == "png" and proof.place
        place = PLACE_WORDS[DropPlace(proof.place)]
    exchange = send_as_customer(stack_runtime, customer.phone, "where exactly did you leave it?")
    assert exchange.status_code == 204
    reply = "\n".join(exchange.replies)
    assert f"Parcel {delivered.tracking_number[-4:]} was delivered " in reply, reply
    assert "Where: " in reply and (place in reply or "with a neighbour: " in reply), reply
    link = re.search(r"Photo and details: (\S+/t/([\w.\-]+))", reply)
    assert link is not None, reply
    base = stack_runtime.settings.web_internal_url
    photo = httpx.get(f"{base}/t/{link.group(2)}/proof.png")
    assert photo.status_code == 200 and photo.content.startswith(b"\x89PNG")
    assert photo.headers["cache-control"].startswith("private")
    assert httpx.get(f"{base}/t/{link.group(2)[:-2]}xx/proof.png").status_code == 404
