"""The change service over HTTP, version 1: what can be changed now, and making a change.

`GET  /api/v1/shipments/{tracking_number}/changes`        what can be changed now, with the choices
`POST /api/v1/shipments/{tracking_number}/changes/{kind}`  make one change (reschedule, locker, …)

Authorised by the parcel's signed tracking-page token (`Authorization: Bearer <token>`, the token of
`/t/<token>`): a customer acts on their own parcel only. A logged-in agent's session cookie is
accepted too (with the session's CSRF token in `X-CSRF-Token` for a change), for any parcel; the
change is then in the audit log under the agent's name. Answers: 200 with what was done; 401 for a
missing, forged or expired token; 403 for another parcel's token; 404 for an unknown parcel; 409 with
the reason code when the change is refused; 422 for a malformed request; 429 when a client asks too
often; 503 when the carrier does not answer. Nothing is changed by any answer but a 200.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AwareDatetime, BaseModel, Field, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.carriers import TimeWindow
from bot.changes import (
    AddressRequest,
    Asker,
    CarrierDown,
    Done,
    InstructionsRequest,
    Kind,
    LockerRequest,
    NeighbourRequest,
    Outcome,
    Reason,
    Refused,
    Requester,
    RescheduleRequest,
    ReturnRequest,
    make,
    options,
)
from bot.changes import (
    Request as ChangeRequest,
)
from bot.conversation.identity import normalise_tracking_number, read_link_token
from bot.core.db import transaction
from bot.core.models import AuditLog, Shipment
from bot.core.runtime import Runtime
from bot.text import language_of
from bot.text.timefmt import window as window_text
from bot.web.auth import CSRF_HEADER, SAFE_METHODS, AgentContext, client_address, load_agent
from bot.web.deps import RuntimeDep, SessionDep
from bot.web.ratelimit import Limiter, app_limits

router = APIRouter(prefix="/api/v1/shipments", tags=["changes"])
NO_STORE = {"Cache-Control": "no-store"}
bearer = HTTPBearer(auto_error=False, description="The parcel's tracking-page token (the <token> of /t/<token>).")


# -- what goes over the wire ---------------------------------------------------------------------
class ApiError(BaseModel):
    code: str = Field(description="A reason code: a carrier's refusal (e.g. out_for_delivery) or ours "
                                  "(e.g. not_your_parcel, carrier_down)")
    message: str = Field(description="The reason in the customer's language")


class Window(BaseModel):
    start: AwareDatetime
    end: AwareDatetime
    label: str = Field(description="The window as the customer reads it, in their language")


class Locker(BaseModel):
    code: str
    name: str
    address: str
    distance_m: int
    free: int


class Item(BaseModel):
    sku: str
    name: str


class Possible(BaseModel):
    kind: Kind
    possible: bool
    reason: str | None = Field(None, description="Why not, as a reason code")
    message: str | None = Field(None, description="Why not, in the customer's language")


class ChangesView(BaseModel):
    tracking_number: str
    changes: list[Possible]
    windows: list[Window] = Field(description="Delivery windows for a reschedule")
    lockers: list[Locker] = Field(description="Lockers with room, for a redirect")
    return_methods: list[str] = Field(description="locker, pickup, label: those the carrier offers")
    return_items: list[Item]
    return_lockers: list[Locker]
    pickup_windows: list[Window]


class RescheduleBody(BaseModel):
    start: AwareDatetime
    end: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> RescheduleBody:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class LockerBody(BaseModel):
    locker_code: str = Field(min_length=1, max_length=40)


class InstructionsBody(BaseModel):
    note: str = Field(min_length=3, max_length=300, description="What the driver should know")


class NeighbourBody(BaseModel):
    neighbour: str = Field(min_length=2, max_length=300, description="The neighbour's name, house number, floor")


class AddressBody(BaseModel):
    address_line: str = Field(min_length=3, max_length=200)
    postcode: str = Field(pattern=r"^\d{5}$")


class ReturnBody(BaseModel):
    items: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(
        default_factory=list, max_length=50, description="SKUs to return; empty: every returnable item")
    reason: str = Field(min_length=1, max_length=200)
    method: Literal["locker", "pickup", "label"]
    locker_code: str | None = Field(None, max_length=40, description="For method=locker")
    pickup_start: AwareDatetime | None = Field(None, description="For method=pickup")
    pickup_end: AwareDatetime | None = None


class ChangeDone(BaseModel):
    kind: Kind
    message: str = Field(description="The confirmation, in the customer's language")
    detail: dict[str, Any]


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ApiError, "description": what} for status, what in (
        (401, "No token, or a forged or expired one"), (403, "The token is for another parcel"),
        (404, "No such parcel"), (409, "The change is refused now; `code` says why"),
        (429, "Too many requests from this client"), (503, "The carrier does not answer; nothing was changed"))
}


# -- who asks ----------------------------------------------------------------------------------
class ApiProblem(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


async def problem_handler(request: Request, problem: Exception) -> JSONResponse:
    """An `ApiProblem` as its status and `ApiError` body."""
    assert isinstance(problem, ApiProblem)
    headers = {**NO_STORE, **({"Retry-After": "60"} if problem.status == 429 else {})}
    return JSONResponse(ApiError(code=problem.code, message=problem.message).model_dump(), status_code=problem.status,
                        headers=headers)


def changes_limiter(request: Request) -> Limiter:
    """Requests that change deliveries, per client address: the API, the tracking page's forms, the profile page."""
    state = request.app.state
    if not hasattr(state, "changes_api_limiter"):
        state.changes_api_limiter = app_limits(state).limiter(
            "changes-api", state.runtime.settings.change_api_requests_per_hour, 3600)
    limiter: Limiter = state.changes_api_limiter
    return limiter


class Caller(BaseModel):
    shipment_id: int
    by: Requester
    customer_id: int | None  # the customer the token is for; None for an agent
    language: str
    agent_id: int | None = None


def _caller(runtime: Runtime, token: str | None, tracking_number: str, lang: str | None) -> Caller:
    if not token:
        raise ApiProblem(401, "no_token", "Send the parcel's tracking-page token as a Bearer token.")
    settings = runtime.settings
    shipment_id = read_link_token(settings.link_secret, token, max_age_days=settings.link_max_age_days)
    if shipment_id is None:
        raise ApiProblem(401, "bad_token", "The token is not valid or has expired.")
    number = normalise_tracking_number(tracking_number)
    with runtime.sessions() as session:
        shipment = session.get(Shipment, shipment_id)
        if shipment is None:
            raise ApiProblem(404, Reason.UNKNOWN_PARCEL.value, "No such parcel.")
        if number is None or shipment.tracking_number != number:
            raise ApiProblem(403, "not_your_parcel", "This token is for another parcel.")
        return Caller(shipment_id=shipment.id, by=Requester.API, customer_id=shipment.customer_id,
                      language=language_of(lang or shipment.customer.locale))


def _agent_caller(request: Request, db: Session, agent: AgentContext, tracking_number: str,
                  lang: str | None) -> Caller:
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER)
        if not sent or not secrets.compare_digest(sent, agent.csrf_token):
            raise ApiProblem(403, "bad_csrf_token", "Send the session's CSRF token in X-CSRF-Token.")
    number = normalise_tracking_number(tracking_number)
    shipment = db.scalar(select(Shipment).where(Shipment.tracking_number == number)) if number else None
    if shipment is None:
        raise ApiProblem(404, Reason.UNKNOWN_PARCEL.value, "No such parcel.")
    return Caller(shipment_id=shipment.id, by=Requester.AGENT, customer_id=None, agent_id=agent.agent.id,
                  language=language_of(lang or shipment.customer.locale))


async def caller(request: Request, tracking_number: str, runtime: RuntimeDep, db: SessionDep,
                 credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
                 lang: str | None = None) -> Caller:
    """The parcel the token authorises (or an agent's session), once the client is within its rate."""
    if not changes_limiter(request).allow(client_address(request)):
        raise ApiProblem(429, "too_many_requests", "Too many requests; try again later.")
    if credentials is None and (agent := load_agent(request, db)) is not None:
        return _agent_caller(request, db, agent, tracking_number[:60], lang)
    token = credentials.credentials if credentials is not None else None
    return await run_in_threadpool(_caller, runtime, token, tracking_number[:60], lang)


CallerDep = Annotated[Caller, Depends(caller)]


# -- routes ------------------------------------------------------------------------------------
def _locker(option: Any) -> Locker:
    return Locker(code=option.code, name=option.name, address=option.address, distance_m=int(option.distance_m),
                  free=option.free)


@router.get("/{tracking_number}/changes", response_model=ChangesView, responses=ERRORS)
async def list_changes(tracking_number: str, who: CallerDep, runtime: RuntimeDep) -> Any:
    """What can be changed about this parcel now, why not where not, and the choices for each change."""
    asker = Asker(shipment_id=who.shipment_id, by=who.by, customer_id=who.customer_id, language=who.language)
    found = await run_in_threadpool(options, runtime, asker)
    parcel = found.parcel
    assert parcel is not None

    def windows(found_windows: list[TimeWindow]) -> list[Window]:
        return [Window(start=w.start, end=w.end, label=window_text(w.start, w.end, parcel.now, parcel.tz, who.language))
                for w in found_windows]

    view = ChangesView(
        tracking_number=parcel.tracking_number,
        changes=[Possible(kind=kind, possible=refusal is None, reason=refusal.code.value if refusal else None,
                          message=refusal.message if refusal else None) for kind, refusal in found.refusals.items()],
        windows=windows(found.windows), lockers=[_locker(o) for o in found.lockers],
        return_methods=found.return_methods, return_items=[Item(**item) for item in found.return_items],
        return_lockers=[_locker(o) for o in found.return_lockers], pickup_windows=windows(found.pickup_windows),
    )
    return JSONResponse(view.model_dump(mode="json"), headers=NO_STORE)


STATUS = {Reason.UNKNOWN_PARCEL: 404, Reason.NOT_VERIFIED: 401, Reason.INVALID: 422}


async def _make(runtime: Runtime, request: ChangeRequest, who: Caller) -> JSONResponse:
    outcome = await run_in_threadpool(make, runtime, request)
    if who.agent_id is not None:
        await run_in_threadpool(_audit, runtime, who.agent_id, request, outcome)
    if isinstance(outcome, Refused):
        status = STATUS.get(outcome.code, 409) if isinstance(outcome.code, Reason) else 409
        raise ApiProblem(status, outcome.code.value, outcome.message)
    if isinstance(outcome, CarrierDown):
        raise ApiProblem(503, Reason.CARRIER_DOWN.value, outcome.message)
    done = ChangeDone(kind=outcome.kind, message=outcome.message, detail=outcome.detail)
    return JSONResponse(done.model_dump(mode="json"), headers=NO_STORE)


def _audit(runtime: Runtime, agent_id: int, request: ChangeRequest, outcome: Outcome) -> None:
    """An agent's change (or attempt) through the API, in the audit log like the console's."""
    detail = outcome.detail if isinstance(outcome, Done) else {"refused": getattr(outcome, "code", "carrier_down")}
    with transaction(runtime.sessions) as session:
        session.add(AuditLog(actor=f"agent:{agent_id}", action=f"api.{request.kind}", entity="shipment",
                             entity_id=str(request.shipment_id), detail={k: str(v) for k, v in detail.items()}))


def _who(who: Caller) -> dict[str, Any]:
    return {"shipment_id": who.shipment_id, "by": who.by, "customer_id": who.customer_id, "language": who.language}


@router.post("/{tracking_number}/changes/reschedule", response_model=ChangeDone, responses=ERRORS)
async def reschedule(tracking_number: str, body: RescheduleBody, who: CallerDep, runtime: RuntimeDep) -> Any:
    """Move the delivery to one of the offered windows."""
    return await _make(runtime, RescheduleRequest(**_who(who), window=TimeWindow(body.start, body.end)), who)


@router.post("/{tracking_number}/changes/locker", response_model=ChangeDone, responses=ERRORS)
async def redirect_to_locker(tracking_number: str, body: LockerBody, who: CallerDep, runtime: RuntimeDep) -> Any:
    """Send the parcel to a locker with room instead of the door."""
    return await _make(runtime, LockerRequest(**_who(who), locker_code=body.locker_code), who)


@router.post("/{tracking_number}/changes/instructions", response_model=ChangeDone, responses=ERRORS)
async def instructions(tracking_number: str, body: InstructionsBody, who: CallerDep, runtime: RuntimeDep) -> Any:
    """Pass a note to the driver."""
    return await _make(runtime, InstructionsRequest(**_who(who), note=" ".join(body.note.split())), who)


@router.post("/{tracking_number}/changes/neighbour", response_model=ChangeDone, responses=ERRORS)
async def neighbour(tracking_number: str, body: NeighbourBody, who: CallerDep, runtime: RuntimeDep) -> Any:
    """Leave the parcel with a neighbour if nobody is home."""
    return await _make(runtime, NeighbourRequest(**_who(who), neighbour=" ".join(body.neighbour.split())), who)


@router.post("/{tracking_number}/changes/address", response_model=ChangeDone, responses=ERRORS)
async def change_address(tracking_number: str, body: AddressBody, who: CallerDep, runtime: RuntimeDep) -> Any:
    """Deliver to another address in the depot's area."""
    return await _make(runtime, AddressRequest(**_who(who), address_line=" ".join(body.address_line.split()),
                                               postcode=body.postcode), who)


@router.post("/{tracking_number}/changes/return", response_model=ChangeDone, responses=ERRORS)
async def book_return(tracking_number: str, body: ReturnBody, who: CallerDep, runtime: RuntimeDep) -> Any:
    """Book a return of delivered items: locker drop-off (with a locker), pickup (with a window) or an email label."""
    pickup = None
    if body.pickup_start is not None and body.pickup_end is not None and body.pickup_start < body.pickup_end:
        pickup = TimeWindow(body.pickup_start, body.pickup_end)
    return await _make(runtime, ReturnRequest(**_who(who), items=body.items, reason=body.reason, method=body.method,
                                              locker_code=body.locker_code, pickup=pickup), who)
