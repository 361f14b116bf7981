"""A deterministic, explainable risk assessment from the evidence of one batch, and how it meets the model's.

The checklist a security professional applies — who (household, worker, stranger), where (zone type), when
(night), how long (dwell), what they do, what the detectors flag — is computed here as points with a reason
each. Free text (captions, pose actions, attribute values, object types a detector may report) is read by
meaning through :mod:`backend.services.semantic` against the concept bank
(:mod:`backend.domain.concepts`): threat concepts raise the score with a reason quoting the text; benign
concepts lower it only when non-text facts corroborate them (daytime and a short visit or a carried item,
never at night at an entry point, never on a bare word, never below a floor).

Hard floors come from detector facts and bind whatever the model says: a weapon or violence flag at
:data:`DECISIVE_FLAG_CONFIDENCE` or more, a fire/smoke or weapon object, forced entry named by the pose
model, camera tampering (80 with a person present at night). Text can raise a floor, never remove one.

:func:`combine` meets the model's score: ``final = evidence + trust * (model - evidence)``, then never below
the floors. ``trust`` (0-1) is measured per model by ``python -m backend eval`` and stored, or set with
``LLM_TRUST``: 1 lets a correct model decide within the floors, 0 lets the evidence decide and the model only
write. ``decided_by`` records the trust used, the floors applied and who set the final score.

Only facts of :class:`AnalysisContext` are read: object types, confidences, local time, zone TYPES, dwell,
baseline deviation, cross-camera sightings, known/unknown identities and enrichment. Ids, camera and zone
names never are; OCR text never is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from backend.domain.concepts import CONCEPTS_BY_KEY, Concept, Severity
from backend.domain.risk_levels import MAX_SCORE, MIN_SCORE, band_for_level, level_for_score
from backend.domain.scenario import Enrichment
from backend.services.context_enrichment import AnalysisContext, DetectionFacts
from backend.services.semantic import ConceptMatch, SemanticReader, get_reader
from backend.services.text_safety import quote_untrusted

PERSON_TYPES = frozenset({"person", "persons", "people", "pedestrian", "human", "man", "woman", "child"})
# Some detectors report a weapon as an object of its own rather than as a flag on a person.
WEAPON_TYPES = frozenset({"gun", "handgun", "pistol", "rifle", "firearm", "weapon", "knife"})
VEHICLE_TYPES = frozenset({"car", "truck", "van", "bus", "motorcycle", "motorbike", "vehicle", "pickup", "suv"})
ANIMAL_TYPES = frozenset(
    {
        "animal",
        "wildlife",
        "dog",
        "cat",
        "deer",
        "raccoon",
        "fox",
        "opossum",
        "possum",
        "skunk",
        "coyote",
        "bird",
        "squirrel",
        "rabbit",
        "bear",
        "horse",
        "cow",
        "sheep",
        "goat",
        "moose",
        "elk",
        "boar",
        "badger",
        "hedgehog",
        "rat",
        "mouse",
    }
)
PACKAGE_TYPES = frozenset({"package", "parcel", "box"})
# Object types the structured rules read; any other type a detector reports ("smoke", "crowbar") is read by
# meaning like any other text, and a match from it is a detector fact.
STRUCTURED_TYPES = PERSON_TYPES | VEHICLE_TYPES | ANIMAL_TYPES | PACKAGE_TYPES | WEAPON_TYPES

CREDIBLE_CONFIDENCE = 0.5  # below this a "person" is most likely a shadow, an animal or noise
DECISIVE_FLAG_CONFIDENCE = 0.6  # a weapon or violence flag at or above this decides "critical"
WEAK_FLAG_CONFIDENCE = 0.4
CRITICAL_FLOOR = band_for_level("critical")[0]
HIGH_FLOOR = band_for_level("high")[0]
TAMPERING_WITH_PERSON_FLOOR = 80  # tampering with a person present at night: high, near critical
NON_CRITICAL_CEILING = band_for_level("high")[1]  # without a threat floor, suspicion alone stays "high" at most
ANIMALS_ONLY_CEILING = 20
NIGHT_FACTOR = 1.5  # the same suspicious behaviour weighs more at night

# What a concept from the concept bank adds: points, and the floor it sets (a detector's finding or text).
SEVERITY_POINTS: dict[Severity, int] = {Severity.CRITICAL: 50, Severity.HIGH: 35, Severity.SUSPICIOUS: 15}
SEVERITY_FLOORS: dict[Severity, int] = {Severity.CRITICAL: CRITICAL_FLOOR, Severity.HIGH: HIGH_FLOOR}
# Concepts a household member explains when they do them at their own home (forcing their own stuck door,
# climbing in when locked out, taking their own bike); harm to people or fire never is.
RESIDENT_EXPLAINS = frozenset(
    {
        "forced_entry",
        "attempted_entry",
        "vehicle_crime",
        "theft",
        "trespass_climbing",
        "peeping",
        "casing",
        "concealment",
        "prowling",
    }
)
# A caption sets a concept's floor only when it means the concept this clearly (cosine similarity) and the
# same words do not read about as well as ordinary activity; a weaker reading adds the points alone.
# Detector strings (a pose action, an object type) set floors at their match threshold
# (backend.services.semantic.SHORT_THRESHOLD).
TEXT_FLOOR_SIMILARITY = 0.5
TEXT_FLOOR_MARGIN = 0.05  # ... and nearer to it than to any ordinary meaning by this much
WEAK_READING_WEIGHT = 0.5  # a reading short of that counts half its points
# Harm to people, fire and break-ins are read from text or a pose string only when this clear: a critical
# word in a loose reading ("the door stays shut" near "a resident held up at the door") is no critical finding.
CRITICAL_READING_SIMILARITY = 0.6
# Concepts a detector's class names that bind the model too (issue #8: fire/smoke, "forced entry when a
# detector flags it"), and from which detector output: fire or smoke as an object class, forced entry as a
# pose/action class. They bind at "high": the detector cannot tell a barbecue from a house fire or a locksmith
# from a burglar, so the evidence score goes critical but a trusted model decides between high and critical.
BINDING_CONCEPTS: dict[str, tuple[str, ...]] = {"fire": ("object",), "forced_entry": ("action",)}
BINDING_CONCEPT_FLOOR = HIGH_FLOOR
ACTS_WITHOUT_A_PERSON = frozenset({"fire"})  # concepts that need no person to happen (the rest are acts of people)
BENIGN_POINTS = -15  # ordinary activity named by text AND corroborated by non-text facts
SHORT_VISIT_SECONDS = 120  # a visit this short corroborates a delivery or a call

# A person's presence, by the most sensitive zone type entered: (points by day, points at night).
ZONE_POINTS: dict[str, tuple[int, int]] = {
    "entry_point": (10, 22),
    "yard": (8, 18),
    "driveway": (8, 18),
    "other": (6, 12),
    "sidewalk": (2, 4),
    "street": (1, 2),
}
UNKNOWN_LOCATION_POINTS = (6, 14)  # no zones configured, or no bbox: somewhere in view
UNKNOWN_LOCATION_WEIGHT = 0.6
OUTSIDE_ZONES_WEIGHT = 0.4  # zones exist but none holds the object: like "other"
# Lingering: (seconds in view, points), scaled by the zone's risk weight and by NIGHT_FACTOR at night.
DWELL_TIERS = ((600, 25), (180, 18), (60, 8))
PASS_BY_SECONDS = 60
LOITER_FLOOR_SECONDS = 180  # lingering this long at an entry point at night is "high"
SMALL_HOURS_END = 5  # midnight to 05:00: almost no legitimate visitors
LINGERING_VEHICLE_SECONDS = 300
UNTRACKED_VISIT_GAP_S = 120  # untracked sightings of people closer than this are one visit
BASELINE_FAR = 0.9
BASELINE_RAISED = 0.7


@dataclass(frozen=True)
class Rule:
    points: int
    rubric: str  # how the rule reads in the scoring rubric shown to the LLM


# Every fixed-point rule; the rubric prompt variant is generated from this table and the constants above,
# so they cannot drift apart.
RULES: dict[str, Rule] = {
    "person": Rule(8, "person"),
    "unknown_face": Rule(5, "unrecognised face"),
    "small_hours": Rule(10, f"stranger on the property 00-{SMALL_HOURS_END:02d}h"),
    "baseline_far": Rule(10, f"people far above usual (deviation>={BASELINE_FAR})"),
    "baseline_raised": Rule(5, f"people above usual (deviation>={BASELINE_RAISED})"),
    "cross_camera_one": Rule(5, "person on 1 other camera*"),
    "cross_camera_many": Rule(10, "person on 2+ other cameras*"),
    "returning": Rule(10, "stranger seen here before*"),
    "face_covering": Rule(15, "face covered by day"),
    "face_covering_weather": Rule(5, "face covered in rain or snow"),
    "face_covering_night": Rule(25, f"face covered at night (min {HIGH_FLOOR})"),
    "tampering": Rule(40, f"camera tampering (min {HIGH_FLOOR}; {TAMPERING_WITH_PERSON_FLOOR} with a person at night)"),
    "weapon": Rule(50, f"weapon >={DECISIVE_FLAG_CONFIDENCE:.0%} (min {CRITICAL_FLOOR})"),
    "possible_weapon": Rule(25, f"weapon {WEAK_FLAG_CONFIDENCE:.0%}-{DECISIVE_FLAG_CONFIDENCE:.0%}"),
    "weak_weapon": Rule(8, f"weapon <{WEAK_FLAG_CONFIDENCE:.0%}"),
    "violence": Rule(50, f"violence >={DECISIVE_FLAG_CONFIDENCE:.0%} (min {CRITICAL_FLOOR})"),
    "possible_violence": Rule(25, f"violence {WEAK_FLAG_CONFIDENCE:.0%}-{DECISIVE_FLAG_CONFIDENCE:.0%}"),
    "weak_violence": Rule(8, f"violence <{WEAK_FLAG_CONFIDENCE:.0%}"),
    "vehicle_damage": Rule(20, f"vehicle damage with a person (min {HIGH_FLOOR})"),
    "vehicle_damage_unattended": Rule(10, "vehicle damage, nobody in view"),
    "vehicle_on_property": Rule(5, "unknown vehicle on the property by day, nobody in view"),
    "vehicle_on_property_night": Rule(10, "same at night"),
    "returning_vehicle": Rule(20, "same unknown vehicle 2+ passes*"),
    "returning_vehicle_more": Rule(20, "3+ passes, extra*"),
    "vehicle_cross_camera": Rule(5, "returning vehicle on other cameras*"),
    "vehicle_baseline": Rule(5, "returning vehicle, traffic far above usual"),
    "vehicle_lingering": Rule(10, f"unknown vehicle lingering {LINGERING_VEHICLE_SECONDS // 60}+ min at night"),
    "known_face": Rule(-10, "recognised household face (then skip where, when, how long)"),
    "household_vehicle": Rule(
        -25,
        f"household vehicle and a visit under {LOITER_FLOOR_SECONDS // 60} min, not 00-{SMALL_HOURS_END:02d}h "
        "(then skip how long)",
    ),
    "benign": Rule(
        BENIGN_POINTS,
        f"ordinary activity (delivery, trades, visitor) by day, under {SHORT_VISIT_SECONDS // 60} min or carrying "
        "something (skip how long)",
    ),
    "delivery_pattern": Rule(-10, f"carrying a package, visit under {2 * PASS_BY_SECONDS // 60} min"),
    "pass_by": Rule(-5, f"pass-by on sidewalk or street under {PASS_BY_SECONDS // 60} min"),
    "with_pet": Rule(-5, "person with a pet"),
}
_NO_VALUE = frozenset({"none", "no", "false", "unknown", "null", "n/a", ""})
_POOR_VISIBILITY = frozenset({"poor", "low", "bad", "none"})
_COVERING_WEATHER = frozenset({"rain", "snow", "sleet", "hail", "storm", "cold", "freezing", "blizzard"})


class EvidenceFactor(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    points: int
    detail: str  # human-readable, e.g. "person at entry point at night (+22)"


class Floor(BaseModel):
    """A lower bound and the fact that sets it. A ``binding`` floor holds the final score whatever the model
    says (BINDING: weapon, violence, fire or smoke, tampering with a person present at night, forced entry
    named by a detector); the others raise the evidence score only, so a trusted model may overrule them."""

    model_config = ConfigDict(frozen=True)

    score: int = Field(ge=MIN_SCORE, le=MAX_SCORE)
    reason: str
    source: Literal["detector", "text"]
    binding: bool = False


class Finding(BaseModel):
    """A concept the evidence found, for reasons and summaries: what, quoted from where, on which object."""

    model_config = ConfigDict(frozen=True)

    concept: str
    severity: str
    label: str
    quote: str  # the text that named it, quoted as untrusted data
    source: Literal["caption", "action", "attribute", "object"]
    object_type: str
    similarity: float


class EvidenceAssessment(BaseModel):
    """The evidence score, its floors and ceiling, and the reasons."""

    model_config = ConfigDict(frozen=True)

    score: int = Field(ge=MIN_SCORE, le=MAX_SCORE)
    level: str
    floor: int  # the lowest final score the hard facts allow: the highest binding floor
    ceiling: int  # the highest score the evidence alone gives
    floors: list[Floor]
    decisive: bool  # a floor requires "critical" or near it (weapon, violence, fire, forced entry, ...)
    uncertain: bool  # poor visibility, unknown location, weak detections or conflicting signals
    factors: list[EvidenceFactor]
    findings: list[Finding]
    benign: list[Finding]  # ordinary activity named by text (corroborated or not: see the "benign" factor)
    explanation: str

    def prompt_summary(self) -> str:
        """The assessment as a prompt may show it: the checklist's score, floors and every reason."""
        reasons = "; ".join(f.detail for f in self.factors) or "no risk factors"
        floor = f" The score may not go below {self.floor} ({self.floors[0].reason})." if self.floor else ""
        return f"Evidence checklist: score {self.score} ({self.level}).{floor} Reasons: {reasons}."


class FinalVerdict(BaseModel):
    """The score and level an event records, and which part decided them."""

    model_config = ConfigDict(frozen=True)

    risk_score: int
    risk_level: str
    decided_by: dict[str, Any]
    risk_factors: list[str]


# --- free text --------------------------------------------------------------------------------------------


def _plain(text: str | None) -> str:
    """Lower case letters, every run of anything else one space: "Trying_Door-Handle" -> "trying door handle"."""
    return " ".join(re.findall(r"[a-z]+", (text or "").lower()))


def _words(text: str | None) -> frozenset[str]:
    return frozenset(_plain(text).split())


_TextSource = Literal["caption", "action", "attribute", "object"]


def _texts(f: DetectionFacts) -> list[tuple[_TextSource, str]]:
    """The free text of one detection, as the semantic layer reads it: caption, pose action and posture,
    attribute values with their keys ("uniform mail"), clothing, and an object type no rule reads."""
    d = f.detection
    e = d.enrichment
    texts: list[tuple[_TextSource, str]] = []
    if e.vision and e.vision.caption:
        texts.append(("caption", e.vision.caption))
    if e.pose:
        texts += [("action", _plain(value)) for value in (e.pose.action, e.pose.posture) if _plain(value)]
    if e.vision:
        texts += [
            # a carried thing is read as the thing ("crowbar", "package"); other attributes with their key
            ("attribute", _plain(value) if _plain(key) == "carrying" else f"{_plain(key)} {_plain(value)}")
            for key, value in e.vision.attributes.items()
            if _plain(value) not in _NO_VALUE
        ]
    if e.clothing and _plain(e.clothing.upper):
        texts.append(("attribute", f"wearing {_plain(e.clothing.upper)}"))
    if d.object_type not in STRUCTURED_TYPES and _plain(d.object_type):
        texts.append(("object", _plain(d.object_type)))
    return texts


@dataclass(frozen=True)
class _Read:
    """What the semantic layer found on one detection's texts."""

    facts: DetectionFacts
    source: _TextSource
    match: ConceptMatch

    @property
    def concept(self) -> Concept:
        return CONCEPTS_BY_KEY[self.match.concept]

    def finding(self) -> Finding:
        return Finding(
            concept=self.concept.key,
            severity=self.concept.severity,
            label=self.concept.label,
            quote=quote_untrusted(self.match.text, 80),
            source=self.source,
            object_type=self.facts.detection.object_type,
            similarity=self.match.similarity,
        )


def _read_texts(ctx: AnalysisContext, reader: SemanticReader) -> tuple[list[_Read], list[_Read]]:
    """(threats, benign meanings) named by the batch's free text, one per concept and detection track."""
    units = [(f, source, text) for f in ctx.detections for source, text in _texts(f)]
    readings = reader.read_many([text for _, _, text in units])
    threats: list[_Read] = []
    benign: list[_Read] = []
    for (f, source, _), reading in zip(units, readings, strict=True):
        threats += [_Read(f, source, m) for m in reading.threats]
        if reading.benign is not None:
            benign.append(_Read(f, source, reading.benign))
    return _strongest(threats), _strongest(benign)


def _strongest(reads: list[_Read]) -> list[_Read]:
    """One read per concept: the most similar, a detector's own (object, action) before a caption's."""
    best: dict[str, _Read] = {}
    for r in reads:
        rank = (r.source in ("object", "action"), r.match.similarity)
        kept = best.get(r.concept.key)
        if kept is None or rank > (kept.source in ("object", "action"), kept.match.similarity):
            best[r.concept.key] = r
    return sorted(best.values(), key=lambda r: -r.match.similarity)


# --- evidence -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Track:
    """One object over time: a detector track, or a single untracked detection."""

    facts: tuple[DetectionFacts, ...]

    @property
    def confidence(self) -> float:
        return max(f.detection.confidence for f in self.facts)

    @property
    def dwell_s(self) -> float:
        reported = max((f.detection.enrichment.dwell_seconds or 0.0 for f in self.facts), default=0.0)
        return max(reported, self.facts[-1].offset_s - self.facts[0].offset_s)

    @property
    def night(self) -> bool:
        return any(f.is_night for f in self.facts)

    @property
    def zone_types(self) -> frozenset[str]:
        return frozenset(hit.zone.zone_type for f in self.facts for hit in f.zones)

    def where(self, has_zones: bool) -> tuple[str, float, int]:
        """(description, risk weight, presence points) of the most sensitive place the track was seen."""
        # located: a box to test against the zone polygons, or zones the detector named (Frigate's current_zones)
        if not has_zones or all(f.detection.bbox is None and f.detection.zones is None for f in self.facts):
            description, weight, points = "in view (location unknown)", UNKNOWN_LOCATION_WEIGHT, UNKNOWN_LOCATION_POINTS
        elif not self.zone_types:
            description, weight, points = "outside the marked zones", OUTSIDE_ZONES_WEIGHT, ZONE_POINTS["other"]
        else:
            zone = max(self.zone_types, key=lambda z: ZONE_POINTS[z][0])
            weight = max(f.zone_risk_weight for f in self.facts)
            description, points = f"at {zone.replace('_', ' ')}", ZONE_POINTS[zone]
        return description, weight, points[1] if self.night else points[0]


def _tracks(ctx: AnalysisContext, types: frozenset[str], *, merge_untracked: bool = False) -> list[_Track]:
    """Detections of ``types`` grouped by track. With ``merge_untracked``, untracked detections less than
    UNTRACKED_VISIT_GAP_S apart form one visit, so that a detector without tracking still shows how long
    someone stayed; otherwise each untracked detection stands alone (a passing car)."""
    grouped: dict[tuple[str, int | str], list[DetectionFacts]] = {}
    visit, last_offset = 0, None
    for f in ctx.detections:  # in time order
        d = f.detection
        if d.object_type not in types:
            continue
        if d.track_id is not None:
            key: int | str = d.track_id
        elif merge_untracked:
            if last_offset is not None and f.offset_s - last_offset > UNTRACKED_VISIT_GAP_S:
                visit += 1
            key, last_offset = f"visit:{visit}", f.offset_s
        else:
            key = f"single:{d.id}"
        grouped.setdefault((d.object_type, key), []).append(f)
    return [_Track(tuple(facts)) for facts in grouped.values()]


def _flag_confidence(confidence: float, facts: DetectionFacts) -> float:
    """A flag raised without a confidence (0.0, the contract's default) is as sure as its detection."""
    return confidence if confidence > 0 else facts.detection.confidence


def _deviation(ctx: AnalysisContext, types: frozenset[str]) -> float:
    if ctx.baseline is None:
        return 0.0
    return max((b.deviation for b in ctx.baseline.per_type if b.object_type in types), default=0.0)


@dataclass(frozen=True)
class _Evidence:
    """The batch-level facts the rules read, gathered once."""

    people: list[_Track]  # credible people only
    vehicles: list[_Track]
    animals: bool
    packages: bool
    has_zones: bool
    resident: bool  # a recognised household member explains the visit (see _household_explains)
    resident_tracks: frozenset[
        tuple[str, int | str]
    ]  # the tracks (DetectionFacts.object_key) of recognised household members
    household_vehicle: bool  # a household plate read
    unknown_face: bool
    carrying: bool  # a person carries something (an attribute, or a package object in the batch)
    threats: list[_Read]  # threat concepts named by text, a detector's object type or pose action
    benign: list[_Read]  # benign meanings named by text
    face_covered: bool
    covering_weather: bool
    poor_visibility: bool
    tampering: bool
    vehicle_damage: bool
    weapon: tuple[float, str | None]  # the most confident weapon and its type
    violence: float
    returning_person: bool
    returning_plates: int  # most separate tracks of one unknown plate
    returning_vehicle: bool
    person_cameras: int  # other cameras that saw a person around this batch
    vehicle_cameras: int

    @property
    def night(self) -> bool:
        return any(t.night for t in self.people)

    def at_entry_point(self) -> bool:
        return any("entry_point" in t.zone_types for t in self.people)

    def benign_corroborated(self) -> bool:
        """Text names ordinary activity AND at least two non-text facts agree (daytime, a visit under
        SHORT_VISIT_SECONDS, something carried), and nothing threatening is named. Never at night at an entry
        point; a bare word with nothing else never lowers anything."""
        return not self.threats and self.benign_context()

    def benign_context(self) -> bool:
        """:meth:`benign_corroborated` without its last condition: the scene reads as ordinary activity and
        the non-text facts agree, whatever else the text says (what weakens a threat reading told of the
        same track: a gardener "swinging a blade")."""
        if not self.benign or not self.people or (self.night and self.at_entry_point()):
            return False
        short = max(t.dwell_s for t in self.people) < SHORT_VISIT_SECONDS
        return sum((not self.night, short, self.carrying)) >= 2


def _household_explains(
    people: list[_Track], household: frozenset[tuple[str, int | str]], threats: list[_Read]
) -> bool:
    """A recognised household member (``household``: their tracks) is among ``people`` and nobody else with them
    does anything a stranger would be judged for: no threat reading on another person's track, no covered face
    among the others."""
    if not any(t.facts[0].object_key in household for t in people):
        return False
    others = [t for t in people if t.facts[0].object_key not in household]
    covered = any(
        f.detection.enrichment.clothing and f.detection.enrichment.clothing.face_covering
        for t in others
        for f in t.facts
    )
    return not covered and not any(r.facts.object_key not in household for r in threats if r.source != "object")


def _gather(ctx: AnalysisContext, reader: SemanticReader) -> _Evidence:
    all_people = _tracks(ctx, PERSON_TYPES, merge_untracked=True)
    people = [t for t in all_people if t.confidence >= CREDIBLE_CONFIDENCE]
    person_enrich = [f.detection.enrichment for t in people for f in t.facts]
    everything = [f.detection.enrichment for f in ctx.detections]
    weapons = [(_flag_confidence(flag.confidence, f), flag.type) for f, flag in _flagged(ctx, "weapon")]
    weapons += [
        (f.detection.confidence, f.detection.object_type)
        for f in ctx.detections
        if f.detection.object_type in WEAPON_TYPES
    ]
    plate_tracks: dict[str, set[int | str]] = {}
    for f in ctx.detections:
        if f.plate and f.plate_known is False:
            track = f.detection.track_id
            plate_tracks.setdefault(f.plate, set()).add(track if track is not None else f.detection.id)
    vehicles = _tracks(ctx, VEHICLE_TYPES)
    carried = [e.vision.attributes.get("carrying") for e in person_enrich if e.vision]
    threats, benign = _read_texts(ctx, reader)
    household = frozenset(f.object_key for f in ctx.detections if f.face == "known")
    # A faint detection's text is as faint as the detection: a pose model naming an action still counts.
    threats = [r for r in threats if r.source == "action" or r.facts.detection.confidence >= CREDIBLE_CONFIDENCE]
    return _Evidence(
        people=people,
        vehicles=vehicles,
        animals=any(f.detection.object_type in ANIMAL_TYPES or f.detection.enrichment.pet for f in ctx.detections),
        packages=any(f.detection.object_type in PACKAGE_TYPES for f in ctx.detections),
        has_zones=bool(ctx.scenario.zones),
        resident=_household_explains(people, household, threats),
        resident_tracks=household,
        household_vehicle=bool(ctx.identities.known_plates),
        unknown_face=any(f.face == "unknown" for t in people for f in t.facts),
        carrying=any(_plain(c) not in _NO_VALUE for c in carried),
        threats=threats,
        benign=benign,
        face_covered=any(e.clothing and e.clothing.face_covering for e in person_enrich),
        covering_weather=any(e.weather and _words(e.weather.condition) & _COVERING_WEATHER for e in everything),
        poor_visibility=_poor_visibility(everything),
        tampering=any(e.image_quality and e.image_quality.tampering for e in everything),
        vehicle_damage=any(e.vehicle and e.vehicle.damage for e in everything),
        weapon=max(weapons, key=lambda w: w[0], default=(0.0, None)),
        violence=max((_flag_confidence(flag.confidence, f) for f, flag in _flagged(ctx, "violence")), default=0.0),
        returning_person=any(e.reid and e.reid.seen_before for e in person_enrich),
        returning_plates=max((len(tracks) for tracks in plate_tracks.values()), default=0),
        returning_vehicle=any(
            f.detection.enrichment.reid and f.detection.enrichment.reid.seen_before for t in vehicles for f in t.facts
        ),
        person_cameras=sum(1 for c in ctx.cross_camera if PERSON_TYPES & c.counts_by_type.keys()),
        vehicle_cameras=sum(1 for c in ctx.cross_camera if VEHICLE_TYPES & c.counts_by_type.keys()),
    )


def _flagged(ctx: AnalysisContext, kind: str) -> list[tuple[DetectionFacts, Any]]:
    """(detection, flag) for every detection whose ``kind`` flag (weapon, violence) says detected."""
    flags = ((f, getattr(f.detection.enrichment, kind)) for f in ctx.detections)
    return [(f, flag) for f, flag in flags if flag is not None and flag.detected]


def _poor_visibility(enrichments: list[Enrichment]) -> bool:
    qualities = [e.image_quality for e in enrichments if e.image_quality]
    blurred = bool(qualities) and sum(q.blur for q in qualities) / len(qualities) >= 0.5
    dark = bool(qualities) and sum(q.brightness for q in qualities) / len(qualities) < 0.15
    weather = [e.weather for e in enrichments if e.weather]
    foggy = any(_words(w.visibility) & _POOR_VISIBILITY or "fog" in _words(w.condition) for w in weather)
    return blurred or dark or foggy


# --- rules --------------------------------------------------------------------------------------------------


@dataclass
class _Tally:
    factors: list[EvidenceFactor] = field(default_factory=list)
    floors: list[Floor] = field(default_factory=list)
    ceiling: int = NON_CRITICAL_CEILING

    def add(self, rule: str, reason: str, points: float | None = None) -> None:
        """Adds a factor: the rule's points, or ``points`` for scaled rules; zero-point factors are dropped."""
        rounded = round(RULES[rule].points if points is None else points)
        if rounded:
            self.factors.append(EvidenceFactor(name=rule, points=rounded, detail=f"{reason} ({rounded:+d})"))

    def add_concept(self, key: str, reason: str, points: float) -> None:
        rounded = round(points)
        self.factors.append(EvidenceFactor(name=key, points=rounded, detail=f"{reason} ({rounded:+d})"))

    def require(self, floor: int, reason: str, source: Literal["detector", "text"], *, binding: bool = False) -> None:
        """The evidence score may not go below ``floor`` (nor the final score, when ``binding``); a threat floor
        also lifts the ceiling."""
        self.floors.append(Floor(score=floor, reason=reason, source=source, binding=binding))
        if floor >= TAMPERING_WITH_PERSON_FLOOR:
            self.ceiling = MAX_SCORE

    @property
    def floor(self) -> int:
        """The highest floor of any kind: what the evidence score respects."""
        return max((f.score for f in self.floors), default=MIN_SCORE)

    @property
    def binding_floor(self) -> int:
        return max((f.score for f in self.floors if f.binding), default=MIN_SCORE)

    @property
    def total(self) -> int:
        return sum(f.points for f in self.factors)


def _threat_flags(ev: _Evidence, tally: _Tally) -> None:
    """Detector findings that no identity, uniform or text can explain away."""
    confidence, kind = ev.weapon
    what = quote_untrusted(kind or "unknown type", 24)
    if confidence >= DECISIVE_FLAG_CONFIDENCE:
        tally.add("weapon", f"weapon {what} detected at {confidence:.0%}")
        tally.require(CRITICAL_FLOOR, "a weapon detected", "detector", binding=True)
    elif confidence >= WEAK_FLAG_CONFIDENCE:
        tally.add("possible_weapon", f"possible weapon {what} at {confidence:.0%}")
    elif confidence > 0:
        tally.add("weak_weapon", f"weak weapon signal {what} at {confidence:.0%}, likely a tool")
    if ev.violence >= DECISIVE_FLAG_CONFIDENCE:
        tally.add("violence", f"violence detected at {ev.violence:.0%}")
        tally.require(CRITICAL_FLOOR, "violence detected", "detector", binding=True)
    elif ev.violence >= WEAK_FLAG_CONFIDENCE:
        tally.add("possible_violence", f"possible violence at {ev.violence:.0%}")
    elif ev.violence > 0:
        tally.add("weak_violence", f"weak violence signal at {ev.violence:.0%}")
    if ev.tampering:
        tally.add("tampering", "camera tampering (view covered, moved or blinded)")
        with_person = bool(ev.people) and ev.night
        tally.require(
            TAMPERING_WITH_PERSON_FLOOR if with_person else HIGH_FLOOR,
            "camera tampering" + (" with a person present at night" if with_person else ""),
            "detector",
            binding=with_person,
        )
    if ev.vehicle_damage:
        rule = "vehicle_damage" if ev.people else "vehicle_damage_unattended"
        tally.add(rule, "vehicle damage detected")
        if ev.people:
            tally.require(HIGH_FLOOR, "a vehicle damaged with a person present", "detector")


def _concept_rules(ev: _Evidence, tally: _Tally) -> list[_Read]:
    """What the free text, a pose action or an unusual object type names: threat concepts add points (x1.5
    at night for suspicious behaviour) and the crimes set floors of the evidence score.

    A reading sets its floor only when it is unambiguous: a detector's own string (pose action, object type)
    or a clear caption (TEXT_FLOOR_SIMILARITY, TEXT_FLOOR_MARGIN), and not contradicted by the scene. It is
    contradicted by day when other text of the batch reads as ordinary activity (a gardener "swinging a
    blade"), and when it is told of a recognised household member (a known face's track). A contradicted
    reading counts half its points and sets no floor; it never removes a floor another fact set. A household
    member doing what only a stranger would make suspicious (trying their own door) is not counted at all.
    Forced entry is critical at an entry point (or where no zones are drawn) and high elsewhere (a shed, a
    bike lock)."""
    applied = []
    where = {"caption": "caption", "action": "pose", "attribute": "attribute", "object": "detected object"}
    explained_day = ev.benign_context()
    for read in ev.threats:
        concept = read.concept
        if read.source in BINDING_CONCEPTS.get(concept.key, ()):  # a detector's hard fact: nothing explains it
            tally.require(BINDING_CONCEPT_FLOOR, concept.label, "detector", binding=True)
        household = read.facts.object_key in ev.resident_tracks
        detector = read.source in ("object", "action")
        if concept.key in RESIDENT_EXPLAINS and household:
            continue
        applied.append(read)
        night = read.facts.is_night
        needed = CRITICAL_READING_SIMILARITY if concept.severity is Severity.CRITICAL else TEXT_FLOOR_SIMILARITY
        clear = read.match.whole and read.match.similarity >= needed and read.match.margin >= TEXT_FLOOR_MARGIN
        if detector and read.source == "action" and concept.severity is Severity.CRITICAL:
            detector = read.match.similarity >= CRITICAL_READING_SIMILARITY
        same_track = any(b.facts.object_key == read.facts.object_key for b in ev.benign)
        # A pose model's action is softer than a detected object: ordinary work told of the same track by day
        # weakens it (a meter reader "shining torch"), unless the act is harm in progress or a binding fact.
        softer = (
            read.source != "object"
            and concept.severity is not Severity.CRITICAL
            and read.source not in BINDING_CONCEPTS.get(concept.key, ())
        )
        # Text told of an animal's track, with no person in view, is about the animal: an act only a person
        # commits (a "masked bandit" raiding the bins) is a figure of speech there, not a crime.
        animal_told = (
            not ev.people
            and read.source in ("caption", "attribute")
            and read.facts.detection.object_type in ANIMAL_TYPES
            and concept.key not in ACTS_WITHOUT_A_PERSON
        )
        contradicted = animal_told or ((not detector or softer) and (household or (explained_day and same_track)))
        firm = (detector or clear) and not contradicted
        boost = NIGHT_FACTOR if night and concept.severity is Severity.SUSPICIOUS else 1.0
        quote = quote_untrusted(read.match.text, 60)
        extra = len(applied) > 1 and read.source != "object"  # each further reading adds less: noise adds up
        tally.add_concept(
            concept.key,
            f"{concept.label} ({where[read.source]} {quote}){' at night' if night else ''}",
            SEVERITY_POINTS[concept.severity]
            * boost
            * (1.0 if firm else WEAK_READING_WEIGHT)
            * (WEAK_READING_WEIGHT if extra else 1.0)
            * (WEAK_READING_WEIGHT if animal_told else 1.0),
        )
        if concept.severity in SEVERITY_FLOORS and firm:
            floor = SEVERITY_FLOORS[concept.severity]
            if concept.key == "forced_entry" and ev.has_zones and not _at_entry_point(read.facts):
                floor = HIGH_FLOOR
            tally.require(floor, concept.label, "detector" if detector else "text")
    return applied


def _at_entry_point(f: DetectionFacts) -> bool:
    return any(hit.zone.zone_type == "entry_point" for hit in f.zones)


def _covering_rules(ev: _Evidence, tally: _Tally) -> None:
    if ev.resident or not ev.face_covered:
        return
    if ev.night:
        tally.add("face_covering_night", "face covered at night")
        tally.require(HIGH_FLOOR, "face covered at night", "detector")
    elif ev.covering_weather:
        tally.add("face_covering_weather", "face covered in cold or wet weather")
    else:
        tally.add("face_covering", "face covered")


def _presence_rules(ctx: AnalysisContext, ev: _Evidence, tally: _Tally) -> None:
    """Where people are, for how long, and who they are."""
    if not ev.people:
        return
    tally.add("person", "person on camera")
    riskiest = max(ev.people, key=lambda t: (t.where(ev.has_zones)[2], t.dwell_s))
    where, weight, points = riskiest.where(ev.has_zones)
    if ev.resident:
        tally.add("known_face", "recognised household member")
        return
    tally.add("zone", f"person {where}" + (" at night" if riskiest.night else ""), points)
    brief = max(t.dwell_s for t in ev.people) < LOITER_FLOOR_SECONDS
    small_hours = any(f.hour < SMALL_HOURS_END for f in riskiest.facts)
    if ev.household_vehicle and brief and not (ev.threats or ev.vehicle_damage or small_hours):
        tally.add("household_vehicle", "brief visit with a household vehicle present")
        return
    explained = ev.benign_corroborated()
    if explained:
        read = ev.benign[0]
        tally.add("benign", f"{read.concept.label} ({quote_untrusted(read.match.text, 60)}), by day, brief or carrying")
    elif weight >= OUTSIDE_ZONES_WEIGHT and any(f.hour < SMALL_HOURS_END for f in riskiest.facts):
        tally.add("small_hours", "on the property in the small hours")
    longest = max(ev.people, key=lambda t: t.dwell_s * t.where(ev.has_zones)[1])
    dwell = longest.dwell_s
    drop_off = (ev.carrying or ev.packages) and dwell < 2 * PASS_BY_SECONDS and not ev.threats
    if drop_off and not explained:
        tally.add("delivery_pattern", "brief visit carrying a package (drop-off)")
    if not explained:
        _lingering(ev, longest, tally)
    if ev.unknown_face:
        tally.add("unknown_face", "unrecognised face")
    if all(t.zone_types and t.zone_types <= {"sidewalk", "street"} and t.dwell_s < PASS_BY_SECONDS for t in ev.people):
        tally.add("pass_by", "brief pass-by on the sidewalk or street")
    if ev.animals and not ev.threats:
        tally.add("with_pet", "accompanied by a pet")
    if not (explained or drop_off):
        _unusual_people(ctx, ev, tally, riskiest.night)


def _lingering(ev: _Evidence, longest: _Track, tally: _Tally) -> None:
    weight = longest.where(ev.has_zones)[1]
    boost, when = (NIGHT_FACTOR, " at night") if longest.night else (1.0, "")
    for seconds, points in DWELL_TIERS:
        if longest.dwell_s >= seconds:
            tally.add("loitering", f"lingering {round(longest.dwell_s)} s{when}", points * weight * boost)
            break
    if any(t.night and t.dwell_s >= LOITER_FLOOR_SECONDS and "entry_point" in t.zone_types for t in ev.people):
        tally.require(HIGH_FLOOR, f"lingering {LOITER_FLOOR_SECONDS // 60}+ min at an entry point at night", "detector")


def _unusual_people(ctx: AnalysisContext, ev: _Evidence, tally: _Tally, night: bool) -> None:
    """Activity beyond the usual: baseline deviation, other cameras, re-identification."""
    boost, when = (NIGHT_FACTOR, " at night") if night else (1.0, "")
    deviation = _deviation(ctx, PERSON_TYPES)
    if deviation >= BASELINE_FAR:
        tally.add("baseline_far", f"people far above the usual for this hour (deviation {deviation:.2f})")
    elif deviation >= BASELINE_RAISED:
        tally.add("baseline_raised", f"more people than usual for this hour (deviation {deviation:.2f})")
    if ev.person_cameras:
        rule = "cross_camera_many" if ev.person_cameras >= 2 else "cross_camera_one"
        tally.add(rule, f"also seen on {ev.person_cameras} other camera(s){when}", RULES[rule].points * boost)
    if ev.returning_person:
        tally.add("returning", f"re-identified: seen here before{when}", RULES["returning"].points * boost)


def _vehicle_rules(ctx: AnalysisContext, ev: _Evidence, tally: _Tally) -> None:
    """Unknown vehicles parked on the property, lingering at night, or coming back again and again."""
    unknown = [t for t in ev.vehicles if not any(f.plate_known for f in t.facts)]
    if not unknown:
        return
    night = any(t.night for t in unknown)
    boost, when = (NIGHT_FACTOR, " at night") if night else (1.0, "")
    if not ev.people and any(t.zone_types & {"driveway", "entry_point", "yard"} for t in unknown):
        tally.add(
            "vehicle_on_property_night" if night else "vehicle_on_property", "unknown vehicle on the property" + when
        )
    passes = max(ev.returning_plates, 2 if ev.returning_vehicle else 0)
    if passes >= 2:
        points = RULES["returning_vehicle"].points + (RULES["returning_vehicle_more"].points if passes >= 3 else 0)
        tally.add("returning_vehicle", f"the same unknown vehicle came back ({passes} passes){when}", points * boost)
        if ev.vehicle_cameras:
            tally.add(
                "vehicle_cross_camera",
                f"vehicle also seen on other cameras{when}",
                RULES["vehicle_cross_camera"].points * boost,
            )
        deviation = _deviation(ctx, VEHICLE_TYPES)
        if deviation >= BASELINE_FAR:
            tally.add("vehicle_baseline", f"more vehicles than usual for this hour (deviation {deviation:.2f})")
    elif night and any(t.dwell_s >= LINGERING_VEHICLE_SECONDS for t in unknown):
        tally.add("vehicle_lingering", "unknown vehicle lingering at night")


def _uncertain(ev: _Evidence) -> bool:
    weak = bool(ev.people) and max(t.confidence for t in ev.people) < 0.6
    explained = ev.resident or ev.household_vehicle or bool(ev.benign)
    conflicting = explained and bool(ev.threats)
    return ev.poor_visibility or not ev.has_zones or weak or conflicting


def assess_evidence(ctx: AnalysisContext, reader: SemanticReader | None = None) -> EvidenceAssessment:
    """The checklist score of one batch (0-100), its floors and every reason. ``reader`` reads the free
    text (default: the process's :func:`backend.services.semantic.get_reader`, loaded on first use)."""
    ev = _gather(ctx, reader or get_reader())
    tally = _Tally()
    _threat_flags(ev, tally)
    applied = _concept_rules(ev, tally)
    _covering_rules(ev, tally)
    _presence_rules(ctx, ev, tally)
    _vehicle_rules(ctx, ev, tally)
    if not ev.people and not ev.vehicles and ev.animals and not ev.threats:
        tally.ceiling = max(tally.floor, min(tally.ceiling, ANIMALS_ONLY_CEILING))
        tally.factors.append(EvidenceFactor(name="animals_only", points=0, detail="only animals in view (capped)"))
    score = min(max(tally.total, tally.floor, MIN_SCORE), tally.ceiling, MAX_SCORE)
    level = level_for_score(score)
    top = sorted(tally.factors, key=lambda f: -abs(f.points))[:3]
    reasons = "; ".join(f.detail for f in top) if top else "nothing that raises risk"
    return EvidenceAssessment(
        score=score,
        level=level,
        floor=tally.binding_floor,
        ceiling=tally.ceiling,
        floors=sorted(tally.floors, key=lambda f: (-f.binding, -f.score)),
        decisive=tally.binding_floor >= TAMPERING_WITH_PERSON_FLOOR,
        uncertain=_uncertain(ev),
        factors=tally.factors,
        findings=[r.finding() for r in applied],
        benign=[r.finding() for r in ev.benign],
        explanation=f"Evidence rates this {level} ({score}): {reasons}.",
    )


def checklist_rubric() -> str:
    """The checklist as scoring instructions for a prompt: the same points and limits assess_evidence uses,
    formatted from the same constants, written compactly because it shares the model's context."""
    zones = "; ".join(f"{zone.replace('_', ' ')} +{day} (night +{night})" for zone, (day, night) in ZONE_POINTS.items())
    dwell = ", ".join(f"{seconds // 60} min +{points}" for seconds, points in sorted(DWELL_TIERS))
    add = "; ".join(f"{rule.rubric} {rule.points:+d}" for rule in RULES.values() if rule.points > 0)
    subtract = "; ".join(f"{rule.rubric} {rule.points:+d}" for rule in RULES.values() if rule.points < 0)
    acts = "; ".join(
        f"{severity}: +{points}"
        + (f" (min {SEVERITY_FLOORS[severity]})" if severity in SEVERITY_FLOORS else f", x{NIGHT_FACTOR} at night")
        + " - "
        + ", ".join(c.label for c in CONCEPTS_BY_KEY.values() if c.severity is severity)
        for severity, points in SEVERITY_POINTS.items()
    )
    return (
        f"Scoring rubric: start at {MIN_SCORE} and add the points of everything that applies (* = x{NIGHT_FACTOR} "
        "at night).\n"
        f"Where the person is: {zones}. Lingering: {dwell}, times the zone weight, x{NIGHT_FACTOR} at night.\n"
        f"What they do: {acts}.\n"
        f"Add: {add}.\n"
        f"Subtract: {subtract}.\n"
        f"Limits: only animals in view: at most {ANIMALS_ONLY_CEILING}. Without a weapon, violence, fire, forced "
        f"entry, assault or tampering with a person at night: at most {NON_CRITICAL_CEILING}. "
        f"Clamp to {MIN_SCORE}-{MAX_SCORE}."
    )


# --- verdicts -----------------------------------------------------------------------------------------------


def _floors_record(evidence: EvidenceAssessment) -> list[dict[str, Any]]:
    return [f.model_dump() for f in evidence.floors]


def evidence_only(evidence: EvidenceAssessment) -> FinalVerdict:
    """The verdict without an LLM: the evidence score itself."""
    return FinalVerdict(
        risk_score=evidence.score,
        risk_level=evidence.level,
        decided_by={
            "risk_score": "evidence",
            "risk_level": "score_band",
            "trust": 0.0,
            "floors": _floors_record(evidence),
            "evidence_score": evidence.score,
        },
        risk_factors=[f.detail for f in evidence.factors],
    )


def blend(evidence_score: int, floor: int, llm_score: int, trust: float) -> int:
    """``evidence + trust * (llm - evidence)``, rounded, never below ``floor``; 0 <= result <= 100."""
    if not 0.0 <= trust <= 1.0:
        raise ValueError(f"trust must lie in 0..1, got {trust}")
    mixed = round(evidence_score + trust * (llm_score - evidence_score))
    return min(max(mixed, floor, MIN_SCORE), MAX_SCORE)


def combine(
    evidence: EvidenceAssessment,
    llm_score: int,
    llm_level: str | None = None,
    *,
    trust: float = 0.0,
    trust_source: str = "default",
) -> FinalVerdict:
    """The model's score met with the evidence by ``trust`` (see :func:`blend`); the level is the final
    score's band. ``decided_by`` says who set the score: ``llm`` (the model's own), ``evidence`` (the
    checklist's), ``blend`` (between them) or ``floor`` (a hard fact lifted it)."""
    final = blend(evidence.score, evidence.floor, llm_score, trust)
    mixed = round(evidence.score + trust * (llm_score - evidence.score))
    if final != mixed:
        who = "floor"
    elif trust == 0.0 or final == evidence.score:
        who = "evidence"
    elif trust == 1.0 or final == llm_score:
        who = "llm"
    else:
        who = "blend"
    level = level_for_score(final)
    said = (llm_level or "").strip().lower() or None
    return FinalVerdict(
        risk_score=final,
        risk_level=level,
        decided_by={
            "risk_score": who,
            "risk_level": "llm" if who == "llm" and said == level else "score_band",
            "trust": trust,
            "trust_source": trust_source,
            "floors": _floors_record(evidence),
            "evidence_score": evidence.score,
            "llm_score": llm_score,
            "llm_level": said,
        },
        risk_factors=[f.detail for f in evidence.factors],
    )
