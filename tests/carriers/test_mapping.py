"""The carriers' mappings are pure: answers and webhooks in, our value types and refusal codes out."""

from __future__ import annotations

import httpx
import pytest

from bot.carriers import CarrierError, CarrierUnavailable, ChangeRefused, Refusal, UnknownShipment
from bot.carriers.onfleet import mapping as onfleet
from bot.carriers.rest import mapping as rest


def rest_error(status: int, **error: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": "change_refused", "message": "No.", **error}})


@pytest.mark.parametrize(("reason", "code"), [("window_taken", Refusal.WINDOW_TAKEN), ("locker_full", Refusal.LOCKER_FULL),
                                              ("made_up_by_a_newer_contract", Refusal.REJECTED), (None, Refusal.REJECTED)])
def test_a_rest_refusal_carries_the_contracts_reason(reason: str | None, code: Refusal) -> None:
    response = rest_error(409, **({"reason": reason} if reason else {}))
    with pytest.raises(ChangeRefused) as refused:
        rest.answer("rest", response)
    assert refused.value.code == code and refused.value.detail == "No."


@pytest.mark.parametrize(("status", "error"), [(404, UnknownShipment), (429, CarrierUnavailable), (503, CarrierUnavailable),
                                               (401, CarrierError)])
def test_other_rest_errors_are_ours(status: int, error: type[CarrierError]) -> None:
    with pytest.raises(error):
        rest.answer("rest", rest_error(status))


@pytest.mark.parametrize(("status", "code", "error"), [
    (400, 1000, ChangeRefused), (401, 1102, CarrierError), (404, 1402, UnknownShipment),
    (429, 2300, CarrierUnavailable), (500, 2500, CarrierUnavailable)])
def test_onfleet_error_codes_are_ours(status: int, code: int, error: type[CarrierError]) -> None:
    body = {"code": "X", "message": {"error": code, "message": "m", "cause": None, "request": "r"}}
    found = onfleet.error(status, body)
    assert type(found) is error
    assert not isinstance(found, ChangeRefused) or found.code == Refusal.REJECTED


def test_an_onfleet_error_page_is_unavailable() -> None:
    with pytest.raises(CarrierUnavailable):
        onfleet.answer(httpx.Response(502, text="<html>502 Bad Gateway</html>"))


@pytest.mark.parametrize("payload", [
    [], {"triggerName": "taskStarted"}, {"triggerName": "taskStarted", "taskId": "t1", "time": True, "data": {}},
    {"triggerName": "taskStarted", "taskId": "t1", "time": 1, "data": {"task": {"id": "other"}}},
    {"triggerName": "taskStarted", "taskId": "x" * 41, "time": 1, "data": {"task": {}}}])
def test_an_onfleet_webhook_that_is_not_a_trigger_is_refused(payload: object) -> None:
    with pytest.raises(ValueError):
        onfleet.webhook_task(payload)


def test_an_onfleet_eta_trigger_is_a_window_around_the_arrival() -> None:
    payload = {"triggerName": "taskEta", "taskId": "t1", "time": 1_795_939_200_000, "etaSeconds": 600,
               "data": {"task": {"id": "t1", "state": 2}}}
    event, trigger = onfleet.webhook_event(payload, "DS1")
    assert (event.status, trigger, event.event_id) == ("out_for_delivery", "taskEta", "taskEta:t1:1795939200000")
    assert event.eta is not None and int((event.eta.end - event.eta.start).total_seconds()) == 1800
