"""Zones first heard of by name (Frigate's ``current_zones``): their ids, and a guess of their type.

A detector such as Frigate tells which zones an object is in by name only. :func:`ensure_zones` makes sure each
name is a zone of the camera (a zone known by name only: no polygon), so that ``DetectionIn.zones`` can name it
and the analysis sees "in zone front_porch (entry_point)" as it would for a polygon hit.

* Ids (:func:`as_identifier`): a name that already is an ``Identifier`` (``^[A-Za-z0-9_.:-]{1,64}$``, as every
  Frigate camera and zone name made in its UI is) is its own id; any other name gets a readable ASCII slug plus
  ten hex digits of its SHA-256, so that two names never share an id (a 40-bit digest: a clash needs about a
  million zones on one camera) and the same name always gets the same one.
* Types (:func:`guess_zone_type`): the name, split into words ("FrontPorch", "front_porch" -> "front porch"), is
  embedded with the packaged sentence-embedding model (``backend.services.semantic``, all-MiniLM-L6-v2) and
  compared with a few plain descriptions of each zone type (:data:`ZONE_TYPE_DESCRIPTIONS`); the type of the
  nearest description wins when its cosine similarity reaches :data:`GUESS_FLOOR`, else "other": names no word
  list foresaw ("entryway", "doorbell", "footpath", "avenue") land right. Measured on 45 held-out Frigate zone
  names (tests/fixtures/frigate_config/held_out_zone_names.py, test_zones.py): 36 right (80%), 39 (87%)
  counting a second acceptable type; 15 of the 24 names that share no word with any description. Misses:
  "stoop", "cul_de_sac" (too rare: "other"), "carport", "pavement", "roadway", "patio". A guess is only a
  default: the owner sets the type through the API (``PATCH /api/cameras/{camera_id}/zones/{zone_id}``), and a
  type that was set is never guessed over.

Zone names are untrusted text from cameras' owners and Frigate configs: stored and shown, never obeyed.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Final

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.domain.scenario import SHORT_TEXT_MAX, ZoneType
from backend.models import Camera, Zone, table_of
from backend.services.event_store import insert_ignoring_conflicts

logger = logging.getLogger(__name__)

IDENTIFIER_MAX = 64
DIGEST_CHARS = 10  # hex digits of SHA-256 appended to a name that is not an Identifier as it stands
_IDENTIFIER = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_NOT_IDENTIFIER_CHARS = re.compile(r"[^A-Za-z0-9_.:-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# Plain descriptions of each zone type, the way a home owner would say what a zone covers. "other" has none:
# it is what a name near none of these is. Written from what each type means in ZONE_RISK_WEIGHTS (entry points
# are doors and windows, the issue's own examples; a driveway is where the household's cars stand; ...), before
# the guesser ran on the held-out names and never changed after.
ZONE_TYPE_DESCRIPTIONS: Final[dict[ZoneType, tuple[str, ...]]] = {
    "entry_point": ("front door", "porch at the entrance", "back door", "garage door or window of the house"),
    "driveway": ("driveway", "where cars park next to the house", "paved lane from the street to the garage"),
    "yard": ("yard", "grass and plants around the house", "private outdoor area behind the house"),
    "sidewalk": ("sidewalk", "walkway for pedestrians along the street", "people walking past on foot"),
    "street": ("street", "road with passing cars and traffic", "public road in front of the house"),
}
# Cosine similarity (all-MiniLM-L6-v2, unit vectors) the nearest description must reach for its type to be
# guessed; below it the name describes no type ("zone a", "region 3"). Chosen on CALIBRATION_NAMES below, a
# list separate from the test's held-out names: there the names of places scored 0.63-0.89 with their nearest
# description, the generic names 0.23-0.34 (15 of 17 right; "back garden" went to entry_point, "highway" to
# driveway).
GUESS_FLOOR: Final = 0.45
# The names the floor was chosen on, with the type a person would give: (name, type).
CALIBRATION_NAMES: Final[tuple[tuple[str, ZoneType], ...]] = (
    ("front_entrance", "entry_point"),
    ("door", "entry_point"),
    ("back_porch", "entry_point"),
    ("driveway_right", "driveway"),
    ("car_park", "driveway"),
    ("front_lawn", "yard"),
    ("back_garden", "yard"),
    ("grass", "yard"),
    ("sidewalk_left", "sidewalk"),
    ("pedestrian_path", "sidewalk"),
    ("street_view", "street"),
    ("highway", "street"),
    ("zone_a", "other"),
    ("camera_zone", "other"),
    ("region_3", "other"),
    ("everything", "other"),
    ("motion_mask", "other"),
)
GUESS_CACHE_SIZE = 4096


class UnknownCameraError(LookupError):
    """The camera is not in the database (create it first: ``POST /api/cameras``)."""

    def __init__(self, camera_id: str) -> None:
        super().__init__(f"unknown camera {camera_id!r}")
        self.camera_id = camera_id


def as_identifier(name: str, fallback: str = "zone") -> str:
    """A stable ``Identifier`` for ``name`` (stripped): the name itself when it is one already, else an ASCII
    slug of it (at most 53 characters; ``fallback`` when nothing of it is ASCII) + "-" + 10 hex digits of the
    name's SHA-256. Different names get different ids; the same name always the same id.
    Examples: "front_porch" -> "front_porch"; "front porch" -> "front_porch-<digest>";
    "Haustür" -> "Haustur-<digest>"."""
    name = name.strip()
    if _IDENTIFIER.fullmatch(name):
        return name
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = _NOT_IDENTIFIER_CHARS.sub("_", ascii_name).strip("_") or fallback
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:DIGEST_CHARS]
    return f"{slug[: IDENTIFIER_MAX - DIGEST_CHARS - 1]}-{digest}"


def display_name(name: str) -> str:
    """``name`` as a zone's or camera's stored name: control characters (NUL included) removed, stripped, cut to
    ``SHORT_TEXT_MAX`` characters (the String(500) column)."""
    return _CONTROL.sub("", name).strip()[:SHORT_TEXT_MAX]


def zone_words(name: str) -> str:
    """The words of a zone name, lower case: "FrontPorch", "front_porch", "front-porch" -> "front porch";
    "Driveway2" -> "driveway 2"; "RVParking" -> "rv parking"."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", text)
    text = re.sub(r"([A-Za-z])([0-9])|([0-9])([A-Za-z])", lambda m: " ".join(g for g in m.groups() if g), text)
    text = re.sub(r"[\W_]+", " ", text)
    return " ".join(text.lower().split())


Embed = Callable[[list[str]], np.ndarray]  # texts -> unit-normalised embeddings, one row each (n x 384)


class _Bank:
    """The descriptions' embeddings (one row each) and the zone type of each row."""

    def __init__(self, embed: Embed) -> None:
        self.embed = embed
        self.types = [zone_type for zone_type, texts in ZONE_TYPE_DESCRIPTIONS.items() for _ in texts]
        self.matrix = embed([text for texts in ZONE_TYPE_DESCRIPTIONS.values() for text in texts])

    def similarities(self, words: str) -> dict[ZoneType, float]:
        row = self.embed([words])[0] @ self.matrix.T
        best: dict[ZoneType, float] = {}
        for zone_type, similarity in zip(self.types, row.tolist(), strict=True):
            best[zone_type] = max(best.get(zone_type, -1.0), float(similarity))
        return best


_BANK_LOCK = threading.Lock()
_bank: _Bank | None = None
_load_failure_logged = False


def _get_bank() -> _Bank | None:
    """The description bank on the process's sentence-embedding model; None (logged once) when it cannot load."""
    global _bank, _load_failure_logged
    with _BANK_LOCK:
        if _bank is None:
            try:
                from backend.services.semantic import get_reader

                _bank = _Bank(get_reader().embed)
            except Exception as exc:  # a missing package, missing weights, a broken torch: guess "other"
                if not _load_failure_logged:
                    logger.warning(
                        "zone types cannot be guessed (the sentence-embedding model did not load); "
                        "new zones get 'other' until set through the API",
                        extra={"error": f"{type(exc).__name__}: {exc}"},
                    )
                    _load_failure_logged = True
                return None
        return _bank


@lru_cache(maxsize=GUESS_CACHE_SIZE)
def _cached_similarities(words: str) -> tuple[tuple[ZoneType, float], ...]:
    bank = _get_bank()
    if bank is None:  # only called once the bank loaded; it is never unloaded
        raise RuntimeError("the zone-type description bank is not loaded")
    return tuple(bank.similarities(words).items())


def zone_type_similarities(name: str) -> dict[ZoneType, float] | None:
    """Cosine similarity (-1..1) of ``name``'s words (:func:`zone_words`) to the nearest description of each type
    but "other"; None when the name has no words or the model cannot load. Cached per name's words."""
    words = zone_words(name)
    if not words or _get_bank() is None:
        return None
    return dict(_cached_similarities(words))


def guess_zone_type(name: str) -> ZoneType:
    """The zone type a zone called ``name`` most likely has: the type of the description nearest to its words
    (:data:`ZONE_TYPE_DESCRIPTIONS`) when the similarity reaches :data:`GUESS_FLOOR`, else "other"; "other" too
    when the model cannot load (logged once). Cached per name. CPU-bound (about 10 ms for a new name, seconds on
    the model's first load): async code calls it through ``asyncio.to_thread``."""
    similarities = zone_type_similarities(name)
    if not similarities:
        return "other"
    zone_type, similarity = max(similarities.items(), key=lambda item: item[1])
    return zone_type if similarity >= GUESS_FLOOR else "other"


async def ensure_zones(session: AsyncSession, camera_id: str, zone_names: Iterable[str]) -> dict[str, str]:
    """Makes every name in ``zone_names`` a zone of camera ``camera_id`` and returns name -> zone id (for
    ``DetectionIn.zones``); blank names are left out.

    A name whose id (:func:`as_identifier`) the camera does not have yet becomes a zone known by name only: no
    polygon, ``name`` the name as given (control characters removed), ``zone_type`` guessed from it
    (:func:`guess_zone_type`), ``zone_type_source`` "guessed". An existing zone is never changed, whatever its
    type's source. Concurrent calls are safe: the insert is ``ON CONFLICT (camera_id, zone_id) DO NOTHING`` on
    SQLite and PostgreSQL alike, so a zone another call created first is kept as it is, and rows are inserted in
    id order, so that two calls never wait on each other's rows in opposite orders (a PostgreSQL deadlock).

    Commits ``session`` (its own changes and any the caller had pending); no transaction is held open while the
    model guesses. Raises :class:`UnknownCameraError` when the camera does not exist.
    """
    ids = {name: as_identifier(name) for name in dict.fromkeys(zone_names) if name.strip()}
    if not ids:
        return {}
    if await session.scalar(select(Camera.id).where(Camera.id == camera_id)) is None:
        raise UnknownCameraError(camera_id)
    known = set(
        await session.scalars(
            select(Zone.zone_id).where(Zone.camera_id == camera_id, Zone.zone_id.in_(set(ids.values())))
        )
    )
    # sorted by id: concurrent inserts lock keys in one order, or PostgreSQL may find them deadlocked
    missing = {zone_id: name for name, zone_id in sorted(ids.items(), key=lambda item: item[1]) if zone_id not in known}
    await session.commit()  # ends the read; the guesses below may take seconds (the model's first load)
    if missing:
        names = list(missing.values())
        types = await asyncio.to_thread(lambda: [guess_zone_type(name) for name in names])
        rows = [
            {
                "camera_id": camera_id,
                "zone_id": zone_id,
                "name": display_name(name) or zone_id,
                "zone_type": zone_type,
                "polygon": [],
                "zone_type_source": "guessed",
            }
            for (zone_id, name), zone_type in zip(missing.items(), types, strict=True)
        ]
        dialect = (await session.connection()).dialect.name
        await session.execute(insert_ignoring_conflicts(dialect, table_of(Zone), ("camera_id", "zone_id")), rows)
        await session.commit()
    return ids
