"""What the after-delivery tests share: the demo world with an agent, and a delivered parcel with a proof."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.core.models import Agent, DeliveryProof, Shipment
from bot.core.runtime import Runtime
from tests import worlds
from tests.conftest import T0
from tests.factories import put_proof


@pytest.fixture
def world(sqlite_runtime: Runtime) -> Runtime:
    worlds.load_world(sqlite_runtime, world_speed=1, built_at=T0)
    with sqlite_runtime.sessions() as session, session.begin():
        session.add(Agent(email="sam@example.com", name="Sam", password_hash="x", role="agent"))
    return sqlite_runtime


def delivered(world: Runtime, *, note: str = "left at the back door") -> Shipment:
    """A delivered parcel with a proof that differs from the instructions (the back door, not no. 14)."""
    with world.sessions() as session, session.begin():
        shipment = session.scalars(select(Shipment).where(Shipment.status == "delivered")
                                   .order_by(Shipment.id)).first()
        assert shipment is not None
        put_proof(session, DeliveryProof(shipment_id=shipment.id, carrier=shipment.carrier,
                                  delivered_at=shipment.delivered_at or T0, place="back_door", note=note,
                                  lat=shipment.lat, lng=shipment.lng, distance_m=240, photo="iVBORw0KGgo=",
                                  photo_format="png", instructions_in_force="leave it with the neighbour at no. 14",
                                  compliance="differs", compliance_reasons=["place", "neighbour", "distance"]))
        return shipment
