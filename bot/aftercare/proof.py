"""Proof of delivery: recording what the carrier reported at the drop, and one read-side view of it that
the tracking page and the bot both show.

`record_proof` keeps one `DeliveryProof` per shipment (the latest delivery wins), with the distance from
the drop point to the address, the instructions in force at the drop and how the drop compares with
them (`bot.aftercare.compliance`). `proof_view` turns a proof into the few facts a customer reads, in
their language, leaving out whatever the carrier did not give.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.aftercare.compliance import compare
from bot.carriers.models import DropProof
from bot.core.geo import distance_m
from bot.core.models import DeliveryProof, DropPlace, Shipment
from bot.text import N_, t
from bot.text.timefmt import clock, day_label

MAX_NOTE = 500
MAX_NEIGHBOUR = 120
MAX_PHOTO_BYTES = 2_000_000
PHOTO_TYPES = {"png": "image/png", "jpeg": "image/jpeg"}
_MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "jpeg": b"\xff\xd8\xff"}
SMS_NOTE = 80  # characters of the driver's note in a text message

PLACE_WORDS: dict[DropPlace, str] = {
    DropPlace.HANDED_OVER: N_("handed over in person"),
    DropPlace.FRONT_DOOR: N_("at the front door"),
    DropPlace.BACK_DOOR: N_("at the back door"),
    DropPlace.PORCH: N_("in the porch"),
    DropPlace.GARAGE: N_("in the garage"),
    DropPlace.SHED: N_("in the shed"),
    DropPlace.MAILBOX: N_("in the mailbox"),
    DropPlace.RECEPTION: N_("at reception"),
    DropPlace.NEIGHBOUR: N_("with a neighbour"),
    DropPlace.LOCKER: N_("in a parcel locker"),
    DropPlace.OTHER: N_("another place (see the note)"),
}
ROW_LABELS = {"at": N_("When"), "where": N_("Where"), "note": N_("Driver's note"),
              "distance": N_("Distance from the address"), "photo": N_("Photo")}


# -- recording -------------------------------------------------------------------------------------
def photo_bytes(photo: str | None, photo_format: str | None) -> bytes | None:
    """The picture, if it is what it says it is (a PNG or a JPEG, not too big); else None."""
    if not photo or photo_format not in PHOTO_TYPES or len(photo) > MAX_PHOTO_BYTES * 4 // 3 + 4:
        return None
    try:
        data = base64.b64decode(photo, validate=True)
    except (binascii.Error, ValueError):
        return None
    return data if data.startswith(_MAGIC[photo_format]) and len(data) <= MAX_PHOTO_BYTES else None


def _place(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return DropPlace(value.strip().lower()).value
    except ValueError:
        return DropPlace.OTHER.value


def _clean(text: str | None, limit: int) -> str | None:
    cleaned = " ".join((text or "").split())[:limit]
    return cleaned or None


def record_proof(session: Session, shipment: Shipment, drop: DropProof, *, carrier: str, delivered_at: datetime,
                 max_distance_m: float) -> DeliveryProof:
    """Record (or replace, when this delivery is the latest) the shipment's proof of delivery."""
    proof = session.scalar(select(DeliveryProof).where(DeliveryProof.shipment_id == shipment.id))
    if proof is not None and proof.delivered_at > delivered_at:
        return proof  # an older delivery's proof, arriving late: the latest wins
    if proof is None:
        proof = DeliveryProof(shipment_id=shipment.id)
        session.add(proof)
    elif proof.delivered_at != delivered_at:
        proof.customer_asked_at = None  # a new delivery: its own comparison, its own question to the customer
    place, neighbour = _place(drop.place), _clean(drop.neighbour, MAX_NEIGHBOUR)
    if neighbour and place is None:
        place = DropPlace.NEIGHBOUR.value
    located = drop.lat is not None and drop.lng is not None and -90 <= drop.lat <= 90 and -180 <= drop.lng <= 180
    distance = round(distance_m(drop.lat, drop.lng, shipment.lat, shipment.lng)) \
        if located and drop.lat is not None and drop.lng is not None else None
    picture = photo_bytes(drop.photo, drop.photo_format)
    comparison = compare(shipment.instructions, place, neighbour, distance, max_distance_m)
    proof.carrier, proof.delivered_at = carrier, delivered_at
    proof.place, proof.note, proof.neighbour = place, _clean(drop.note, MAX_NOTE), neighbour
    proof.lat, proof.lng, proof.distance_m = (drop.lat, drop.lng, distance) if located else (None, None, None)
    proof.photo = base64.b64encode(picture).decode() if picture else None
    proof.photo_format = drop.photo_format if picture else None
    proof.driver_id, proof.depot_id = drop.driver_id, drop.depot_id
    proof.instructions_in_force = shipment.instructions
    proof.compliance, proof.compliance_reasons = comparison.verdict, list(comparison.reasons)
    session.flush()
    return proof


def proof_of(session: Session, shipment_id: int) -> DeliveryProof | None:
    return session.scalar(select(DeliveryProof).where(DeliveryProof.shipment_id == shipment_id))


# -- the view --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProofRow:
    key: str  # at | where | note | distance | photo
    label: str
    value: str


@dataclass(frozen=True)
class ProofView:
    """What a customer reads about a delivery; None where the carrier gave nothing."""

    at: str | None
    where: str | None
    note: str | None
    distance: str | None
    distance_m: int | None
    far: bool  # farther from the address than the comparison allows
    has_photo: bool
    photo_format: str | None
    drop: tuple[float, float] | None
    address: tuple[float, float]
    rows: tuple[ProofRow, ...]  # only the facts that have a value, in reading order


def where_words(place: str | None, neighbour: str | None, language: str) -> str | None:
    """"at the front door", "with a neighbour: no. 14" in the customer's language."""
    if neighbour and place in (None, DropPlace.NEIGHBOUR):
        return t(language, "with a neighbour: {neighbour}", neighbour=neighbour)
    if not place:
        return None
    try:
        return t(language, PLACE_WORDS[DropPlace(place)])
    except ValueError:
        return t(language, PLACE_WORDS[DropPlace.OTHER])


def proof_view(proof: DeliveryProof, language: str, tz: str, now: datetime) -> ProofView:
    at = t(language, "{day} at {time}", day=day_label(proof.delivered_at, now, tz, language),
           time=clock(proof.delivered_at, tz))
    where = where_words(proof.place, proof.neighbour, language)
    distance = t(language, "{m} m from the address", m=proof.distance_m) if proof.distance_m is not None else None
    has_photo = bool(proof.photo and proof.photo_format in PHOTO_TYPES)
    values = {"at": at, "where": where, "note": proof.note, "distance": distance,
              "photo": t(language, "taken by the driver") if has_photo else None}
    rows = tuple(ProofRow(key, t(language, ROW_LABELS[key]), value) for key, value in values.items() if value)
    drop = (proof.lat, proof.lng) if proof.lat is not None and proof.lng is not None else None
    return ProofView(at=at, where=where, note=proof.note, distance=distance, distance_m=proof.distance_m,
                     far="distance" in (proof.compliance_reasons or []), has_photo=has_photo,
                     photo_format=proof.photo_format if has_photo else None, drop=drop,
                     address=(proof.shipment.lat, proof.shipment.lng), rows=rows)


def proof_lines(view: ProofView, language: str) -> list[str]:
    """The proof in a few short sentences for a text message: where, the driver's note, the distance when far."""
    lines = []
    if view.where:
        lines.append(t(language, "Where: {where}.", where=view.where))
    if view.note:
        note = view.note if len(view.note) <= SMS_NOTE else view.note[:SMS_NOTE - 1].rstrip() + "…"
        note = note.rstrip(".")  # the sentence ends with its own full stop
        lines.append(t(language, "Driver's note: \"{note}\".", note=note))
    if view.far and view.distance_m is not None:
        lines.append(t(language, "It was left {m} m from your address.", m=view.distance_m))
    return lines


def proof_message(view: ProofView, *, ref: str, link: str, language: str) -> str:
    """"Where did you leave it?": when, where, the note, the distance when far, and the link to the photo."""
    parts = [t(language, "Parcel {ref} was delivered {when}.", ref=ref, when=view.at), *proof_lines(view, language)]
    parts.append(t(language, "Photo and details: {link}", link=link) if view.has_photo
                 else t(language, "Track: {link}", link=link))
    return " ".join(parts)
