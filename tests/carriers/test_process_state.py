"""No carrier adapter changes process-wide state: two adapters of a kind (Onfleet, karrio, REST), pointed at
two local servers, each talk to their own, also when called at the same time from threads, and karrio's
module globals, urllib's opener and the default socket timeout are as they were. (Onfleet is called over
its REST API with httpx: the pyonfleet SDK, whose module constant and shared session an adapter once
rewrote, is no longer a dependency.)"""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bot.carriers import Capability
from bot.carriers.karrio import KarrioCarrier
from bot.carriers.onfleet import OnfleetCarrier
from bot.carriers.rest import RestCarrier
from bot.core.runtime import Runtime
from tests.carriers.conftest import switch
from tests.carriers.fakes import API_KEY, Fake, serve
from tests.carriers.test_karrio import UPS_NUMBER, in_transit, ups_package
from tests.carriers.test_onfleet import TASK_ID, on_onfleet, onfleet_task
from tests.carriers.test_rest import on_rest

ROUNDS = 8


def side_by_side(first: Callable[[], str], second: Callable[[], str]) -> tuple[list[str], list[str]]:
    """Both calls ROUNDS times each, interleaved on four threads; what each returned."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [(pool.submit(first), pool.submit(second)) for _ in range(ROUNDS)]
        results = [(a.result(), b.result()) for a, b in futures]
    return [a for a, _ in results], [b for _, b in results]


def test_two_onfleet_adapters_each_use_their_own_server(world: Runtime, fake: Fake) -> None:
    shipment = on_onfleet(world, fake, state=1)  # assigned here: at the depot
    other = Fake(tasks={TASK_ID: onfleet_task(shipment.tracking_number, state=2)})  # under way there
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



def beside(other: Fake, build: Callable[[str], Any], first: Callable[[], str],
           second: Callable[[Any], str]) -> tuple[list[str], list[str]]:
    """`first()` beside `second(adapter)`, where `build(url)` makes the adapter over `other`'s server (closed after)."""
    with serve(other) as other_url:
        adapter = build(other_url)
        try:
            return side_by_side(first, lambda: second(adapter))
        finally:
            adapter.close()


def test_two_karrio_adapters_each_use_their_own_server_and_leave_urllib_as_it_was(world: Runtime, fake: Fake) -> None:
    opener, default_timeout = urllib.request._opener, socket.getdefaulttimeout()  # type: ignore[attr-defined]
    here_parcel, there_parcel = in_transit(world)[:2]
    there_number = "1Z999AA10123456784"
    switch(world, here_parcel.id, "ups", UPS_NUMBER)
    switch(world, there_parcel.id, "ups", there_number)
    arrived = ("I", "AR", "Arrived at Facility", "20261123", "220000")
    fake.ups[UPS_NUMBER] = ups_package(arrived)
    other = Fake(ups={there_number: {**ups_package(arrived), "trackingNumber": there_number}})  # knows only its own
    here, there = beside(
        other, lambda url: KarrioCarrier(world.sessions, carrier="ups", server_url=f"{url}/ups",
                                         credentials={"client_id": "c2", "client_secret": "s2", "account_number": "B2"}),
        lambda: world.carrier("ups").track(here_parcel.tracking_number).tracking_number,
        lambda second: second.track(there_parcel.tracking_number).tracking_number)
    assert (set(here), set(there)) == ({here_parcel.tracking_number}, {there_parcel.tracking_number})
    assert (fake.count("/ups/api/track"), other.count("/ups/api/track")) == (ROUNDS, ROUNDS)
    assert urllib.request._opener is opener  # type: ignore[attr-defined]  # no process-wide opener installed
    assert socket.getdefaulttimeout() == default_timeout


def test_two_rest_adapters_each_use_their_own_server(world: Runtime, fake: Fake) -> None:
    number = on_rest(world, fake, status="at_depot").tracking_number
    there = {**fake.rest[number], "tracking": {**fake.rest[number]["tracking"], "status": "out_for_delivery"}}
    other = Fake(rest={number: there})
    here_status, there_status = beside(
        other, lambda url: RestCarrier(world.sessions, name="rest", base_url=f"{url}/rest", api_key=API_KEY,
                                       capabilities=frozenset({Capability.TRACK})),
        lambda: world.carrier("rest").track(number).status, lambda second: second.track(number).status)
    assert (set(here_status), set(there_status)) == ({"at_depot"}, {"out_for_delivery"})
    assert (fake.count("/rest"), other.count("/rest")) == (ROUNDS, ROUNDS)
