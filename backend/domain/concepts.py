"""The concept bank: what free text from cameras can mean, written from public taxonomies, not from our data.

Captions, pose actions, attribute values and object types are matched by meaning (sentence embeddings,
:mod:`backend.services.semantic`) against these concepts. Each concept has a handful of plain descriptions
of the act; a text means a concept when it lies close to one of them.

Sources of the threat concepts (categories, not wording):
- UCF-Crime's anomaly classes (Sultani et al., CVPR 2018): Abuse, Arrest, Arson, Assault, Burglary,
  Explosion, Fighting, Road Accidents, Robbery, Shooting, Shoplifting, Stealing, Vandalism;
- police crime categories for residential incidents (police.uk street-level categories: burglary,
  vehicle crime, bicycle theft, criminal damage and arson, robbery, violence, possession of weapons,
  public order; FBI NIBRS offences: burglary/breaking and entering, theft from motor vehicle, motor
  vehicle theft, kidnapping/abduction, destruction/damage/vandalism, trespass of real property, peeping tom,
  stalking).
The benign concepts are the ordinary activity of a home, from the American Time Use Survey's activity
lexicon (US BLS; tier-1 categories 02 household activities, 03 caring for household members, 12-13 socialising,
leisure, sports and exercise, 16 household services, 18 travel): deliveries, trades and services, upkeep
of the house and garden, chores, play, visitors and the emergency services, passers-by, animals.

Severity (what a concept does to the evidence score, :mod:`backend.services.evidence_risk`):
- ``critical``: an act of harm in progress; raises the floor to the critical band (85);
- ``high``: a crime or an attempt at one; raises the floor to the high band (60);
- ``suspicious``: behaviour that precedes crime (casing, concealment, prowling); adds points, x1.5 at night;
- ``benign``: ordinary activity; may lower the evidence score, but only when non-text facts corroborate it;
- ``neutral``: plain presence (walking up, standing, getting out of a car); neither raises nor lowers, but a
  text that only says someone is there then reads as that and not as the nearest crime.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    SUSPICIOUS = "suspicious"
    BENIGN = "benign"
    NEUTRAL = "neutral"


@dataclass(frozen=True)
class Concept:
    """One meaning. ``label`` is how a reason or a summary names it ("fire or smoke at the property")."""

    key: str
    severity: Severity
    label: str
    source: str
    descriptions: tuple[str, ...]

    @property
    def threat(self) -> bool:
        return self.severity in (Severity.CRITICAL, Severity.HIGH, Severity.SUSPICIOUS)


_C = Severity.CRITICAL
_H = Severity.HIGH
_S = Severity.SUSPICIOUS
_B = Severity.BENIGN
_N = Severity.NEUTRAL

CONCEPTS: tuple[Concept, ...] = (
    # --- harm in progress (critical) ---------------------------------------------------------------------
    Concept(
        "fire",
        _C,
        "fire or smoke at the property",
        "UCF-Crime Arson, Explosion; police.uk criminal damage and arson; NIBRS arson",
        (
            "fire",
            "smoke",
            "flames",
            "a house on fire",
            "flames coming out of a building",
            "smoke coming from the roof or a window",
            "a car on fire",
            "a shed or garage burning",
            "someone setting fire to property",
            "an arsonist lighting a fire against the house",
            "pouring fuel on something and setting it alight",
            "an explosion",
        ),
    ),
    Concept(
        "armed",
        _C,
        "a person with a weapon",
        "UCF-Crime Shooting; police.uk possession of weapons; NIBRS weapon law violations",
        (
            "a gun",
            "a knife",
            "a firearm",
            "a person holding a gun",
            "a man pointing a pistol",
            "someone waving a knife around",
            "an armed man approaching the house",
            "a person carrying a machete",
            "someone threatening people with a weapon",
            "a person firing a gun",
        ),
    ),
    Concept(
        "assault",
        _C,
        "an assault on a person",
        "UCF-Crime Assault, Fighting, Abuse; police.uk violence and sexual offences; NIBRS assault offenses",
        (
            "an assault",
            "a fight",
            "people fighting",
            "a fight breaking out",
            "a person punching another person",
            "someone beating a person on the ground",
            "a man attacking a woman",
            "kicking someone who has fallen",
            "a violent struggle between people",
            "someone being strangled or choked",
            "a person being shoved to the ground and hit",
        ),
    ),
    Concept(
        "abduction",
        _C,
        "a person being taken by force",
        "NIBRS kidnapping/abduction",
        (
            "kidnapping a person",
            "an abduction",
            "someone taken away against their will",
            "a child grabbed and carried off by a stranger",
            "a person forced into a vehicle",
            "a person being dragged away while resisting",
        ),
    ),
    Concept(
        "robbery",
        _C,
        "a robbery",
        "UCF-Crime Robbery; police.uk robbery, theft from the person",
        (
            "a robbery",
            "a mugging",
            "a person threatening someone to hand over belongings",
            "someone snatching a bag from a person",
            "a resident held up at the door",
        ),
    ),
    Concept(
        "forced_entry",
        _C,
        "breaking into the house",
        "UCF-Crime Burglary; police.uk burglary; NIBRS burglary/breaking and entering",
        (
            "a break-in",
            "a burglar",
            "a burglary in progress",
            "breaking into a house",
            "smashing a window to get in",
            "prying a door open with a crowbar",
            "kicking a door in",
            "forcing a lock",
            "climbing in through a window",
            "a burglar entering the home",
            "breaking the glass of a door and reaching in to open it",
            "drilling or snapping the lock of the door",
        ),
    ),
    # --- crime or an attempt (high) ----------------------------------------------------------------------
    Concept(
        "attempted_entry",
        _H,
        "trying to get into the house",
        "police.uk burglary (attempted); NIBRS burglary/breaking and entering",
        (
            "trying a door handle",
            "trying to open doors",
            "checking if the door is unlocked",
            "testing if windows are locked",
            "pulling at a locked gate",
            "trying to open a window from outside",
            "going from door to door of the house trying to get in",
            "trying a key that does not fit",
        ),
    ),
    Concept(
        "vehicle_crime",
        _H,
        "a crime against a vehicle",
        "police.uk vehicle crime; NIBRS theft from motor vehicle, theft of motor vehicle parts, motor vehicle theft",
        (
            "breaking into a car",
            "stealing from a parked car",
            "stealing a car",
            "stealing parts from a car",
            "stealing the wheels or catalytic converter of a car",
            "stealing fuel",
            "tampering with someone else's car",
            "trying the doors of parked cars",
            "hot-wiring a car",
            "stealing the number plates off a car",
        ),
    ),
    Concept(
        "theft",
        _H,
        "stealing",
        "UCF-Crime Stealing, Shoplifting; police.uk other theft, bicycle theft; NIBRS larceny/theft",
        (
            "stealing",
            "a thief",
            "stealing a package from the porch",
            "taking a bicycle that is not theirs",
            "stealing tools from a shed",
            "carrying off items from the garden",
            "someone grabbing a parcel and running away",
            "taking things from the garage and leaving quickly",
            "loading stolen property into a vehicle",
        ),
    ),
    Concept(
        "vandalism",
        _H,
        "damaging property",
        "UCF-Crime Vandalism; police.uk criminal damage; NIBRS destruction/damage/vandalism",
        (
            "vandalism",
            "graffiti",
            "spray painting graffiti on a wall",
            "smashing windows",
            "slashing tyres",
            "scratching a car with a key",
            "deliberately damaging property",
            "throwing stones at the house",
            "kicking and breaking garden ornaments or fences",
            "smashing the mailbox",
        ),
    ),
    Concept(
        "disabling_security",
        _H,
        "disabling the cameras, lights or alarm",
        "NIBRS destruction/damage/vandalism (of security equipment); burglary preparation",
        (
            "covering a security camera",
            "blocking the camera view",
            "damaging a security camera",
            "spraying paint over the camera lens",
            "turning the camera away",
            "unscrewing the outdoor lights",
            "cutting the power or phone line to the house",
            "disabling the alarm",
        ),
    ),
    Concept(
        "trespass_climbing",
        _H,
        "climbing onto the property",
        "NIBRS trespass of real property",
        (
            "climbing over the fence into the yard",
            "scaling a wall",
            "climbing onto the roof or balcony",
            "jumping over the back gate",
            "climbing a ladder to an upstairs window",
        ),
    ),
    Concept(
        "peeping",
        _H,
        "looking into the windows",
        "NIBRS peeping tom",
        (
            "looking in the windows",
            "peering through a window into the house",
            "pressing a face to the glass to see inside",
            "shining a torch through the windows",
        ),
    ),
    Concept(
        "person_down",
        _H,
        "someone hurt or collapsed",
        "UCF-Crime Road Accidents",
        (
            "a person lying motionless on the ground",
            "someone collapsed and not moving",
            "a car crashing into something",
            "a person hit by a car",
        ),
    ),
    # --- behaviour that precedes crime (suspicious) ------------------------------------------------------
    Concept(
        "casing",
        _S,
        "watching the house",
        "burglary preparation ('casing'), police crime-prevention advice; NIBRS stalking",
        (
            "watching the house",
            "staring at the house for a long time",
            "photographing the house",
            "looking around to see if anyone is home",
            "walking slowly past several times looking at the house",
            "sitting in a parked car watching the house",
            "following a resident home",
            "making notes about the house",
        ),
    ),
    Concept(
        "concealment",
        _S,
        "hiding their face or themselves",
        "police crime-prevention advice (concealed identity)",
        (
            "a person wearing a balaclava",
            "a masked man",
            "someone hiding in the bushes",
            "crouching in the shadows out of sight",
            "a hood pulled low to hide the face",
            "hiding behind a car",
        ),
    ),
    Concept(
        "prowling",
        _S,
        "prowling around the property",
        "NIBRS trespass of real property",
        (
            "walking around the side of the house at night",
            "lurking in the back garden",
            "creeping along the wall",
            "trying to stay out of sight of the camera",
            "wandering around the property with a torch",
        ),
    ),
    # --- the ordinary activity of a home (benign): the American Time Use Survey's activity lexicon ----------
    Concept(
        "delivery",
        _B,
        "a delivery",
        "ATUS 16 household services (deliveries); postal and courier services",
        (
            "a courier delivering a parcel",
            "leaving a package at the door",
            "a postal worker delivering mail",
            "a food delivery driver dropping off an order",
            "a delivery van parked briefly at the kerb",
        ),
    ),
    Concept(
        "trades",
        _B,
        "a tradesperson at work",
        "ATUS 16 household services: lawn and garden, home maintenance and repair, pest control, utilities",
        (
            "a gardener doing yard work",
            "a window cleaner at work",
            "a workman repairing the roof",
            "reading the utility meter",
            "a plumber or electrician working on the house",
            "an electrician replacing an outdoor light",
            "painters and decorators working on the house",
            "a locksmith fixing the lock for the owner",
            "a worker in a high-visibility vest",
            "builders digging and using power tools",
            "a pest controller inspecting the garden",
            "refuse collectors emptying the bins",
        ),
    ),
    Concept(
        "home_upkeep",
        _B,
        "work on the house or garden",
        "ATUS 02 household activities: exterior maintenance and repair, lawn and garden, vehicles",
        (
            "mowing the lawn",
            "trimming the hedge",
            "cutting back overgrown plants with a blade",
            "chopping firewood with an axe",
            "digging in the garden",
            "climbing a ladder to clean the gutters",
            "repairing the fence",
            "painting the front door",
            "washing the car",
            "fixing a car in the driveway",
            "shovelling snow",
            "clearing leaves",
        ),
    ),
    Concept(
        "chores",
        _B,
        "household chores",
        "ATUS 02 household activities: housework, food preparation, household management",
        (
            "taking out the rubbish bins",
            "flattening boxes for recycling",
            "unloading shopping from the car",
            "carrying kitchen equipment into the house",
            "sweeping the path",
            "watering the plants",
            "cooking on a barbecue",
            "grilling food outdoors with smoke rising",
            "burning garden waste in a bonfire",
            "moving furniture into the house",
        ),
    ),
    Concept(
        "play",
        _B,
        "play and leisure",
        "ATUS 03 caring for and playing with children; ATUS 12-13 leisure, sports and exercise",
        (
            "children playing in the garden",
            "children playing games together",
            "kids play fighting and laughing",
            "children playing with toy weapons",
            "playing ball on the lawn",
            "a child climbing a tree",
            "a family relaxing around a fire pit",
            "friends having a party in the garden",
            "practising martial arts or boxing for sport",
            "skateboarding on the driveway",
        ),
    ),
    Concept(
        "visitor",
        _B,
        "a visitor calling",
        "ATUS 12 socialising; civic and emergency services on call",
        (
            "ringing the doorbell and waiting",
            "knocking on the front door and waiting for an answer",
            "a friend arriving and waving",
            "a neighbour chatting at the door",
            "a police officer on an official visit",
            "firefighters doing a safety check",
            "paramedics attending a patient",
            "a salesperson or canvasser at the door",
        ),
    ),
    Concept(
        "socialising",
        _B,
        "people socialising",
        "ATUS 12 socialising and communicating; ATUS 18 travel (waiting for a ride)",
        (
            "people chatting",
            "neighbours talking over the fence",
            "having a coffee or a drink outside",
            "talking on the phone",
            "waiting for a taxi or a lift",
            "getting into a taxi",
            "saying goodbye to guests",
        ),
    ),
    Concept(
        "exercise",
        _B,
        "exercise",
        "ATUS 13 sports, exercise and recreation",
        (
            "doing yoga or stretching on the lawn",
            "lying on a mat exercising",
            "lifting weights in the garage",
            "sunbathing on the grass",
        ),
    ),
    Concept(
        "passer_by",
        _B,
        "someone passing by",
        "ATUS 18 travel; ATUS 13 exercise on public ground",
        (
            "a person walking along the sidewalk",
            "a jogger running past",
            "walking a dog on the street",
            "a cyclist riding by",
            "a parent pushing a pushchair",
            "cars driving along the road",
        ),
    ),
    Concept(
        "animal",
        _B,
        "an animal",
        "ATUS 02 animals and pets; wildlife",
        (
            "a cat",
            "a dog",
            "a cat walking across the lawn",
            "a dog in the yard",
            "a fox or deer passing through",
            "birds on the grass",
            "an animal's eyes glowing in the dark",
            "raccoons going through the rubbish",
        ),
    ),
    # --- plain presence (neutral) ------------------------------------------------------------------------
    Concept(
        "presence",
        _N,
        "someone there",
        "plain presence, so that it is not read as the nearest crime",
        (
            "a person",
            "a person standing",
            "a person walking towards the front door",
            "someone walking up the driveway",
            "a person getting out of a car",
            "a person getting into a car",
            "reaching into a car",
            "opening and closing a door",
            "a person crossing the yard",
            "a man standing on the porch",
            "a resident coming home",
            "a car parked in the driveway",
        ),
    ),
)

CONCEPTS_BY_KEY: dict[str, Concept] = {c.key: c for c in CONCEPTS}
