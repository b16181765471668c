"""The verification limiter (`bot.conversation.verify_limits`) on SQLite and PostgreSQL: per tracking number and
per client, across sessions, with backoff; a lock refuses the right postcode too."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from bot.conversation.verify_limits import VerifyPolicy, lock_runs, verify
from bot.core.models import Shipment, VerificationLimit
from bot.core.runtime import Runtime
from tests import factories, worlds
from tests.conftest import T0

POLICY = VerifyPolicy(tracking_failures=3, client_failures=10, first_lock=timedelta(minutes=15),
                      max_lock=timedelta(hours=24), forget_after=timedelta(hours=48))
WRONG = [f"{n:05d}" for n in range(20000, 20100)]


def _parcel(runtime: Runtime) -> tuple[int, str]:
    with runtime.sessions() as session, session.begin():
        owner = factories.customer(session)
        parcel = factories.shipment(session, owner, at=T0, postcode="10115")
        return parcel.id, parcel.tracking_number


def _try(runtime: Runtime, tracking_number: str, postcode: str, client: str, at: object = T0,
         policy: VerifyPolicy = POLICY) -> int | None:
    with runtime.sessions() as session, session.begin():
        shipment = verify(session, tracking_number=tracking_number, postcode=postcode, clients=[client],
                          now=at, policy=policy)  # type: ignore[arg-type]
        return shipment.id if shipment is not None else None


def test_three_wrong_postcodes_from_three_clients_lock_the_tracking_number_even_for_the_right_one(
        runtime: Runtime) -> None:
    parcel_id, number = _parcel(runtime)
    for n in range(3):  # a new conversation (a new REST sender) each time
        assert _try(runtime, number, WRONG[n], f"rest:attacker-{n}") is None
    assert _try(runtime, number, "10115", "rest:attacker-3") is None  # locked: the right postcode too
    assert _try(runtime, number, "10115", "twilio:+4915199999999", at=T0 + timedelta(minutes=14)) is None
    assert _try(runtime, number, "10115", "rest:customer", at=T0 + timedelta(minutes=15, seconds=1)) == parcel_id


def test_locks_back_off_doubling_up_to_the_cap_and_start_over_after_a_quiet_spell(runtime: Runtime) -> None:
    _, number = _parcel(runtime)
    at = T0
    lengths = []
    for lock in range(9):
        for n in range(3):
            assert _try(runtime, number, WRONG[n], f"ip:10.0.0.{lock}", at=at) is None
        with runtime.sessions() as session:
            row = session.query(VerificationLimit).filter_by(scope="tracking", subject=number).one()
            assert row.locks == lock + 1 and row.locked_until is not None
            lengths.append(row.locked_until - at)
            at = row.locked_until
    assert lengths[:4] == [timedelta(minutes=m) for m in (15, 30, 60, 120)]
    assert lengths[-1] == timedelta(hours=24) and max(lengths) == timedelta(hours=24)
    # 48 hours after the last failure, the counter starts over: a first lock is short again.
    quiet = at + timedelta(hours=48, seconds=1)
    for n in range(3):
        _try(runtime, number, WRONG[n], "ip:10.1.1.1", at=quiet)
    with runtime.sessions() as session:
        row = session.query(VerificationLimit).filter_by(scope="tracking", subject=number).one()
        assert row.locks == 1 and row.locked_until == quiet + timedelta(minutes=15)


def test_one_client_guessing_many_tracking_numbers_is_locked(runtime: Runtime) -> None:
    parcels = [_parcel(runtime) for _ in range(11)]
    for (_, number), postcode in zip(parcels[:10], WRONG, strict=False):  # one guess each: no number locks
        assert _try(runtime, number, postcode, "ip:203.0.113.9") is None
    own_id, own_number = parcels[10]
    assert _try(runtime, own_number, "10115", "ip:203.0.113.9") is None  # the client is locked
    assert _try(runtime, own_number, "10115", "ip:198.51.100.1") == own_id  # the number is not
    with runtime.sessions() as session:
        numbers = [number for _, number in parcels[:10]]
        assert lock_runs(session, numbers) == {}  # no tracking number was locked, no warning due


def test_a_right_pair_gives_the_tracking_numbers_tries_back_but_not_the_clients(runtime: Runtime) -> None:
    parcel_id, number = _parcel(runtime)
    for _ in range(4):
        assert _try(runtime, number, WRONG[0], "ip:192.0.2.1") is None
        assert _try(runtime, number, WRONG[1], "ip:192.0.2.1") is None
        assert _try(runtime, number, "10115", "ip:192.0.2.1") == parcel_id  # the customer mistyped twice
    # Knowing one right pair (one's own parcel) must not wipe a client's failures elsewhere.
    with runtime.sessions() as session:
        client = session.query(VerificationLimit).filter_by(scope="client", subject="ip:192.0.2.1").one()
        assert client.failures == 8 and client.locks == 0


def test_parallel_guesses_compare_no_more_pairs_than_the_limit(runtime: Runtime) -> None:
    parcel_id, number = _parcel(runtime)
    guesses = [*WRONG[:19], "10115"]  # the right one last: with no limit in parallel, it would win

    def attempt(index: int) -> int | None:
        return _try(runtime, number, guesses[index], f"rest:parallel-{index}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(attempt, range(len(guesses))))
    assert parcel_id not in results
    with runtime.sessions() as session:
        row = session.query(VerificationLimit).filter_by(scope="tracking", subject=number).one()
        assert row.locks == 1 and lock_runs(session, [number]) == {number: T0}


def test_a_run_of_locks_is_one_run_for_the_warning(runtime: Runtime) -> None:
    _, number = _parcel(runtime)
    at = T0
    for lock in range(3):
        for n in range(3):
            _try(runtime, number, WRONG[n], f"ip:10.2.0.{lock}", at=at)
        at = at + POLICY.lock_for(lock + 1) + timedelta(seconds=1)
    with runtime.sessions() as session:
        assert lock_runs(session, [number]) == {number: T0}


def test_the_customer_is_warned_once_per_run_of_locks(runtime: Runtime) -> None:
    from sqlalchemy import select

    from bot.core.models import Notification
    from bot.notify.render import render
    from bot.notify.rules import cached_rules
    from bot.notify.service import plan_all

    parcel_id, number = _parcel(runtime)
    rules = cached_rules("")
    at = T0
    for lock in range(3):  # three locks in a row, planned after each
        for n in range(3):
            _try(runtime, number, WRONG[n], f"ip:10.3.0.{lock}", at=at)
        plan_all(runtime, at + timedelta(seconds=1), rules)
        at = at + POLICY.lock_for(lock + 1) + timedelta(seconds=1)
    with runtime.sessions() as session:
        warnings = session.scalars(select(Notification).where(Notification.trigger == "verify_warning")).all()
        assert [(w.shipment_id, w.channel, w.due_at) for w in warnings] == [(parcel_id, "sms", T0)]
    sms = render("verify_warning", "en", {"tracking_number": number, "link": "https://x.example/t/1",
                                          "first_name": "Ann"}).sms
    assert number in sms and "AGENT" in sms and "Nothing was changed" in sms


def test_the_tracking_pages_lookup_shares_the_limits_with_the_bot(sqlite_runtime: Runtime) -> None:
    """Three wrong lookups on the tracking page lock the number for the bot too, and a number the
    bot's guessers locked answers the page's lookup like a wrong postcode, the right one included."""
    import httpx

    from bot.core.clock import sim_now
    from tests.test_web import LiveServer

    worlds.load_world(sqlite_runtime, world_speed=30, built_at=T0)
    with sqlite_runtime.sessions() as session:
        parcels = session.query(Shipment).filter(Shipment.status == "in_transit").order_by(Shipment.id).limit(2).all()
        (first, first_postcode), (second, second_postcode) = [(p.tracking_number, p.postcode) for p in parcels]
    with LiveServer(sqlite_runtime.settings) as server:
        lookup = f"{server.url}/t/lookup"
        for postcode in WRONG[:3]:
            assert httpx.post(lookup, data={"tracking_number": first, "postcode": postcode}).status_code == 200
        refused = httpx.post(lookup, data={"tracking_number": first, "postcode": first_postcode})
        assert refused.status_code == 200 and "/t/" not in refused.headers.get("location", "")
        with sqlite_runtime.sessions() as session, session.begin():
            assert verify(session, tracking_number=first, postcode=first_postcode, clients=["rest:someone"],
                          now=sim_now(session), policy=POLICY) is None
            for postcode in WRONG[:3]:  # the bot's guessers lock the second number
                verify(session, tracking_number=second, postcode=postcode, clients=["ip:192.0.2.50"],
                       now=sim_now(session), policy=POLICY)
        locked = httpx.post(lookup, data={"tracking_number": second, "postcode": second_postcode})
        assert locked.status_code == 200 and locked.text == refused.text.replace(first, second)
