"""What is true: SQLAlchemy 2 typed models. Schemas for the API live apart from these.

All datetimes are stored as UTC and come back timezone-aware (`UTCDateTime`), on SQLite and
PostgreSQL alike; a customer's local time is a presentation concern (`bot.text.timefmt`).
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC; refuses naive input so no local time sneaks in."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class ShipmentStatus(enum.StrEnum):
    LABEL_CREATED = "label_created"
    IN_TRANSIT = "in_transit"
    AT_DEPOT = "at_depot"
    OUT_FOR_DELIVERY = "out_for_delivery"
    FAILED_ATTEMPT = "failed_attempt"
    AT_LOCKER = "at_locker"
    DELIVERED = "delivered"
    RETURNED = "returned"


# Lifecycle rank: an event never moves a shipment to a lower rank (out-for-delivery after delivered
# changes nothing). A failed attempt and the next day's out-for-delivery share a rank so a retry works.
STATUS_RANK: dict[ShipmentStatus, int] = {
    ShipmentStatus.LABEL_CREATED: 0,
    ShipmentStatus.IN_TRANSIT: 1,
    ShipmentStatus.AT_DEPOT: 2,
    ShipmentStatus.OUT_FOR_DELIVERY: 3,
    ShipmentStatus.FAILED_ATTEMPT: 3,
    ShipmentStatus.AT_LOCKER: 4,
    ShipmentStatus.DELIVERED: 5,
    ShipmentStatus.RETURNED: 6,
}
FINAL_STATUSES = {ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED}


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str] = mapped_column(String(20), unique=True, index=True)  # E.164
    email: Mapped[str] = mapped_column(String(254), index=True)
    locale: Mapped[str] = mapped_column(String(10), default="en")
    time_zone: Mapped[str] = mapped_column(String(64), default="Europe/Berlin")
    preferred_channels: Mapped[list[Any]] = mapped_column(default=lambda: ["sms", "email"])
    quiet_hours_start: Mapped[int] = mapped_column(Integer, default=21)  # local hour
    quiet_hours_end: Mapped[int] = mapped_column(Integer, default=8)
    accessibility_needs: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    shipments: Mapped[list[Shipment]] = relationship(back_populates="customer")
    consents: Mapped[list[Consent]] = relationship(back_populates="customer")


class Consent(Base):
    """Opt-out state per customer and channel; no row means opted in (transactional messages)."""

    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("customer_id", "channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(64))  # e.g. "sms keyword STOP", "chat request"
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="consents")


class Depot(Base):
    __tablename__ = "depots"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    address: Mapped[str] = mapped_column(String(200))
    lat: Mapped[float] = mapped_column(Float)
    lng: Mapped[float] = mapped_column(Float)
    time_zone: Mapped[str] = mapped_column(String(64), default="Europe/Berlin")


class Driver(Base):
    __tablename__ = "drivers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    vehicle: Mapped[str] = mapped_column(String(60))
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    position_at: Mapped[datetime | None]


class Route(Base):
    __tablename__ = "routes"

    id: Mapped[int] = mapped_column(primary_key=True)
    driver_id: Mapped[int] = mapped_column(ForeignKey("drivers.id"))
    depot_id: Mapped[int] = mapped_column(ForeignKey("depots.id"))
    service_date: Mapped[date] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(16), default="planned")  # planned | active | done
    departs_at: Mapped[datetime]

    driver: Mapped[Driver] = relationship()
    stops: Mapped[list[Stop]] = relationship(back_populates="route", order_by="Stop.sequence")


class Stop(Base):
    __tablename__ = "stops"

    id: Mapped[int] = mapped_column(primary_key=True)
    route_id: Mapped[int] = mapped_column(ForeignKey("routes.id"), index=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"), index=True)
    sequence: Mapped[int] = mapped_column(Integer)
    planned_at: Mapped[datetime]
    delay_minutes: Mapped[int] = mapped_column(Integer, default=0)  # how late the sandbox makes it
    will_fail: Mapped[bool] = mapped_column(Boolean, default=False)  # the sandbox's failed attempt
    completed_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(16))  # delivered | failed | skipped

    route: Mapped[Route] = relationship(back_populates="stops")
    shipment: Mapped[Shipment] = relationship()


class Locker(Base):
    __tablename__ = "lockers"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    address: Mapped[str] = mapped_column(String(200))
    postcode: Mapped[str] = mapped_column(String(10))
    lat: Mapped[float] = mapped_column(Float)
    lng: Mapped[float] = mapped_column(Float)
    opening_hours: Mapped[dict[str, Any]] = mapped_column()  # {"mon": ["07:00", "22:00"], ...}
    capacity: Mapped[int] = mapped_column(Integer)
    occupied: Mapped[int] = mapped_column(Integer, default=0)

    @property
    def free(self) -> int:
        return max(self.capacity - self.occupied, 0)


class Shipment(Base):
    __tablename__ = "shipments"

    id: Mapped[int] = mapped_column(primary_key=True)
    tracking_number: Mapped[str] = mapped_column(String(40), unique=True, index=True)
    carrier: Mapped[str] = mapped_column(String(32), default="sandbox")
    order_reference: Mapped[str] = mapped_column(String(40))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    status: Mapped[str] = mapped_column(String(32), default=ShipmentStatus.LABEL_CREATED)
    status_at: Mapped[datetime | None]
    promised_start: Mapped[datetime | None]
    promised_end: Mapped[datetime | None]
    eta_start: Mapped[datetime | None]
    eta_end: Mapped[datetime | None]
    address_line: Mapped[str] = mapped_column(String(200))
    postcode: Mapped[str] = mapped_column(String(10), index=True)
    city: Mapped[str] = mapped_column(String(80))
    lat: Mapped[float] = mapped_column(Float)
    lng: Mapped[float] = mapped_column(Float)
    locker_id: Mapped[int | None] = mapped_column(ForeignKey("lockers.id"))
    locker_pickup_code: Mapped[str | None] = mapped_column(String(16))
    instructions: Mapped[str | None] = mapped_column(Text)
    items: Mapped[list[Any]] = mapped_column(default=list)  # [{"sku", "name", "qty", "returnable"}]
    delivered_at: Mapped[datetime | None]
    return_until: Mapped[datetime | None]  # end of the return window, when returnable
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="shipments")
    locker: Mapped[Locker | None] = relationship()
    events: Mapped[list[ShipmentEvent]] = relationship(
        back_populates="shipment", order_by="ShipmentEvent.occurred_at"
    )
    returns: Mapped[list[Return]] = relationship(back_populates="shipment")

    @property
    def status_enum(self) -> ShipmentStatus:
        return ShipmentStatus(self.status)


class ShipmentEvent(Base):
    """A normalised carrier event; (carrier, event_id) is unique so a redelivered webhook is a no-op."""

    __tablename__ = "shipment_events"
    __table_args__ = (UniqueConstraint("carrier", "event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"), index=True)
    carrier: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    description: Mapped[str] = mapped_column(String(200), default="")
    applied: Mapped[bool] = mapped_column(Boolean)  # False when it was older than the current state
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)

    shipment: Mapped[Shipment] = relationship(back_populates="events")


class Return(Base):
    __tablename__ = "returns"

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"), index=True)
    rma: Mapped[str] = mapped_column(String(32), unique=True)
    items: Mapped[list[Any]] = mapped_column()
    reason: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(16))  # locker | pickup | label
    status: Mapped[str] = mapped_column(String(24), default="created")
    label_code: Mapped[str | None] = mapped_column(String(64))  # QR / label reference
    locker_id: Mapped[int | None] = mapped_column(ForeignKey("lockers.id"))
    pickup_start: Mapped[datetime | None]
    pickup_end: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The carrier's printable label (base64), where it returns one: attached to the label email.
    label_document: Mapped[str | None] = mapped_column(Text)
    label_format: Mapped[str | None] = mapped_column(String(16))

    shipment: Mapped[Shipment] = relationship(back_populates="returns")


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_status_due_at", "status", "due_at"),
                      # the planner's "this batch's planned messages" (migration 0014)
                      Index("ix_notifications_shipment_id_status", "shipment_id", "status"))

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    shipment_id: Mapped[int | None] = mapped_column(ForeignKey("shipments.id"))
    trigger: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(16))
    template: Mapped[str] = mapped_column(String(80))
    locale: Mapped[str] = mapped_column(String(10))
    to_address: Mapped[str] = mapped_column(String(254))
    body: Mapped[str] = mapped_column(Text, default="")
    dedupe_key: Mapped[str] = mapped_column(String(160), unique=True)
    provider: Mapped[str | None] = mapped_column(String(32))
    provider_id: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(24), default="planned")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    due_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Dispatch (issue 4): the rendered message is kept so a retry or a reconciliation sends and
    # matches exactly the same text; a claim marks who is sending it and since when.
    subject: Mapped[str | None] = mapped_column(String(200))
    html: Mapped[str | None] = mapped_column(Text)
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    recorded_at: Mapped[datetime | None]  # when the customer's Rasa conversation got it

    events: Mapped[list[NotificationEvent]] = relationship(
        back_populates="notification", order_by="NotificationEvent.id"
    )


class NotificationEvent(Base):
    """One step of a message's timeline: planned, deferred, sent, delivered, failed, cancelled…"""

    __tablename__ = "notification_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(24))
    detail: Mapped[str | None] = mapped_column(Text)

    notification: Mapped[Notification] = relationship(back_populates="events")


class OutboxMessage(Base):
    """What the embedded outbox 'sent' (outbound) and what the demo phone answered (inbound)."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    sid: Mapped[str] = mapped_column(String(40), unique=True)
    channel: Mapped[str] = mapped_column(String(16))  # sms | email
    direction: Mapped[str] = mapped_column(String(16), default="outbound")
    to_address: Mapped[str] = mapped_column(String(254), index=True)
    from_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(24), default="delivered")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    html: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)  # status callback, custom args


class ConversationLink(Base):
    """Who a channel's sender is: SMS senders by phone, web chat sessions once verified."""

    __tablename__ = "conversation_links"
    __table_args__ = (UniqueConstraint("channel", "sender_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    sender_id: Mapped[str] = mapped_column(String(128))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    shipment_id: Mapped[int | None] = mapped_column(ForeignKey("shipments.id"))
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    verified_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Agent(Base):
    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(200))  # argon2
    role: Mapped[str] = mapped_column(String(16), default="agent")  # agent | admin
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Handoff(Base):
    __tablename__ = "handoffs"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    sender_id: Mapped[str] = mapped_column(String(128), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    shipment_id: Mapped[int | None] = mapped_column(ForeignKey("shipments.id"))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | assigned | closed
    reason: Mapped[str] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(Text)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    assigned_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]


class AuditLog(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(80))  # "bot:sms:+49…", "agent:3", "carrier:sandbox"
    action: Mapped[str] = mapped_column(String(60))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class SimClock(Base):
    """The sandbox's accelerated clock: sim_now = sim_start + (now - real_start) × speed."""

    __tablename__ = "sim_clock"

    id: Mapped[int] = mapped_column(primary_key=True)
    real_start: Mapped[datetime]
    sim_start: Mapped[datetime]
    speed: Mapped[float] = mapped_column(Float)


class Heartbeat(Base):
    """Processes without an HTTP port (the scheduler) prove they are alive here."""

    __tablename__ = "heartbeats"

    component: Mapped[str] = mapped_column(String(32), primary_key=True)
    beat_at: Mapped[datetime]


# -- issue 7: carrier adapters ------------------------------------------------------------------


class CarrierRef(Base):
    """A shipment's id at its carrier (a UPS "1Z…", an Onfleet task id), when it is not our tracking number."""

    __tablename__ = "carrier_refs"
    __table_args__ = (UniqueConstraint("carrier", "external_id"),)

    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"), primary_key=True)
    carrier: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(80))


# --- issue 5: agent console -------------------------------------------------------------------


class AgentSession(Base):
    """A logged-in agent: the cookie carries the signed id; logout or expiry ends it here."""

    __tablename__ = "agent_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # random, never guessable
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]

    agent: Mapped[Agent] = relationship()


# --- Issue 6: ETA engine ---------------------------------------------------------------------------------------------
class EtaWindowChange(Base):
    """Each window the ETA engine set for a shipment on a route: the first placement, then every move.

    A move is a promise broken and made again; counting them is part of measuring the windows.
    """

    __tablename__ = "eta_window_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"), index=True)
    route_id: Mapped[int] = mapped_column(ForeignKey("routes.id"), index=True)
    at: Mapped[datetime]
    old_start: Mapped[datetime | None]
    old_end: Mapped[datetime | None]
    new_start: Mapped[datetime]
    new_end: Mapped[datetime]
    moved: Mapped[bool] = mapped_column(Boolean)  # False for the first placement
    point_eta: Mapped[datetime]
    probability: Mapped[float] = mapped_column(Float)  # chance the arrival falls in the new window


# --- Issue 12 (hardening): verification limits ------------------------------------------------


class VerificationLimit(Base):
    """Tracking number + postcode guesses, counted per tracking number and per client across every
    conversation and process (`bot.conversation.verify_limits`). `locks` drives the backoff; `first_locked_at`
    names the current run of locks, which the customer is told about once."""

    __tablename__ = "verification_limits"
    __table_args__ = (UniqueConstraint("scope", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))  # "tracking" | "client"
    subject: Mapped[str] = mapped_column(String(200))  # the tracking number, or the client's key
    failures: Mapped[int] = mapped_column(Integer, default=0)  # since the last lock or success
    locks: Mapped[int] = mapped_column(Integer, default=0)  # in this run: the next lock lasts longer
    locked_until: Mapped[datetime | None]
    first_locked_at: Mapped[datetime | None]
    last_failure_at: Mapped[datetime | None]


# --- Issue 15 (after delivery): proof of delivery, claims ------------------------------------------------------------


class DropPlace(enum.StrEnum):
    """Where a driver left a parcel, as carriers report it (Onfleet's and DHL's codes map onto these)."""

    HANDED_OVER = "handed_over"  # to the recipient in person
    FRONT_DOOR = "front_door"
    BACK_DOOR = "back_door"
    PORCH = "porch"
    GARAGE = "garage"
    SHED = "shed"
    MAILBOX = "mailbox"
    RECEPTION = "reception"
    NEIGHBOUR = "neighbour"
    LOCKER = "locker"
    OTHER = "other"


class DeliveryProof(Base):
    """What the carrier recorded when it delivered a parcel: place, note, time, drop point and photo.

    One per shipment (the latest delivery wins). `instructions_in_force` is copied at the drop so the
    comparison (`compliance`) stays what it was even if the customer edits the instructions later.
    The photo is stored like return labels (base64 in the row) and served only through the parcel's
    signed link.
    """

    __tablename__ = "delivery_proofs"

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"), unique=True, index=True)
    carrier: Mapped[str] = mapped_column(String(32))
    delivered_at: Mapped[datetime]
    place: Mapped[str | None] = mapped_column(String(24))  # DropPlace
    note: Mapped[str | None] = mapped_column(Text)  # the driver's own words
    neighbour: Mapped[str | None] = mapped_column(String(120))  # name / house number, when left with one
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    distance_m: Mapped[int | None] = mapped_column(Integer)  # drop point to the delivery address
    photo: Mapped[str | None] = mapped_column(Text)  # base64
    photo_format: Mapped[str | None] = mapped_column(String(16))  # png | jpeg
    driver_id: Mapped[int | None] = mapped_column(ForeignKey("drivers.id"))
    depot_id: Mapped[int | None] = mapped_column(ForeignKey("depots.id"))
    instructions_in_force: Mapped[str | None] = mapped_column(Text)
    compliance: Mapped[str] = mapped_column(String(16), default="unknown")  # as_asked | differs | unknown
    compliance_reasons: Mapped[list[Any]] = mapped_column(default=list)  # ["place", "neighbour", "distance"]
    customer_asked_at: Mapped[datetime | None]  # when we asked the customer whether all is well
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    shipment: Mapped[Shipment] = relationship()


class ClaimKind(enum.StrEnum):
    MISSING = "missing"  # says delivered, not received
    NOT_AS_ASKED = "not_as_asked"  # left somewhere other than the instructions said
    DISPUTED_ATTEMPT = "disputed_attempt"  # "not in" while the customer was home


class ClaimStatus(enum.StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class ClaimResolution(enum.StrEnum):
    REDELIVER = "redeliver"
    REFUND = "refund"  # through the retailer
    CARRIER_INVESTIGATION = "carrier_investigation"
    FOUND = "found"  # the customer found it after all


class Claim(Base):
    """A missing parcel or a complaint about a delivery: one per parcel; repeated reports add to it."""

    __tablename__ = "claims"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True, index=True)  # told to the customer
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"), unique=True, index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))  # ClaimKind of the first report
    status: Mapped[str] = mapped_column(String(16), default=ClaimStatus.OPEN, index=True)
    channel: Mapped[str] = mapped_column(String(16))  # where the customer is told: sms | web | whatsapp | email
    sender_id: Mapped[str | None] = mapped_column(String(200))  # the conversation to tell, when there is one
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)  # proof, instructions, timeline, distance
    reports: Mapped[list[Any]] = mapped_column(default=list)  # [{"at", "kind", "channel", "words"}]
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_by: Mapped[datetime]  # what the customer was promised: an answer by then
    resolution: Mapped[str | None] = mapped_column(String(24))  # ClaimResolution
    resolution_note: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    carrier_claim_id: Mapped[str | None] = mapped_column(String(80))  # where the carrier has a claims API
    customer_told_at: Mapped[datetime | None]

    shipment: Mapped[Shipment] = relationship()
    customer: Mapped[Customer] = relationship()


# --- Issue 17 (scale-out): event-driven planning, the workers' dead letters ------------------------


class PlanningRequest(Base):
    """An outbox row: "plan this shipment's messages again", written in the transaction that changed a
    fact the plans depend on (`bot.notify.replan.request_replan`), consumed by a planning worker once
    `due_at` has come (`bot.notify.planning`). A worker that dies leaves it here for the next one."""

    __tablename__ = "planning_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"), index=True)
    reason: Mapped[str] = mapped_column(String(64))
    due_at: Mapped[datetime] = mapped_column(index=True)  # REPLAN_NOW for "as soon as a worker is free"
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FailedTask(Base):
    """A worker task that ran out of retries (the dead-letter path): shown on the ops page."""

    __tablename__ = "failed_tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    task: Mapped[str] = mapped_column(String(80))
    task_id: Mapped[str] = mapped_column(String(64), unique=True)
    arguments: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    failed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


# --- Issue 16, item 1: the recipient profile that follows every parcel ----------------------------


class RecipientProfile(Base):
    """A customer's standing wishes for every parcel, whichever carrier brings it (`bot.profile`).

    Language, channels, quiet hours and the accessibility text stay on `Customer`; this row holds the
    rest. Free text is the customer's own words, stored as typed and escaped wherever it is shown."""

    __tablename__ = "recipient_profiles"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    safe_place: Mapped[str | None] = mapped_column(Text)  # "behind the green gate"
    neighbour: Mapped[str | None] = mapped_column(Text)  # "no. 14", "Mrs Weber, 2nd floor"
    suit_days: Mapped[list[Any]] = mapped_column(default=list)  # ["fri"]: days that suit
    never_days: Mapped[list[Any]] = mapped_column(default=list)  # ["mon"]: days that never suit
    not_before: Mapped[int | None] = mapped_column(Integer)  # local minutes after midnight: "never before 10"
    not_after: Mapped[int | None] = mapped_column(Integer)  # local minutes after midnight: "never after 18"
    locker_code: Mapped[str | None] = mapped_column(String(32))  # every parcel to this locker
    extra_door_minutes: Mapped[int] = mapped_column(Integer, default=0)  # time to get to the door
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProfileChange(Base):
    """The profile's history: each setting and each deletion, when, by whom, through which channel."""

    __tablename__ = "profile_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    item: Mapped[str] = mapped_column(String(32))  # a `bot.profile.Item`
    action: Mapped[str] = mapped_column(String(16))  # set | delete
    old: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"value": ...}
    new: Mapped[dict[str, Any]] = mapped_column(default=dict)
    by: Mapped[str] = mapped_column(String(16))  # customer | agent | system
    channel: Mapped[str] = mapped_column(String(16))  # sms | web | page | console | api
    actor: Mapped[str] = mapped_column(String(80), default="")  # "agent:3"; never a phone number
    shipment_id: Mapped[int | None] = mapped_column(ForeignKey("shipments.id"), index=True)  # the parcel link it came through


class ProfileApplication(Base):
    """What the profile did to one new parcel, item by item: applied, or why not (shown to agents)."""

    __tablename__ = "profile_applications"
    __table_args__ = (UniqueConstraint("shipment_id", "item"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    item: Mapped[str] = mapped_column(String(32))  # note | neighbour | window | locker
    outcome: Mapped[str] = mapped_column(String(16))  # applied | not_offered | refused | carrier_down | no_window
    detail: Mapped[str] = mapped_column(Text, default="")  # what was sent, or the refusal code
    at: Mapped[datetime] = mapped_column(default=utcnow)


# Every flush that changes a fact the notification plans depend on asks for them again (issue 17).
import bot.notify.replan  # noqa: E402, F401  (registers the flush hook wherever the models are used)


# -- Issue 16, item 5: delays owned (goodwill for a broken delivery promise) ----------------------
class GoodwillGrant(Base):
    """The operator's goodwill for a broken promise (`config/notifications.yml`, `goodwill:`): at most one per
    shipment (the unique key), a voucher code from the pool given at most once; `pool_empty` when the pool had
    none left, so an agent can make it good (dashboard, console)."""

    __tablename__ = "goodwill_grants"

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))  # "granted" | "pool_empty"
    code: Mapped[str | None] = mapped_column(String(40), unique=True)
    slip_minutes: Mapped[int] = mapped_column(Integer)
    granted_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


# --- Issue 16, item 2 (away from home): holds over all of a customer's parcels ---------------------


class Hold(Base):
    """"I'm away until the 12th": every parcel of the customer arriving from `starts_on` to `ends_on` (both
    included, the customer's days) is moved to the first window after it, or sent to a locker. Made by
    `bot.changes.hold`; its parcels and what happened to each are in `HoldParcel`."""

    __tablename__ = "holds"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    mode: Mapped[str] = mapped_column(String(16))  # reschedule | locker
    locker_id: Mapped[int | None] = mapped_column(ForeignKey("lockers.id"))
    channel: Mapped[str] = mapped_column(String(16))  # sms, web, rest, console, api
    language: Mapped[str] = mapped_column(String(10), default="en")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]

    customer: Mapped[Customer] = relationship()
    locker: Mapped[Locker | None] = relationship()
    parcels: Mapped[list[HoldParcel]] = relationship(back_populates="hold", order_by="HoldParcel.id")


class HoldParcel(Base):
    """One parcel under a hold: the plan the customer confirmed (or that a new parcel got), and the outcome."""

    __tablename__ = "hold_parcels"
    __table_args__ = (UniqueConstraint("hold_id", "shipment_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hold_id: Mapped[int] = mapped_column(ForeignKey("holds.id"), index=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))  # reschedule | locker | none (could not be held)
    outcome: Mapped[str] = mapped_column(String(16))  # done | refused | carrier_down
    code: Mapped[str | None] = mapped_column(String(40))  # the refusal's code
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the new window or locker
    new_parcel: Mapped[bool] = mapped_column(Boolean, default=False)  # arrived after the hold was confirmed
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    hold: Mapped[Hold] = relationship(back_populates="parcels")
    shipment: Mapped[Shipment] = relationship()
