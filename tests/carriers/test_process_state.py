"""No carrier adapter changes process-wide state: two adapters of a kind, pointed at two local servers, each
talk to their own, also when called at the same time, and the SDKs' module globals and urllib's opener
are as they were."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import onfleet.config
import onfleet.request
from onfleet import Onfleet
from requests.adapters import HTTPAdapter

from bot.carriers.onfleet import OnfleetCarrier
from bot.runtime import Runtime
from tests.carriers.fakes import API_KEY, Fake, serve
from tests.carriers.test_onfleet import TASK_ID, on_onfleet, onfleet_task

ROUNDS = 8


def side_by_side(first: Callable[[], str], second: Callable[[], str]) -> tuple[list[str], list[str]]:
    """Both calls ROUNDS times each, interleaved on four threads; what each returned."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [(pool.submit(first), pool.submit(second)) for _ in range(ROUNDS)]
        results = [(a.result(), b.result()) for a, b in futures]
    return [a for a, _ in results], [b for _, b in results]


def test_two_onfleet_adapters_each_use_their_own_server_and_leave_the_sdk_as_it_was(world: Runtime, fake: Fake) -> None:
    shipment = on_onfleet(world, fake, state=1)  # assigned here: at the depot
    other = Fake(tasks={TASK_ID: onfleet_task(shipment.tracking_number, state=2)})  # under way there
    sdk_session_adapters = dict(Onfleet._session.adapters)
    with serve(other) as other_url:
        second = OnfleetCarrier(world.sessions, api_key=API_KEY, api_url=f"{other_url}/onfleet/api/v2",
                                time_zone="Europe/Berlin")
        try:
            first = world.carrier("onfleet")
            here, there = side_by_side(lambda: first.track(shipment.tracking_number).status,
                                       lambda: second.track(shipment.tracking_number).status)
        finally:
            second.close()
    assert (set(here), set(there)) == ({"at_depot"}, {"out_for_delivery"})
    assert (fake.count("/onfleet"), other.count("/onfleet")) == (ROUNDS, ROUNDS)
    assert onfleet.request.API_BASE_URL == onfleet.config.API_BASE_URL  # the SDK's own constant, untouched
    assert Onfleet._session.auth is None  # the SDK's shared session holds nobody's key ...
    assert dict(Onfleet._session.adapters) == sdk_session_adapters  # ... and none of our transports
    assert all(type(adapter) is HTTPAdapter for adapter in Onfleet._session.adapters.values())

