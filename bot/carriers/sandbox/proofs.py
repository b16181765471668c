"""The sandbox driver's proof of delivery: where the parcel was left, a note, the drop point and a photo.

The driver follows the instructions in force (a neighbour, a safe place), or leaves the parcel at the
front door or hands it over. At `ignore_rate` the driver ignores them (another place, another
neighbour or none); at `far_rate` the drop point is 80-400 m from the address. Deterministic for a seed
and a shipment. The photo is a small picture drawn in code: a door, the house number and the parcel.
"""

from __future__ import annotations

import base64
import io
import math
import random
import re
from dataclasses import dataclass

from PIL import Image, ImageDraw

from bot.aftercare.compliance import expected
from bot.carriers.models import DropProof
from bot.core.models import DropPlace, Shipment
from bot.core.settings import Settings

METRES_PER_DEGREE = 111_320
NEAR_M, FAR_M = (2.0, 12.0), (80.0, 400.0)
SAFE_PLACES = (DropPlace.FRONT_DOOR, DropPlace.BACK_DOOR, DropPlace.PORCH, DropPlace.GARAGE, DropPlace.MAILBOX)
# The driver's own words, in the household's language (the sandbox's drivers speak all three).
NOTES: dict[DropPlace, dict[str, str]] = {
    DropPlace.HANDED_OVER: {"en": "Handed to the customer at the door.", "de": "An der Tür persönlich übergeben.",
                            "nl": "Aan de deur persoonlijk afgegeven."},
    DropPlace.FRONT_DOOR: {"en": "Left at the front door.", "de": "Vor der Haustür abgestellt.",
                           "nl": "Bij de voordeur neergezet."},
    DropPlace.BACK_DOOR: {"en": "Left at the back door, out of sight.", "de": "An der Hintertür abgestellt, nicht einsehbar.",
                          "nl": "Bij de achterdeur neergezet, uit het zicht."},
    DropPlace.PORCH: {"en": "Left in the porch, out of the rain.", "de": "Im Vorbau abgestellt, regengeschützt.",
                      "nl": "In het portiek neergezet, droog."},
    DropPlace.GARAGE: {"en": "Left in the garage.", "de": "In der Garage abgestellt.", "nl": "In de garage gezet."},
    DropPlace.SHED: {"en": "Left in the shed.", "de": "Im Schuppen abgestellt.", "nl": "In de schuur gezet."},
    DropPlace.MAILBOX: {"en": "Put in the parcel box.", "de": "In den Paketkasten gelegt.", "nl": "In de pakketbus gedaan."},
    DropPlace.RECEPTION: {"en": "Left at reception.", "de": "Am Empfang abgegeben.", "nl": "Bij de receptie afgegeven."},
    DropPlace.NEIGHBOUR: {"en": "Neighbour took it.", "de": "Vom Nachbarn angenommen.", "nl": "Door de buren aangenomen."},
}
OTHER_NOTE = {"en": "Left as noted.", "de": "Wie vermerkt abgestellt.", "nl": "Neergezet zoals genoteerd."}
NEIGHBOUR_NOTE = {"en": "{who} took it.", "de": "{who} hat es angenommen.", "nl": "{who} heeft het aangenomen."}
NEIGHBOUR_AT = {"en": "Neighbour at {who}", "de": "Nachbar in {who}", "nl": "Buren op {who}"}
DOOR_COLOURS = {DropPlace.BACK_DOOR: (46, 125, 50), DropPlace.GARAGE: (120, 120, 120), DropPlace.NEIGHBOUR: (21, 101, 192),
                DropPlace.MAILBOX: (198, 40, 40), DropPlace.PORCH: (109, 76, 65)}


@dataclass(frozen=True)
class DropPolicy:
    """How often the sandbox's drivers ignore instructions or drop far away."""

    ignore_rate: float = 0.0
    far_rate: float = 0.0
    max_distance_m: float = 50.0

    @classmethod
    def from_settings(cls, settings: Settings) -> DropPolicy:
        return cls(ignore_rate=settings.sandbox_ignore_instructions_rate, far_rate=settings.sandbox_far_drop_rate,
                   max_distance_m=settings.proof_max_distance_m)


def _house_number(address_line: str) -> str:
    match = re.search(r"(\d{1,4}[a-z]?)\s*$", address_line or "")
    return match.group(1) if match else "1"


def _other_number(number: str) -> str:
    digits = int(re.sub(r"\D", "", number) or 1)
    return str(digits + 2)


def _choose(shipment: Shipment, rng: random.Random, ignore: bool) -> tuple[DropPlace, str | None]:
    wanted = expected(shipment.instructions)
    if wanted.neighbour:
        asked = sorted(wanted.numbers)[0] if wanted.numbers else None
        who = f"no. {asked}" if asked else (sorted(wanted.names)[0].title() if wanted.names else "next door")
        if not ignore:
            return DropPlace.NEIGHBOUR, who
        if asked and rng.random() < 0.5:
            return DropPlace.NEIGHBOUR, f"no. {_other_number(asked)}"
        return DropPlace.FRONT_DOOR, None
    if wanted.place is not None and wanted.place != DropPlace.HANDED_OVER:
        if not ignore:
            return wanted.place, None
        return rng.choice([p for p in SAFE_PLACES if p not in (wanted.place, DropPlace.PORCH, DropPlace.FRONT_DOOR)]
                          or [DropPlace.GARAGE]), None
    if ignore:  # nothing asked: "ignoring" means leaving it outside instead of ringing
        return rng.choice([DropPlace.PORCH, DropPlace.GARAGE]), None
    return (DropPlace.HANDED_OVER if rng.random() < 0.4 else DropPlace.FRONT_DOOR), None


def _offset(lat: float, lng: float, metres: float, bearing: float) -> tuple[float, float]:
    dlat = metres * math.cos(bearing) / METRES_PER_DEGREE
    dlng = metres * math.sin(bearing) / (METRES_PER_DEGREE * math.cos(math.radians(lat)))
    return lat + dlat, lng + dlng


def drop_proof(shipment: Shipment, *, seed: int, day: str, policy: DropPolicy, driver_id: int | None = None,
               depot_id: int | None = None) -> DropProof:
    """What the driver records at the drop; the same for the same seed, shipment and day."""
    rng = random.Random(f"{seed}-proof-{shipment.tracking_number}-{day}")
    ignore = rng.random() < policy.ignore_rate
    far = rng.random() < policy.far_rate
    place, neighbour = _choose(shipment, rng, ignore)
    lat, lng = _offset(shipment.lat, shipment.lng, rng.uniform(*(FAR_M if far else NEAR_M)), rng.uniform(0, 2 * math.pi))
    language = shipment.customer.locale if shipment.customer.locale in OTHER_NOTE else "en"
    note = NOTES.get(place, OTHER_NOTE)[language]
    if neighbour:
        who = NEIGHBOUR_AT[language].format(who=neighbour) if neighbour.startswith("no.") else neighbour
        note = NEIGHBOUR_NOTE[language].format(who=who)
    number = neighbour.removeprefix("no. ") if neighbour and neighbour.startswith("no.") else _house_number(
        shipment.address_line)
    photo = picture(place, number, rng)
    return DropProof(place=place.value, note=note, neighbour=neighbour, lat=lat, lng=lng,
                     photo=base64.b64encode(photo).decode(), photo_format="png", driver_id=driver_id, depot_id=depot_id)


def picture(place: DropPlace, number: str, rng: random.Random) -> bytes:
    """A 320x240 PNG: a wall, a door in the place's colour, the house number and the parcel."""
    image = Image.new("RGB", (320, 240), (236, 229, 216))
    draw = ImageDraw.Draw(image)
    wall = (196, 164, 132) if rng.random() < 0.5 else (210, 210, 200)
    draw.rectangle((0, 0, 319, 190), fill=wall)
    for y in range(12, 190, 22):  # bricks
        draw.line((0, y, 319, y), fill=(176, 146, 118) if wall[0] == 196 else (190, 190, 182))
    draw.rectangle((0, 190, 319, 239), fill=(128, 128, 128))
    door = DOOR_COLOURS.get(place, (93, 64, 55))
    draw.rectangle((110, 40, 210, 190), fill=door, outline=(40, 40, 40), width=3)
    draw.ellipse((190, 112, 200, 122), fill=(230, 200, 80))
    draw.rectangle((140, 14, 180, 34), fill=(250, 250, 250), outline=(40, 40, 40))
    draw.text((160, 24), number[:5], fill=(20, 20, 20), anchor="mm")
    if place == DropPlace.MAILBOX:
        draw.rectangle((230, 110, 290, 170), fill=(198, 40, 40), outline=(40, 40, 40), width=2)
        box = (245, 125, 275, 150)
    elif place == DropPlace.HANDED_OVER:
        draw.ellipse((40, 60, 80, 100), fill=(240, 200, 170))
        draw.rectangle((35, 100, 85, 190), fill=(60, 90, 160))
        box = (70, 120, 120, 160)
    else:
        box = (120 + rng.randrange(0, 40), 160, 180 + rng.randrange(0, 40), 205)
    draw.rectangle(box, fill=(190, 140, 80), outline=(90, 60, 30), width=2)
    middle = (box[0] + box[2]) // 2
    draw.line((middle, box[1], middle, box[3]), fill=(230, 210, 160), width=4)
    out = io.BytesIO()
    image.quantize(colors=16).save(out, format="PNG", optimize=True)
    return out.getvalue()
