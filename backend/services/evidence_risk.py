"""A deterministic, explainable risk assessment from the structured evidence of one batch.

Why: a small LLM's own score cries wolf on deliveries and misses break-ins. The checklist a security
professional would apply — who (household, uniformed worker, stranger), where (zone type), when (night),
how long (dwell), what they do (pose actions), what the detectors flag (weapon, violence, tampering) — is
computed here as points with a reason each. The result BOUNDS the final score: the LLM writes the narrative
and may move the score only inside ``[min_score, max_score]`` (the critical band when a hard flag decides,
a band around the score otherwise, wider when the evidence is uncertain), and :func:`combine` records which
part decided what.

Only facts of :class:`AnalysisContext` are read: object types, confidences, local time, zone TYPES, dwell,
baseline deviation, cross-camera sightings, known/unknown identities and enrichment flags. Ids, camera and
zone names never are. Free text is untrusted: OCR is never read; captions are matched against a few risk
words and can only RAISE the score; no text can lower it below what a hard flag requires.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from backend.domain.scenario import Enrichment, Pose
from backend.services.context_enrichment import AnalysisContext, DetectionFacts
from backend.domain.risk_levels import MAX_SCORE, MIN_SCORE, band_for_level, level_for_score
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

CREDIBLE_CONFIDENCE = 0.5  # below this a "person" is most likely a shadow, an animal or noise
DECISIVE_FLAG_CONFIDENCE = 0.6  # a weapon or violence flag at or above this decides "critical"
WEAK_FLAG_CONFIDENCE = 0.4
CRITICAL_FLOOR = 85
TAMPERING_WITH_PERSON_FLOOR = 80
HIGH_FLOOR = 60
NON_CRITICAL_CEILING = 84  # without evidence of an actual threat, suspicion alone stays "high" at most
ANIMALS_ONLY_CEILING = 20
NIGHT_FACTOR = 1.5  # the same suspicious behaviour weighs more at night
BOUNDS_HALF_WIDTH = 12
UNCERTAIN_EXTRA_WIDTH = 6

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


@dataclass(frozen=True)
class Rule:
    points: int
    rubric: str  # how the rule reads in the scoring rubric shown to the LLM


# Every fixed-point rule; the rubric prompt variant is generated from this table, so they cannot drift apart.
RULES: dict[str, Rule] = {
    "person": Rule(8, "person"),
    "unknown_face": Rule(5, "unrecognised face"),
    "small_hours": Rule(10, "stranger on the property 00-05h"),
    "baseline_far": Rule(10, "people far above usual (deviation>=0.9)"),
    "baseline_raised": Rule(5, "people above usual (deviation>=0.7)"),
    "cross_camera_one": Rule(5, "person on 1 other camera*"),
    "cross_camera_many": Rule(10, "person on 2+ other cameras*"),
    "returning": Rule(10, "stranger seen here before*"),
    "watching": Rule(10, "watching the house*"),
    "crouching": Rule(10, "crouching at night or at a door"),
    "face_covering": Rule(15, "face covered by day"),
    "face_covering_weather": Rule(5, "face covered in rain or snow"),
    "face_covering_night": Rule(25, "face covered at night (min 60)"),
    "looking_in_window": Rule(35, "looking into windows (min 60)"),
    "trying_door": Rule(40, "trying doors (min 60)"),
    "climbing": Rule(30, "climbing a fence or wall (min 60)"),
    "taking_package": Rule(40, "stranger taking a package (min 60; 85 if confirmed)"),
    "aggression": Rule(20, "fighting"),
    "forced_entry": Rule(60, "forced entry (min 85)"),
    "vandalism": Rule(45, "vandalism (min 60; 85 if confirmed)"),
    "tampering": Rule(40, "camera tampering (min 60; 80 with a person)"),
    "weapon": Rule(50, "weapon >=60% (min 85)"),
    "possible_weapon": Rule(25, "weapon 40-59%"),
    "weak_weapon": Rule(8, "weapon <40%"),
    "violence": Rule(50, "violence >=60% (min 85)"),
    "possible_violence": Rule(25, "violence 40-59%"),
    "weak_violence": Rule(8, "violence <40%"),
    "vehicle_damage": Rule(20, "vehicle damage with a person"),
    "vehicle_damage_unattended": Rule(10, "vehicle damage, nobody in view"),
    "vehicle_on_property": Rule(5, "unknown vehicle on the property by day, nobody in view"),
    "vehicle_on_property_night": Rule(10, "same at night"),
    "returning_vehicle": Rule(20, "same unknown vehicle 2+ passes*"),
    "returning_vehicle_more": Rule(20, "3+ passes, extra*"),
    "vehicle_cross_camera": Rule(5, "returning vehicle on other cameras*"),
    "vehicle_baseline": Rule(5, "returning vehicle, traffic far above usual"),
    "vehicle_lingering": Rule(10, "unknown vehicle lingering 5+ min at night"),
    "known_face": Rule(-10, "recognised household face (then skip where, when, how long)"),
    "household_vehicle": Rule(-25, "household vehicle and a visit under 3 min (then skip how long)"),
    "uniform": Rule(-15, "uniformed delivery or service worker (skip how long)"),
    "delivery_pattern": Rule(-10, "carrying a package, visit under 2 min"),
    "pass_by": Rule(-5, "pass-by on sidewalk or street under 1 min"),
    "with_pet": Rule(-5, "person with a pet"),
}

# Behaviours a pose action names, as word stems, so "jiggling_doorknob" and "trying_door_handle" both count:
# (behaviour, the action must match, and must also match (or None), and must NOT match (or None)).
_CAR = r"\b(car|vehicle|mirror|tires?|tyres?|windshield|windscreen|truck|van)\b"
_BEHAVIOUR_PATTERNS: tuple[tuple[str, str, str | None, str | None], ...] = (
    ("forced_entry", r"\b(forc|pry|pries|burgl|lock ?pick|ram)\w*|\bpick\w* (the |a )?lock|\bbreak\w* in", None, _CAR),
    ("forced_entry", r"\b(break|smash|kick|shatter)\w*", r"(door|window|lock|gate|glass|pane)", _CAR),
    ("vandalism", r"\b(vandal|graffiti|spray|deface)\w*|\btagging\b", None, r"camera|lens"),
    ("vandalism", r"\b(smash|kick|keying|slash|damag|scratch|break|dent)\w*", _CAR, None),
    (
        "trying_door",
        r"\b(try|tries|trying|pull|jiggl|test|rattl|check|turn|twist|push)\w*",
        r"(door|handle|knob|lock|latch|gate)",
        None,
    ),
    ("looking_in_window", r"\b(look|peer|peek|peep|star|glanc|gaz|snoop)\w*", r"window", None),
    ("climbing", r"\b(climb|scal)\w*", None, None),
    ("climbing", r"\b(jump|hop|vault)\w*", r"(fence|wall|gate|window|balcony|roof)", None),
    ("taking_package", r"\b(steal|theft|snatch|pilfer|loot)\w*", None, None),
    ("taking_package", r"\b(pick|grab|tak|lift|remov|swip)\w*", r"(package|parcel|box|deliver)", None),
    ("aggression", r"\b(fight|punch|assault|attack|shov|strangl|stab|brawl)\w*|\bhit(s|ting)?\b", None, None),
    ("watching", r"\b(observ|watch|photograph|film|surveil|casing)\w*", None, None),
    ("watching", r"\blook\w*", r"(house|home|property)", None),
    ("camera_tampering", r"\b(cover|block|obstruct|tamper|unplug|spray|cut|turn)\w*", r"camera|lens", None),
)
_HIDING_POSTURE = r"\b(crouch|crawl|hid|squat)\w*"
# Caption topics: (topic, points, pattern). Captions are untrusted text: they can only raise the score.
_CAPTION_TOPICS: tuple[tuple[str, int, str], ...] = (
    (
        "forced entry",
        25,
        r"\b(shatter\w*|pr(y|ies|ied|ying)|crowbar|burglar\w*|break(s|ing)? in(to)?|forc(es|ed|ing) "
        r"(open|the|a|its)|(smash|break|kick)\w* (\w+ ){0,3}(window|door|glass|pane|lock))\b",
    ),
    ("a weapon", 25, r"\b(gun|pistol|rifle|handgun|firearm|knife|machete|weapon)s?\b"),
    ("violence", 25, r"\b(fight\w*|punch\w*|assault\w*|attack\w*|stab\w*|beat(s|ing)? (up|a|the))\b"),
    ("theft or vandalism", 15, r"\b(steal\w*|stole|grabs?|snatch\w*|graffiti|vandal\w*|spray ?paint\w*|damag\w*)\b"),
    ("concealment", 10, r"\b(balaclava|ski mask|masked|mask)\b"),
)
CAPTION_MAX_POINTS = 25
_WORKER_WORDS = frozenset({"uniform", "uniformed", "courier", "delivery", "postal", "mail", "utility", "service"})
_NO_VALUE = frozenset({"none", "no", "false", "unknown", "null"})
_POOR_VISIBILITY = frozenset({"poor", "low", "bad", "none"})
_COVERING_WEATHER = frozenset({"rain", "snow", "sleet", "hail", "storm", "cold", "freezing", "blizzard"})


class EvidenceFactor(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    points: int
    detail: str  # human-readable, e.g. "person at entry point at night (+22)"


class EvidenceAssessment(BaseModel):
    """The evidence score, the range it allows the LLM's score, and the reasons."""

    model_config = ConfigDict(frozen=True)

    score: int = Field(ge=MIN_SCORE, le=MAX_SCORE)
    level: str
    min_score: int = Field(ge=MIN_SCORE, le=MAX_SCORE)
    max_score: int = Field(ge=MIN_SCORE, le=MAX_SCORE)
    floor: int  # the lowest score the hard flags allow
    ceiling: int  # the highest score the evidence allows
    decisive: bool  # a hard flag requires "critical" (weapon, violence, forced entry, ...)
    uncertain: bool  # poor visibility, unknown location, weak detections or conflicting signals
    factors: list[EvidenceFactor]
    explanation: str

    def prompt_summary(self) -> str:
        """The assessment as a prompt may show it: the allowed range and every reason."""
        reasons = "; ".join(f.detail for f in self.factors) or "no risk factors"
        return (
            f"Evidence checklist: score {self.score} ({self.level}); your risk_score must lie in "
            f"{self.min_score}-{self.max_score}. Reasons: {reasons}."
        )


class FinalVerdict(BaseModel):
    """The score and level an event records, and which part decided them."""

    model_config = ConfigDict(frozen=True)

    risk_score: int
    risk_level: str
    decided_by: dict[str, Any]
    risk_factors: list[str]


# --- vocabulary ---------------------------------------------------------------------------------------------


def _plain(text: str | None) -> str:
    """Lower case letters, every run of anything else one space: "Trying_Door-Handle" -> "trying door handle"."""
    return " ".join(re.findall(r"[a-z]+", (text or "").lower()))


def _words(text: str | None) -> frozenset[str]:
    return frozenset(_plain(text).split())


def behaviours(action: str | None, posture: str | None = None) -> frozenset[str]:
    """Risk-relevant behaviours a pose action/posture names, whatever the detector's exact wording."""
    text = _plain(action)
    found = {
        name
        for name, must, also, never in _BEHAVIOUR_PATTERNS
        if re.search(must, text) and (also is None or re.search(also, text)) and not (never and re.search(never, text))
    }
    if re.search(_HIDING_POSTURE, _plain(posture)):
        found.add("crouching")
    return frozenset(found)


def caption_topics(caption: str | None) -> frozenset[str]:
    """Risk topics a scene caption mentions (untrusted text: used only to raise risk)."""
    text = _plain(caption)
    return frozenset(topic for topic, _, pattern in _CAPTION_TOPICS if re.search(pattern, text))


def _uniformed(enrichment: Enrichment) -> bool:
    """A uniform attribute ({"uniform": "delivery"}, {"role": "postal worker"}) or uniform-like clothing."""
    attributes = enrichment.vision.attributes if enrichment.vision else {}
    if _words(attributes.get("uniform")) - _NO_VALUE:
        return True
    if any(_words(value) & _WORKER_WORDS for key, value in attributes.items() if key != "carrying"):
        return True
    upper = _words(enrichment.clothing.upper if enrichment.clothing else None)
    return bool(upper & {"uniform", "uniformed", "courier"} or {"hi", "vis"} <= upper or {"safety", "vest"} <= upper)


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
        if not has_zones or all(f.detection.bbox is None for f in self.facts):
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
    resident: bool  # a household face matched
    household_vehicle: bool  # a household plate read
    unknown_face: bool
    uniformed: bool
    carrying_package: bool
    behaviour: frozenset[str]
    face_covered: bool
    covering_weather: bool
    poor_visibility: bool
    tampering: bool
    vehicle_damage: bool
    weapon: tuple[float, str | None]  # the most confident weapon and its type
    violence: float
    captions: frozenset[str]  # caption topics
    returning_person: bool
    returning_plates: int  # most separate tracks of one unknown plate
    returning_vehicle: bool
    person_cameras: int  # other cameras that saw a person around this batch
    vehicle_cameras: int


def _gather(ctx: AnalysisContext) -> _Evidence:
    all_people = _tracks(ctx, PERSON_TYPES, merge_untracked=True)
    people = [t for t in all_people if t.confidence >= CREDIBLE_CONFIDENCE]
    person_enrich = [f.detection.enrichment for t in people for f in t.facts]
    everything = [f.detection.enrichment for f in ctx.detections]
    # A pose model naming an action means someone was there, however faint the person detection.
    poses: list[Pose] = [
        f.detection.enrichment.pose for t in all_people for f in t.facts if f.detection.enrichment.pose
    ]
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
    attributes = [e.vision.attributes for e in person_enrich if e.vision]
    return _Evidence(
        people=people,
        vehicles=vehicles,
        animals=any(f.detection.object_type in ANIMAL_TYPES or f.detection.enrichment.pet for f in ctx.detections),
        packages=any(f.detection.object_type in PACKAGE_TYPES for f in ctx.detections),
        has_zones=bool(ctx.scenario.zones),
        resident=any(f.face == "known" for t in people for f in t.facts),
        household_vehicle=bool(ctx.identities.known_plates),
        unknown_face=any(f.face == "unknown" for t in people for f in t.facts),
        uniformed=any(_uniformed(e) for e in person_enrich),
        carrying_package=any(_words(a.get("carrying")) & PACKAGE_TYPES for a in attributes),
        behaviour=frozenset().union(*(behaviours(pose.action, pose.posture) for pose in poses)),
        face_covered=any(e.clothing and e.clothing.face_covering for e in person_enrich),
        covering_weather=any(e.weather and _words(e.weather.condition) & _COVERING_WEATHER for e in everything),
        poor_visibility=_poor_visibility(everything),
        tampering=any(e.image_quality and e.image_quality.tampering for e in everything),
        vehicle_damage=any(e.vehicle and e.vehicle.damage for e in everything),
        weapon=max(weapons, key=lambda w: w[0], default=(0.0, None)),
        violence=max((_flag_confidence(flag.confidence, f) for f, flag in _flagged(ctx, "violence")), default=0.0),
        captions=frozenset().union(*(caption_topics(e.vision.caption) for e in everything if e.vision)),
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
    floor: int = MIN_SCORE
    ceiling: int = NON_CRITICAL_CEILING
    decisive: bool = False

    def add(self, rule: str, reason: str, points: float | None = None) -> None:
        """Adds a factor: the rule's points, or ``points`` for scaled rules; zero-point factors are dropped."""
        rounded = round(RULES[rule].points if points is None else points)
        if rounded:
            self.factors.append(EvidenceFactor(name=rule, points=rounded, detail=f"{reason} ({rounded:+d})"))

    def require(self, floor: int) -> None:
        """Hard evidence: the score may not go below ``floor``; a threat floor also lifts the ceiling."""
        self.floor = max(self.floor, floor)
        if floor >= TAMPERING_WITH_PERSON_FLOOR:
            self.decisive = True
            self.ceiling = MAX_SCORE

    @property
    def total(self) -> int:
        return sum(f.points for f in self.factors)


def _threat_flags(ev: _Evidence, tally: _Tally) -> None:
    """Detector findings that no identity, uniform or text can explain away."""
    confidence, kind = ev.weapon
    what = quote_untrusted(kind or "unknown type", 24)
    if confidence >= DECISIVE_FLAG_CONFIDENCE:
        tally.add("weapon", f"weapon {what} detected at {confidence:.0%}")
        tally.require(CRITICAL_FLOOR)
    elif confidence >= WEAK_FLAG_CONFIDENCE:
        tally.add("possible_weapon", f"possible weapon {what} at {confidence:.0%}")
    elif confidence > 0:
        tally.add("weak_weapon", f"weak weapon signal {what} at {confidence:.0%}, likely a tool")
    if ev.violence >= DECISIVE_FLAG_CONFIDENCE:
        tally.add("violence", f"violence detected at {ev.violence:.0%}")
        tally.require(CRITICAL_FLOOR)
    elif ev.violence >= WEAK_FLAG_CONFIDENCE:
        tally.add("possible_violence", f"possible violence at {ev.violence:.0%}")
    elif ev.violence > 0:
        tally.add("weak_violence", f"weak violence signal at {ev.violence:.0%}")
    if ev.tampering or "camera_tampering" in ev.behaviour:
        tally.add("tampering", "camera tampering (view covered, moved or blinded)")
        tally.require(TAMPERING_WITH_PERSON_FLOOR if ev.people else HIGH_FLOOR)
    if "forced_entry" in ev.behaviour:
        tally.add("forced_entry", "forced entry (breaking, prying or kicking a door or window)")
        tally.require(CRITICAL_FLOOR)
    if "vandalism" in ev.behaviour:
        confirmed = ev.vehicle_damage or bool(ev.captions & {"forced entry", "theft or vandalism"})
        tally.add("vandalism", "vandalism in progress" + (", confirmed by damage or caption" if confirmed else ""))
        tally.require(CRITICAL_FLOOR if confirmed else HIGH_FLOOR)
    if ev.vehicle_damage:
        rule = "vehicle_damage" if ev.people else "vehicle_damage_unattended"
        tally.add(rule, "vehicle damage detected")
    if "aggression" in ev.behaviour:
        tally.add("aggression", "aggressive behaviour (fighting, hitting)")


def _caption_rule(ev: _Evidence, tally: _Tally) -> None:
    """Caption keywords, untrusted: a capped raise, and a forced-entry caption is decisive only when the
    structured data independently puts a person at an entry point."""
    found = [(topic, points) for topic, points, _ in _CAPTION_TOPICS if topic in ev.captions]
    if not found:
        return
    confirmed = "forced entry" in ev.captions and any("entry_point" in t.zone_types for t in ev.people)
    reason = "scene caption mentions " + ", ".join(topic for topic, _ in found)
    points = min(CAPTION_MAX_POINTS, sum(points for _, points in found))
    tally.factors.append(
        EvidenceFactor(
            name="caption",
            points=points,
            detail=f"{reason}{', with a person at an entry point' if confirmed else ''} (+{points})",
        )
    )
    if confirmed:
        tally.require(CRITICAL_FLOOR)


def _behaviour_rules(ev: _Evidence, tally: _Tally, night: bool) -> None:
    """What people do. A recognised household member at their own door or window is not suspicious."""
    if ev.resident:
        return
    boost, when = (NIGHT_FACTOR, " at night") if night else (1.0, "")
    for rule, reason in (
        ("trying_door", "trying door handles or locks"),
        ("looking_in_window", "looking into windows"),
        ("climbing", "climbing a fence, wall or gate"),
    ):
        if rule in ev.behaviour:
            tally.add(rule, reason)
            tally.require(HIGH_FLOOR)
    if "taking_package" in ev.behaviour and not ev.uniformed:
        confirmed = ev.packages or ev.carrying_package or "theft or vandalism" in ev.captions
        tally.add("taking_package", "a stranger takes a package" + (", confirmed" if confirmed else ""))
        tally.require(CRITICAL_FLOOR if confirmed else HIGH_FLOOR)
    if "watching" in ev.behaviour:
        tally.add("watching", "watching or photographing the house" + when, RULES["watching"].points * boost)
    if "crouching" in ev.behaviour and (night or any("entry_point" in t.zone_types for t in ev.people)):
        tally.add("crouching", "crouching near the house" + when)
    if ev.face_covered and night:
        tally.add("face_covering_night", "face covered at night")
        tally.require(HIGH_FLOOR)
    elif ev.face_covered and ev.covering_weather:
        tally.add("face_covering_weather", "face covered in cold or wet weather")
    elif ev.face_covered:
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
    if ev.household_vehicle and max(t.dwell_s for t in ev.people) < LOITER_FLOOR_SECONDS:
        tally.add("household_vehicle", "brief visit with a household vehicle present")
        return
    if ev.uniformed:
        tally.add("uniform", "uniformed delivery or service worker")
    elif weight >= OUTSIDE_ZONES_WEIGHT and any(f.hour < SMALL_HOURS_END for f in riskiest.facts):
        tally.add("small_hours", "on the property in the small hours")
    longest = max(ev.people, key=lambda t: t.dwell_s * t.where(ev.has_zones)[1])
    dwell = longest.dwell_s
    drop_off = ev.carrying_package and dwell < 2 * PASS_BY_SECONDS and "taking_package" not in ev.behaviour
    if drop_off and not ev.uniformed:
        tally.add("delivery_pattern", "brief visit carrying a package (drop-off)")
    if not ev.uniformed:
        _lingering(ev, longest, tally)
    if ev.unknown_face:
        tally.add("unknown_face", "unrecognised face")
    if all(t.zone_types and t.zone_types <= {"sidewalk", "street"} and t.dwell_s < PASS_BY_SECONDS for t in ev.people):
        tally.add("pass_by", "brief pass-by on the sidewalk or street")
    if ev.animals and not ev.behaviour - {"crouching"}:
        tally.add("with_pet", "accompanied by a pet")
    if not (ev.uniformed or drop_off):
        _unusual_people(ctx, ev, tally, riskiest.night)


def _lingering(ev: _Evidence, longest: _Track, tally: _Tally) -> None:
    weight = longest.where(ev.has_zones)[1]
    boost, when = (NIGHT_FACTOR, " at night") if longest.night else (1.0, "")
    for seconds, points in DWELL_TIERS:
        if longest.dwell_s >= seconds:
            tally.add("loitering", f"lingering {round(longest.dwell_s)} s{when}", points * weight * boost)
            break
    if any(t.night and t.dwell_s >= LOITER_FLOOR_SECONDS and "entry_point" in t.zone_types for t in ev.people):
        tally.require(HIGH_FLOOR)


def _unusual_people(ctx: AnalysisContext, ev: _Evidence, tally: _Tally, night: bool) -> None:
    """Activity beyond the usual: baseline deviation, other cameras, re-identification."""
    boost, when = (NIGHT_FACTOR, " at night") if night else (1.0, "")
    deviation = _deviation(ctx, PERSON_TYPES)
    if deviation >= 0.9:
        tally.add("baseline_far", f"people far above the usual for this hour (deviation {deviation:.2f})")
    elif deviation >= 0.7:
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
        if deviation >= 0.9:
            tally.add("vehicle_baseline", f"more vehicles than usual for this hour (deviation {deviation:.2f})")
    elif night and any(t.dwell_s >= LINGERING_VEHICLE_SECONDS for t in unknown):
        tally.add("vehicle_lingering", "unknown vehicle lingering at night")


def _uncertain(ev: _Evidence) -> bool:
    weak = bool(ev.people) and max(t.confidence for t in ev.people) < 0.6
    explained = ev.resident or ev.household_vehicle or ev.uniformed
    conflicting = explained and bool(ev.behaviour - {"crouching", "watching"})
    return ev.poor_visibility or not ev.has_zones or weak or conflicting


def _bounds(score: int, tally: _Tally, uncertain: bool) -> tuple[int, int]:
    """Where the LLM may move the score: from the hard floor up when a flag is decisive; otherwise a band
    around the score, kept inside the score's level unless the evidence is uncertain."""
    if tally.decisive:
        return tally.floor, MAX_SCORE
    width = BOUNDS_HALF_WIDTH + (UNCERTAIN_EXTRA_WIDTH if uncertain else 0)
    low, high = score - width, score + width
    if not uncertain:
        band_low, band_high = band_for_level(level_for_score(score))
        low, high = max(low, band_low), min(high, band_high)
    return max(low, tally.floor, MIN_SCORE), min(high, tally.ceiling, MAX_SCORE)


def assess_evidence(ctx: AnalysisContext) -> EvidenceAssessment:
    """The checklist score of one batch, the range it allows the LLM, and every reason."""
    ev = _gather(ctx)
    tally = _Tally()
    _threat_flags(ev, tally)
    _caption_rule(ev, tally)
    _behaviour_rules(ev, tally, night=any(t.night for t in ev.people))
    _presence_rules(ctx, ev, tally)
    _vehicle_rules(ctx, ev, tally)
    if not ev.people and not ev.vehicles and ev.animals:
        tally.ceiling = max(tally.floor, min(tally.ceiling, ANIMALS_ONLY_CEILING))
        tally.factors.append(EvidenceFactor(name="animals_only", points=0, detail="only animals in view (capped)"))
    score = min(max(tally.total, tally.floor, MIN_SCORE), tally.ceiling, MAX_SCORE)
    level = level_for_score(score)
    uncertain = _uncertain(ev)
    low, high = _bounds(score, tally, uncertain)
    top = sorted(tally.factors, key=lambda f: -abs(f.points))[:3]
    reasons = "; ".join(f.detail for f in top) if top else "nothing that raises risk"
    return EvidenceAssessment(
        score=score,
        level=level,
        min_score=low,
        max_score=high,
        floor=tally.floor,
        ceiling=tally.ceiling,
        decisive=tally.decisive,
        uncertain=uncertain,
        factors=tally.factors,
        explanation=f"Evidence rates this {level} ({score}): {reasons}.",
    )


def checklist_rubric() -> str:
    """The checklist as scoring instructions for a prompt: the same points and limits assess_evidence uses,
    written compactly because it shares the model's context with the detections."""
    zones = "; ".join(f"{zone.replace('_', ' ')} +{day} (night +{night})" for zone, (day, night) in ZONE_POINTS.items())
    dwell = ", ".join(f"{seconds // 60} min +{points}" for seconds, points in sorted(DWELL_TIERS))
    add = "; ".join(f"{rule.rubric} {rule.points:+d}" for rule in RULES.values() if rule.points > 0)
    subtract = "; ".join(f"{rule.rubric} {rule.points:+d}" for rule in RULES.values() if rule.points < 0)
    return (
        "Scoring rubric: start at 0 and add the points of everything that applies (* = x1.5 at night).\n"
        f"Where the person is: {zones}. Lingering: {dwell}, times the zone weight, x{NIGHT_FACTOR} at night.\n"
        f"Add: {add}.\n"
        f"Subtract: {subtract}.\n"
        f"Limits: only animals in view: at most {ANIMALS_ONLY_CEILING}. Without a weapon, violence, forced entry, "
        f"confirmed theft or vandalism, or tampering: at most {NON_CRITICAL_CEILING}. Clamp to {MIN_SCORE}-{MAX_SCORE}."
    )


# --- verdicts -----------------------------------------------------------------------------------------------


def evidence_only(evidence: EvidenceAssessment) -> FinalVerdict:
    """The verdict without an LLM: the evidence score itself."""
    return FinalVerdict(
        risk_score=evidence.score,
        risk_level=evidence.level,
        decided_by={
            "risk_score": "evidence",
            "risk_level": "score_band",
            "bounds": [evidence.min_score, evidence.max_score],
            "evidence_score": evidence.score,
        },
        risk_factors=[f.detail for f in evidence.factors],
    )


def combine(evidence: EvidenceAssessment, llm_score: int, llm_level: str | None = None) -> FinalVerdict:
    """The LLM's score clamped into the evidence bounds; the level is always the final score's band."""
    final = min(max(llm_score, evidence.min_score), evidence.max_score)
    level = level_for_score(final)
    said = (llm_level or "").strip().lower() or None
    return FinalVerdict(
        risk_score=final,
        risk_level=level,
        decided_by={
            "risk_score": "llm" if final == llm_score else "evidence_bounds",
            "risk_level": "llm" if said == level else "score_band",
            "bounds": [evidence.min_score, evidence.max_score],
            "evidence_score": evidence.score,
            "llm_score": llm_score,
            "llm_level": said,
        },
        risk_factors=[f.detail for f in evidence.factors],
    )
