"""Small parts of the chat hardening on their own: the channels' token buckets (standard library
only, so they run here too), the web chat origins default, and whom the verify form counts."""

from __future__ import annotations

import importlib.util

from rasa_sdk import Tracker

from actions.identity import clients_of
from bot.core.settings import ROOT, Settings

# addons/ is the Rasa runtime's package (its __init__ imports rasa); this module of it is standard
# library only, so it is loaded here from its file.
_spec = importlib.util.spec_from_file_location("chat_ratelimit", ROOT / "addons" / "ratelimit.py")
assert _spec is not None and _spec.loader is not None
ratelimit = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ratelimit)
TokenBuckets, client_address = ratelimit.TokenBuckets, ratelimit.client_address


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_the_burst_then_the_rate() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(per_minute=6, burst=3, clock=clock)
    assert [buckets.allow("a") for _ in range(4)] == [True, True, True, False]
    assert buckets.retry_after("a") == 10  # one token every 10 s
    assert buckets.allow("b")  # another client has its own bucket
    clock.now += 10
    assert buckets.allow("a") and not buckets.allow("a")
    clock.now += 3600
    assert [buckets.allow("a") for _ in range(4)] == [True, True, True, False]  # never more than the burst


def test_buckets_forget_the_quietest_clients_beyond_their_bound() -> None:
    buckets = TokenBuckets(per_minute=1, burst=1, max_clients=2, clock=FakeClock())
    assert buckets.allow("a") and buckets.allow("b") and buckets.allow("c")
    assert buckets.allow("a")  # "a" was forgotten (a full bucket again), "c" was not
    assert not buckets.allow("c")


def test_client_address_is_the_proxied_one_only_when_sanic_trusts_a_proxy() -> None:
    assert client_address("", "203.0.113.7") == "203.0.113.7"
    assert client_address("[2001:db8::1]", "10.0.0.1") == "2001:db8::1"


def test_web_chat_origins_default_to_the_public_base_url() -> None:
    local = Settings(_env_file=None, public_base_url="http://localhost:8000")  # type: ignore[call-arg]
    assert local.webchat_origins == ["http://localhost:8000", "http://127.0.0.1:8000"]
    configured = Settings(_env_file=None, webchat_allowed_origins="https://a.example/, https://b.example")  # type: ignore[call-arg]
    assert configured.webchat_origins == ["https://a.example", "https://b.example"]


def _tracker(metadata: dict[str, object]) -> Tracker:
    return Tracker.from_dict({
        "sender_id": "rest:probe", "slots": {}, "latest_message": {}, "latest_input_channel": "rest",
        "events": [{"event": "user", "text": "10115", "input_channel": "rest", "metadata": metadata}],
    })


def test_the_verify_form_counts_the_conversation_and_the_address_our_channel_saw() -> None:
    assert clients_of(_tracker({"channel": "rest", "client_address": "203.0.113.9"})) == [
        "rest:rest:probe", "ip:203.0.113.9"]
    assert clients_of(_tracker({"client_address": "2001:db8:1:2:3:4:5:6"}))[1] == "ip:2001:db8:1:2::/64"
    assert clients_of(_tracker({"client_address": "not an address"})) == ["rest:rest:probe"]
