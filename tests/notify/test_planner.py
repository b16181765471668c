"""What a shipment's state calls for: pure functions on objects made in the test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.core.models import Customer, Return, Shipment, ShipmentStatus
from bot.notify.dispatch import in_quiet_hours
from bot.notify.planner import Situation, Wanted, fallback_channel, wanted
from bot.notify.rules import load_rules

RULES = load_rules()
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def parcel(status: ShipmentStatus, *, tz: str = "Europe/Berlin", channels: tuple[str, ...] = ("sms", "email"),
           **fields: object) -> Shipment:
    customer = Customer(id=1, name="Ada Lovelace", phone="+4915100000001", email="ada@example.com", locale="en",
                        time_zone=tz, preferred_channels=list(channels), quiet_hours_start=21, quiet_hours_end=8)
    shipment = Shipment(id=7, tracking_number="DS0000000007", customer=customer, status=status, status_at=NOW,
                        address_line="Teststraße 1", postcode="10115", city="Berlin", lat=52.5, lng=13.4, items=[],
                        **fields)
    shipment.returns = []
    return shipment


def keys(shipment: Shipment, now: datetime = NOW, situation: Situation | None = None) -> dict[str, Wanted]:
    return {w.trigger: w for w in wanted(shipment, now, RULES, situation or Situation())}


def test_the_evening_before_is_the_customers_evening() -> None:
    promised = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    for tz, hour_utc in (("Europe/Berlin", 17), ("Europe/London", 18)):
        want = keys(parcel(ShipmentStatus.AT_DEPOT, tz=tz, promised_start=promised,
                           promised_end=promised + timedelta(hours=2)))["day_before"]
        assert want.due_at.astimezone(UTC) == datetime(2026, 11, 25, hour_utc, 0, tzinfo=UTC)
        assert want.channel == "sms"
    # On the day itself it is too late for "tomorrow".
    today = parcel(ShipmentStatus.AT_DEPOT, promised_start=NOW + timedelta(hours=3), promised_end=NOW + timedelta(hours=5))
    assert "day_before" not in keys(today)


def test_a_slipping_window_is_announced_once_per_step() -> None:
    promised_end = NOW + timedelta(hours=2)
    on_time = parcel(ShipmentStatus.OUT_FOR_DELIVERY, promised_start=NOW, promised_end=promised_end,
                     eta_start=NOW + timedelta(minutes=70), eta_end=promised_end + timedelta(minutes=10))
    assert "delayed" not in keys(on_time)
    late = parcel(ShipmentStatus.OUT_FOR_DELIVERY, promised_start=NOW, promised_end=promised_end,
                  eta_start=NOW + timedelta(minutes=85), eta_end=promised_end + timedelta(minutes=25))
    later = parcel(ShipmentStatus.OUT_FOR_DELIVERY, promised_start=NOW, promised_end=promised_end,
                   eta_start=NOW + timedelta(minutes=95), eta_end=promised_end + timedelta(minutes=35))
    much_later = parcel(ShipmentStatus.OUT_FOR_DELIVERY, promised_start=NOW, promised_end=promised_end,
                        eta_start=NOW + timedelta(minutes=110), eta_end=promised_end + timedelta(minutes=45))
    first, same, second = (keys(s)["delayed"].dedupe_key(7) for s in (late, later, much_later))
    assert first == same != second


def test_stops_away_needs_the_driver_close_and_old_news_is_not_sent() -> None:
    out = parcel(ShipmentStatus.OUT_FOR_DELIVERY, promised_start=NOW, promised_end=NOW + timedelta(hours=2))
    assert "stops_away" not in keys(out, situation=Situation(stops_before=5))
    assert "stops_away" in keys(out, situation=Situation(stops_before=2))
    delivered = parcel(ShipmentStatus.DELIVERED, delivered_at=NOW - timedelta(days=1))
    assert "delivered" not in keys(delivered)
    fresh = parcel(ShipmentStatus.DELIVERED, delivered_at=NOW - timedelta(minutes=5))
    assert "delivered" in keys(fresh)


def test_channels_follow_the_customer_and_their_opt_outs() -> None:
    out = parcel(ShipmentStatus.FAILED_ATTEMPT)
    assert keys(out)["failed_attempt"].channel == "sms"
    assert keys(out, situation=Situation(opted_out=frozenset({"sms"})))["failed_attempt"].channel == "email"
    assert "failed_attempt" not in keys(out, situation=Situation(opted_out=frozenset({"sms", "email"})))
    email_only = parcel(ShipmentStatus.FAILED_ATTEMPT, channels=("email",))
    assert keys(email_only)["failed_attempt"].channel == "email"
    # An SMS that failed for good falls back to email even for an SMS-only trigger.
    assert fallback_channel(RULES, "out_for_delivery", out.customer, Situation(), "sms") == "email"
    assert fallback_channel(RULES, "out_for_delivery", out.customer, Situation(frozenset({"email"})), "sms") is None


def test_locker_and_return_messages() -> None:
    at_locker = parcel(ShipmentStatus.AT_LOCKER)
    wants = keys(at_locker)
    deadline = NOW + timedelta(days=RULES.locker_hold_days)
    assert wants["locker_reminder"].due_at == deadline - timedelta(hours=24)
    assert keys(at_locker, now=deadline + timedelta(minutes=1)).get("locker_reminder") is None
    delivered = parcel(ShipmentStatus.DELIVERED, delivered_at=NOW - timedelta(days=2))
    delivered.returns = [Return(id=3, rma="RMA-1", items=[], reason="too small", method="locker", status="created",
                                label_code="QR123", created_at=NOW - timedelta(minutes=2))]
    wants = keys(delivered)
    assert wants["return_label"].dedupe_key(7) == "7:return_label:RMA-1:email"
    assert wants["return_dropoff_reminder"].due_at == NOW - timedelta(minutes=2) + timedelta(days=3)


def test_quiet_hours_in_the_customers_time_zone() -> None:
    night_in_berlin = datetime(2026, 11, 24, 21, 30, tzinfo=UTC)  # 22:30 in Berlin, 21:30 in London
    wake = in_quiet_hours(night_in_berlin, "Europe/Berlin", 21, 8)
    assert wake == datetime(2026, 11, 25, 8, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert in_quiet_hours(night_in_berlin, "Europe/London", 22, 7) is None
    assert in_quiet_hours(datetime(2026, 11, 24, 12, tzinfo=UTC), "Europe/Berlin", 21, 8) is None
    assert in_quiet_hours(datetime(2026, 11, 24, 12, tzinfo=UTC), "Europe/Berlin", 0, 0) is None  # none kept
