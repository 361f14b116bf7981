"""Build the development (tuning) set: a hand-written scene table -> scenario folders.

    python data/tuning/build.py            # rewrites data/tuning/{normal,suspicious,threats}/

Every scene below was written by hand: the captions, poses, attributes and labels. The script only lays them
out in the data contract (/work/shared/contracts/scenario-format.md): timestamps from a local start time plus
offsets in seconds, pixel boxes placed inside the named zone of the camera, confidences and track ids. All
"randomness" comes from a stream seeded with the scene id (zlib.crc32), so the output is the same every run.

This set is for looking at and tuning on. It is NOT the hold-out (data/generalisation/).
"""

from __future__ import annotations

import json
import random
import shutil
import zlib
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent
CATEGORIES = ("normal", "suspicious", "threats")
BANDS = {"low": (0, 29), "medium": (30, 59), "high": (60, 84), "critical": (85, 100)}

# --------------------------------------------------------------------------------------------------
# cameras: (default id, default name, width, height, zones); zone = (id, name, type, polygon, depth scale)
# the depth scale shrinks objects standing in far zones (the street seen from the porch is far away)
# --------------------------------------------------------------------------------------------------


def rect(x0: float, y0: float, x1: float, y1: float) -> list[list[float]]:
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


# fmt: off
CAMERAS = {
    "front_door": ("front_door", "Front Door", 1920, 1080, [
        ("porch", "Porch", "entry_point", [[0.34, 0.30], [0.70, 0.30], [0.74, 1.0], [0.30, 1.0]], 1.0),
        ("front_window", "Front window", "entry_point", rect(0.74, 0.20, 0.98, 0.70), 0.9),
        ("path", "Front path", "yard", [[0.10, 0.55], [0.34, 0.55], [0.30, 1.0], [0.0, 1.0]], 0.9),
        ("sidewalk", "Sidewalk", "sidewalk", rect(0.0, 0.42, 0.34, 0.55), 0.5),
        ("street", "Street", "street", rect(0.0, 0.30, 0.34, 0.42), 0.4),
    ]),
    "driveway": ("driveway", "Driveway", 2560, 1440, [
        ("street", "Street", "street", rect(0.0, 0.18, 1.0, 0.32), 0.45),
        ("sidewalk", "Sidewalk", "sidewalk", rect(0.0, 0.32, 1.0, 0.40), 0.55),
        ("driveway", "Driveway", "driveway", [[0.35, 0.40], [0.85, 0.40], [1.0, 1.0], [0.30, 1.0]], 1.0),
        ("front_lawn", "Front lawn", "yard", [[0.0, 0.40], [0.35, 0.40], [0.30, 1.0], [0.0, 1.0]], 0.9),
    ]),
    "backyard": ("backyard", "Back Garden", 1920, 1080, [
        ("back_door", "Back door", "entry_point", rect(0.05, 0.35, 0.22, 0.85), 1.0),
        ("kitchen_window", "Kitchen window", "entry_point", rect(0.24, 0.30, 0.40, 0.60), 0.9),
        ("patio", "Patio", "yard", rect(0.05, 0.60, 0.55, 1.0), 1.0),
        ("lawn", "Lawn", "yard", [[0.40, 0.35], [1.0, 0.35], [1.0, 1.0], [0.55, 1.0]], 0.8),
        ("shed", "Garden shed", "other", rect(0.80, 0.15, 0.98, 0.45), 0.6),
        ("fence", "Back fence", "other", rect(0.30, 0.05, 1.0, 0.22), 0.5),
    ]),
    "side_gate": ("side_gate", "Side Gate", 1280, 720, [
        ("gate", "Side gate", "entry_point", rect(0.60, 0.15, 0.85, 0.85), 1.0),
        ("side_path", "Side passage", "yard", rect(0.10, 0.50, 0.60, 1.0), 1.0),
        ("side_window", "Side window", "entry_point", rect(0.0, 0.15, 0.25, 0.55), 0.9),
        ("bins", "Bin store", "other", rect(0.30, 0.35, 0.50, 0.60), 0.8),
    ]),
    "garage": ("garage", "Garage", 1280, 720, [
        ("garage_door", "Garage door", "entry_point", rect(0.22, 0.12, 0.78, 0.66), 1.0),
        ("apron", "Garage apron", "driveway", [[0.05, 0.66], [0.95, 0.66], [1.0, 1.0], [0.0, 1.0]], 1.0),
        ("bins", "Bins", "other", rect(0.82, 0.40, 0.98, 0.66), 0.8),
    ]),
    "street": ("street_view", "Street View", 2688, 1520, [
        ("far_sidewalk", "Far sidewalk", "sidewalk", rect(0.0, 0.24, 1.0, 0.30), 0.35),
        ("street", "Street", "street", rect(0.0, 0.30, 1.0, 0.48), 0.5),
        ("sidewalk", "Sidewalk", "sidewalk", rect(0.0, 0.48, 1.0, 0.58), 0.65),
        ("mailbox", "Mailbox", "other", rect(0.55, 0.50, 0.62, 0.62), 0.7),
        ("front_lawn", "Front lawn", "yard", rect(0.0, 0.58, 0.62, 1.0), 0.85),
        ("driveway", "Driveway", "driveway", rect(0.62, 0.58, 1.0, 1.0), 0.9),
    ]),
    "front_elevation": ("front_elevation", "Front of House", 1920, 1080, [
        ("roof", "Roof", "other", rect(0.15, 0.0, 0.85, 0.28), 0.5),
        ("upper_window", "Upstairs window", "entry_point", rect(0.62, 0.28, 0.78, 0.48), 0.6),
        ("front_door", "Front door", "entry_point", rect(0.42, 0.40, 0.56, 0.80), 0.8),
        ("driveway", "Driveway", "driveway", rect(0.80, 0.55, 1.0, 1.0), 0.9),
        ("lawn", "Front lawn", "yard", rect(0.0, 0.78, 0.80, 1.0), 1.0),
    ]),
}

# object sizes: (width as a fraction of frame width, height as a fraction of frame height) at depth scale 1
SIZES = {
    "person": (0.085, 0.42), "car": (0.30, 0.30), "truck": (0.34, 0.36), "bicycle": (0.10, 0.20),
    "dog": (0.08, 0.12), "cat": (0.05, 0.08), "raccoon": (0.06, 0.08), "deer": (0.12, 0.26),
    "smoke": (0.26, 0.32), "fire": (0.18, 0.22), "ladder": (0.05, 0.45), "drone": (0.04, 0.04),
    "tool": (0.05, 0.04), "package": (0.05, 0.06), "motorcycle": (0.12, 0.20),
}
# fmt: on
AIRBORNE = {"smoke", "drone", "fire"}  # placed at the zone's middle rather than standing on its lower part

# --------------------------------------------------------------------------------------------------
# enrichment helpers
# --------------------------------------------------------------------------------------------------


def V(caption: str | None = None, **attributes: str) -> dict:
    vision: dict = {}
    if caption is not None:
        vision["caption"] = caption
    vision["attributes"] = attributes
    return {"vision": vision}


def P(posture: str | None = None, action: str | None = None) -> dict:
    pose = {k: v for k, v in (("posture", posture), ("action", action)) if v is not None}
    return {"pose": pose}


def F(name: str | None, confidence: float, detected: bool = True) -> dict:
    return {"face": {"detected": detected, "matched_name": name, "confidence": confidence}}


def C(upper: str | None = None, lower: str | None = None, face_covering: bool = False) -> dict:
    return {"clothing": {"upper": upper, "lower": lower, "face_covering": face_covering}}


def VEH(kind: str, color: str, damage: bool = False) -> dict:
    return {"vehicle": {"type": kind, "color": color, "damage": damage}}


def PLATE(text: str, confidence: float) -> dict:
    return {"license_plate": {"text": text, "confidence": confidence}}


def OCR(*texts: str) -> dict:
    return {"ocr_text": list(texts)}


def PET(kind: str) -> dict:
    return {"pet": {"type": kind}}


def DWELL(seconds: float) -> dict:
    return {"dwell_seconds": seconds}


def IQ(blur: float, brightness: float, tampering: bool = False) -> dict:
    return {"image_quality": {"blur": blur, "brightness": brightness, "tampering": tampering}}


def WX(condition: str, visibility: str) -> dict:
    return {"weather": {"condition": condition, "visibility": visibility}}


def DEPTH(metres: float) -> dict:
    return {"depth": {"distance_m": metres}}


def WEAPON(detected: bool, kind: str | None, confidence: float) -> dict:
    return {"weapon": {"detected": detected, "type": kind, "confidence": confidence}}


def VIOLENCE(detected: bool, confidence: float) -> dict:
    return {"violence": {"detected": detected, "confidence": confidence}}


def REID(seen_before: bool, first_seen_offset_s: int | None, cameras: list[str]) -> dict:
    """first_seen is given as seconds relative to the scene's start and written as an ISO time."""
    return {"reid": {"seen_before": seen_before, "_first_seen_offset": first_seen_offset_s, "cameras": cameras}}


def d(
    t: float, obj: str, zone: str, track: int | None, *enrichment: dict, conf: float | None = None, scale: float = 1.0
) -> dict:
    merged: dict = {}
    for part in enrichment:
        merged.update(part)
    return {"t": t, "obj": obj, "zone": zone, "track": track, "enrichment": merged, "conf": conf, "scale": scale}


def scene(
    id: str,
    category: str,
    name: str,
    description: str,
    style: str,
    camera: str,
    start: str,
    label: tuple[int, int, str, list[str]],
    steps: list[dict],
    *,
    baseline: dict | None = None,
    household: dict | None = None,
    cross: list[tuple] | None = None,
    night: dict | None = None,
    cam_id: str | None = None,
    cam_name: str | None = None,
) -> dict:
    return {
        "id": id,
        "category": category,
        "name": name,
        "description": description,
        "style": style,
        "camera": camera,
        "start": start,
        "label": label,
        "steps": steps,
        "baseline": baseline,
        "household": household,
        "cross": cross or [],
        "night": night,
        "cam_id": cam_id,
        "cam_name": cam_name,
    }


NIGHT_IR = IQ(0.22, 0.16)
DUSK = IQ(0.12, 0.32)

# --------------------------------------------------------------------------------------------------
# the scene table
# styles: vlm_caption (captioner prose), frigate_genai (short present-tense narration of a tracked object),
#         pose_attributes (pose/attribute strings with terse captions), structured_flags (detector flags),
#         mixed (several of these)
# --------------------------------------------------------------------------------------------------

SCENES: list[dict] = []
add = SCENES.append

# fmt: off

# ================================ NORMAL: hard negatives =========================================

add(scene(
    "hn_chainsaw_branch_cleanup", "normal", "Homeowner cuts up a fallen limb with a chainsaw",
    "A resident in safety gear saws a fallen branch into logs on the back lawn on a Saturday morning.",
    "vlm_caption", "backyard", "2026-04-18T10:12:05-04:00",
    (0, 20, "low", ["known_person", "daytime", "yard_work", "power_tool"]),
    [
        d(0, "person", "lawn", 3, V("The image shows a man in a helmet and ear defenders gripping a running chainsaw beside a large fallen tree limb on the lawn.", carrying="chainsaw", uniform="safety helmet and ear defenders"), F("Greg", 0.88), P("standing", "sawing")),
        d(7, "person", "lawn", 3, V("The image shows sawdust spraying as the man drives the chainsaw blade down through a thick branch."), P("bending", "cutting_wood")),
        d(15, "person", "lawn", 3, V("The image shows the man stacking freshly cut logs against the fence, the chainsaw resting on the grass."), P("crouching", "stacking_wood")),
        d(24, "person", "patio", 3, V("A photo of a man walking toward the patio with a chainsaw hanging from one hand.", carrying="chainsaw"), F("Greg", 0.91)),
    ],
    baseline={"person": 0.6}, household={"known_faces": ["Greg", "Lena"]},
))

add(scene(
    "hn_axe_firewood_splitting", "normal", "Splitting firewood with an axe",
    "A resident splits logs at the chopping block on a winter afternoon and carries them inside.",
    "frigate_genai", "backyard", "2026-01-24T15:40:00-06:00",
    (0, 20, "low", ["known_person", "daytime", "chores", "tool_use"]),
    [
        d(0, "person", "lawn", 11, V("A person in a plaid jacket lifts an axe high over his head and brings it down hard beside the woodpile.", carrying="axe"), P("standing", "chopping")),
        d(5, "person", "lawn", 11, V("The person sets another log on the chopping block and swings again, splitting it clean in two."), P("standing", "chopping"), F("Marcus", 0.84)),
        d(12, "person", "lawn", 11, V("He gathers an armful of split wood and heads toward the back door.", carrying="firewood")),
        d(18, "person", "back_door", 11, V("The person opens the back door with his elbow and carries the wood inside."), F("Marcus", 0.9)),
        d(41, "person", "lawn", 11, V("The person comes back out and leans the axe against the chopping block."), P("standing", "putting_down_tool")),
    ],
    household={"known_faces": ["Marcus", "Jill"]}, night=None,
))

add(scene(
    "hn_machete_bramble_clearing", "normal", "Landscaper clears brambles with a machete",
    "A landscaping crew member hacks back brambles along the side fence; the company truck is at the curb.",
    "pose_attributes", "side_gate", "2026-06-09T09:05:30-07:00",
    (0, 20, "low", ["service_worker", "uniform", "daytime", "yard_work"]),
    [
        d(0, "person", "side_path", 21, V("A person swings a long blade at the bushes along the fence.", carrying="machete", uniform="green landscaping polo"), P("standing", "swinging_blade"), OCR("GREENLEAF LAWN & GARDEN")),
        d(6, "person", "side_path", 21, V(carrying="machete", uniform="green landscaping polo"), P("standing", "swinging_blade")),
        d(13, "person", "side_path", 21, V("The person stuffs cut brambles into a green waste sack.", carrying="garden waste sack"), P("crouching", "bagging_debris")),
        d(22, "person", "gate", 21, V("The worker carries the full sack out through the side gate.", carrying="garden waste sack", uniform="green landscaping polo"), P("walking", "carrying")),
    ],
    baseline={"person": 0.3},
))

add(scene(
    "hn_nerf_battle_kids", "normal", "Children's foam-blaster battle",
    "Three children play a foam-dart war game on the back lawn on a summer afternoon, diving and 'shooting'.",
    "vlm_caption", "backyard", "2026-07-11T16:20:10-05:00",
    (0, 15, "low", ["children_playing", "toy", "daytime", "known_person"]),
    [
        d(0, "person", "lawn", 1, V("The image shows two children pointing guns at each other across the lawn while a third dives behind a garden chair.", carrying="bright orange and yellow foam blaster"), P("crouching", "aiming"), scale=0.6),
        d(3, "person", "lawn", 2, V("The image shows a child shot in the back, dropping dramatically onto the grass while the others cheer.", carrying="toy blaster"), P("lying", "playing"), scale=0.55),
        d(8, "person", "patio", 1, V("In this frame, foam darts are scattered across the patio as a boy reloads his blaster behind the barbecue."), F("Leo", 0.8), P("kneeling", "reloading"), scale=0.6),
        d(14, "person", "lawn", 3, V("A photo of three kids running and laughing, one holding a plastic rifle over his head.", carrying="toy rifle"), P("running", "playing"), scale=0.6),
        d(20, "person", "lawn", 2, V("The image shows a girl sneaking along the hedge with her blaster raised, grinning."), F("Mia", 0.77), P("crouching", "sneaking"), scale=0.55),
        d(24, "person", "lawn", 3, V("In this frame, a boy clutches his chest and staggers backward as if hit, then falls over laughing."), P("falling", "playing"), scale=0.6),
        d(29, "person", "patio", 4, V("A photo of a woman on the patio calling to the children and holding a tray of juice cups.", carrying="tray"), F("Rachel", 0.88)),
        d(33, "person", "patio", 1, V("The image shows the children dropping their toy guns on the grass and running to the patio."), scale=0.6),
        d(38, "person", "patio", 2, F("Mia", 0.84), P("sitting", "drinking"), scale=0.55),
    ],
    household={"known_faces": ["Leo", "Mia", "Rachel"]},
))

add(scene(
    "hn_brothers_wrestling_lawn", "normal", "Teenage brothers play-fight on the front lawn",
    "Two resident teenagers wrestle and throw each other to the ground, laughing, before going inside.",
    "frigate_genai", "street", "2026-05-02T17:45:00+01:00",
    (0, 25, "low", ["known_person", "horseplay", "daytime"]),
    [
        d(0, "person", "front_lawn", 4, V("Two teenagers grapple on the front lawn; one hooks a leg and throws the other to the ground."), F("Sam", 0.9), P("grappling", "wrestling")),
        d(4, "person", "front_lawn", 5, V("The taller boy pins the other down with a knee on his chest while both of them laugh."), F("Josh", 0.86), P("kneeling", "pinning")),
        d(9, "person", "front_lawn", 4, V("They roll apart and the smaller one jumps on the other's back."), P("grappling", "wrestling")),
        d(16, "person", "driveway", 5, V("The two get up, trade play punches to the shoulder and head for the front door together."), F("Josh", 0.88), P("walking", "playful_punch")),
    ],
    household={"known_faces": ["Sam", "Josh", "Karen"]},
))

add(scene(
    "hn_bbq_smoke_patio", "normal", "Barbecue smoke over the patio",
    "A smoky charcoal grill on the patio at a summer evening gathering; the smoke detector fires on it.",
    "vlm_caption", "backyard", "2026-08-15T18:30:20-04:00",
    (0, 15, "low", ["cooking_smoke", "social_gathering", "daytime", "known_person"]),
    [
        d(0, "smoke", "patio", 40, V("The image shows dense smoke pouring off a grill on the patio and drifting over the fence."), conf=0.71),
        d(4, "person", "patio", 41, V("A photo of a man in an apron flipping burgers through a thick cloud of smoke.", carrying="spatula"), F("Dev", 0.83), P("standing", "cooking")),
        d(10, "smoke", "patio", 40, V("The image shows a billowing grey plume rising from the barbecue lid as it is opened."), conf=0.76),
        d(17, "person", "lawn", 42, V("In this frame, several adults stand around the patio table holding drinks while smoke hangs in the air.", carrying="drink")),
        d(25, "person", "patio", 41, V("The image shows the man closing the grill lid and waving smoke away from his face."), F("Dev", 0.87)),
    ],
    household={"known_faces": ["Dev", "Anita"]},
))

add(scene(
    "hn_chimney_wood_stove", "normal", "Wood-stove smoke from the chimney",
    "On a frosty morning the smoke detector fires on the household's own chimney; nobody is outside.",
    "frigate_genai", "front_elevation", "2026-12-06T07:50:00-06:00",
    (0, 20, "low", ["chimney_smoke", "no_person", "cold_weather"]),
    [
        d(0, "smoke", "roof", 7, V("Grey smoke streams steadily from the roof of the house into the cold morning air."), WX("clear, -9C", "good"), conf=0.66),
        d(30, "smoke", "roof", 7, V("The smoke thickens briefly and rolls down over the roof ridge."), WX("clear, -9C", "good"), conf=0.74),
        d(60, "smoke", "roof", 7, V("Smoke keeps rising from the chimney stack; no people or vehicles are moving."), conf=0.7),
        d(90, "smoke", "roof", 7, V("The plume thins to a light haze above the chimney."), conf=0.58),
    ],
    cam_id="front_elev", cam_name="Front Elevation",
))

add(scene(
    "hn_backyard_fire_pit", "normal", "Evening fire pit with family",
    "Family and friends sit around a stone fire pit on a September night and put it out with water.",
    "vlm_caption", "backyard", "2026-09-19T21:40:15-07:00",
    (0, 20, "low", ["contained_fire", "social_gathering", "known_person", "night"]),
    [
        d(0, "fire", "lawn", 60, V("In this nighttime frame, tall flames leap from a fire in the middle of the backyard while dark figures stand around it."), conf=0.82),
        d(5, "person", "lawn", 61, V("In this nighttime frame, people sit in camp chairs around a ring of stones, one holding a stick with a marshmallow over the flames.", carrying="roasting stick"), F("Ana", 0.79), P("sitting", "roasting_marshmallow")),
        d(12, "person", "lawn", 62, V("In this nighttime frame, a man throws another log onto the fire and sparks shoot upward.", carrying="log"), P("standing", "tending_fire")),
        d(20, "fire", "lawn", 60, V("In this nighttime frame, the fire burns lower inside the stone ring."), conf=0.77),
        d(31, "person", "lawn", 62, V("In this nighttime frame, a man pours a bucket of water onto the fire pit and a cloud of steam rises."), F("Rafael", 0.81), P("standing", "extinguishing")),
    ],
    household={"known_faces": ["Ana", "Rafael"]}, baseline={"person": 0.2}, night=IQ(0.15, 0.35),
))

add(scene(
    "hn_locked_out_window_entry", "normal", "Locked-out owner climbs in through the kitchen window",
    "A resident who forgot his keys tries the back door, phones someone, and climbs in through the kitchen window.",
    "frigate_genai", "backyard", "2026-03-21T22:15:40+00:00",
    (0, 29, "low", ["known_person", "locked_out", "resident_entry", "night"]),
    [
        d(0, "person", "back_door", 14, V("A man walks up to the back door, tries the handle and pats down his jacket pockets."), F("Daniel", 0.92), P("standing", "trying_door_handle")),
        d(9, "person", "patio", 14, V("He paces the patio with a phone held to his ear."), P("walking", "phone_call")),
        d(37, "person", "kitchen_window", 14, V("The man drags a garden chair under the kitchen window and pushes the window open."), P("standing", "opening_window")),
        d(44, "person", "kitchen_window", 14, V("He climbs through the window into the house until only his legs are visible."), F("Daniel", 0.81), P("climbing", "entering_window")),
        d(52, "person", "kitchen_window", 14, V("A hand reaches out from inside and pulls the window shut."), conf=0.58),
    ],
    household={"known_faces": ["Daniel", "Sophie"]}, night=IQ(0.2, 0.28),
))

add(scene(
    "hn_glazier_replacing_window", "normal", "Glaziers replace a cracked front window",
    "Two glass-company workers pry out a cracked pane with a bar and fit a new one during the working day.",
    "vlm_caption", "front_door", "2026-02-10T11:20:00+01:00",
    (0, 20, "low", ["tradesperson", "uniform", "daytime", "company_vehicle"]),
    [
        d(0, "person", "front_window", 30, V("The image shows a man prying the frame off a front window with a crowbar while glass cracks around it.", carrying="crowbar", uniform="grey overalls with company logo"), P("standing", "prying_window")),
        d(6, "person", "front_window", 31, V("The image shows a second man in gloves lifting the broken pane out of the frame.", uniform="grey overalls with company logo"), P("standing", "lifting")),
        d(14, "truck", "street", 32, V("A photo of a white van at the curb with a glass rack on its side."), VEH("van", "white"), OCR("CLEARVIEW GLASS & GLAZING", "Est. 1987")),
        d(23, "person", "path", 31, V("A photo of two workers carrying a large sheet of new glass from the van up the path."), P("walking", "carrying")),
        d(40, "person", "front_window", 30, V("The image shows broken glass being swept into a bucket beneath the window.", carrying="broom")),
    ],
    baseline={"person": 0.3, "truck": 0.1},
))

add(scene(
    "hn_firefighters_at_door", "normal", "Firefighters call at the house",
    "Firefighters checking a carbon-monoxide call in the street walk up, talk to the homeowner and leave.",
    "frigate_genai", "driveway", "2026-11-03T14:05:00-05:00",
    (0, 25, "low", ["emergency_services", "uniform", "daytime", "known_person"]),
    [
        d(0, "truck", "street", 50, V("A red fire engine stops in the street with its lights flashing."), VEH("fire engine", "red"), OCR("ENGINE 14")),
        d(8, "person", "driveway", 51, V("Two people in heavy helmets and air tanks walk quickly up the driveway, one carrying an axe.", carrying="axe", uniform="firefighter turnout gear"), P("walking", "approaching")),
        d(20, "person", "front_lawn", 51, V("A firefighter knocks on the front door and talks with the homeowner.", uniform="firefighter turnout gear"), P("standing", "talking")),
        d(24, "person", "front_lawn", 52, V("The homeowner points toward the garage."), F("Linda", 0.87)),
        d(47, "person", "driveway", 53, V("A firefighter holds a handheld gas meter near the garage, then the crew walks back to the engine.", carrying="gas meter", uniform="firefighter turnout gear")),
        d(55, "person", "driveway", 51, V("A firefighter waves to the homeowner from the bottom of the driveway.", uniform="firefighter turnout gear")),
        d(70, "truck", "street", 50, V("The fire engine turns off its lights and drives slowly to the next house.")),
    ],
    household={"known_faces": ["Linda", "Ray"]},
))

add(scene(
    "hn_police_welfare_check", "normal", "Police officer knocks at night",
    "A police officer with a patrol car calls at the front door in the evening, shines a torch and waits.",
    "vlm_caption", "front_door", "2026-01-17T20:35:10-08:00",
    (0, 29, "low", ["police", "uniform", "emergency_services", "night"]),
    [
        d(0, "car", "street", 70, V("A photo of a police car with its light bar flashing parked at the curb."), VEH("police cruiser", "black and white"), OCR("POLICE", "911")),
        d(9, "person", "path", 71, V("In this nighttime frame, a uniformed officer with a gun on his belt walks up the path.", uniform="police"), P("walking", "approaching")),
        d(16, "person", "front_window", 71, V("In this nighttime frame, the officer shines a flashlight through the front window.", carrying="flashlight", uniform="police"), P("standing", "shining_flashlight")),
        d(24, "person", "porch", 71, V("In this nighttime frame, the officer bangs firmly on the door and steps back, waiting.", uniform="police"), P("standing", "knocking"), DWELL(90)),
        d(110, "person", "path", 71, V("In this nighttime frame, the officer talks into a shoulder radio and walks back to the car.", uniform="police"), P("walking", "radio_call")),
    ],
    night=IQ(0.18, 0.3),
))

add(scene(
    "hn_meter_reader_side_gate", "normal", "Water-meter reader through the side gate",
    "A utility worker in hi-vis lets himself through the side gate to read the meter with a torch and leaves.",
    "pose_attributes", "side_gate", "2026-05-20T13:10:00+10:00",
    (0, 20, "low", ["service_worker", "uniform", "daytime", "brief_visit"]),
    [
        d(0, "person", "gate", 80, V("A worker in a high-visibility vest lets himself in through the side gate.", uniform="hi-vis vest, utility company", carrying="handheld meter reader"), P("walking", "opening_gate"), OCR("CITY WATER", "METER SERVICES")),
        d(6, "person", "side_path", 80, V(uniform="hi-vis vest, utility company", carrying="torch"), P("crouching", "shining_torch")),
        d(14, "person", "side_path", 80, V("The worker taps something into the handheld device."), P("crouching", "reading_meter")),
        d(21, "person", "gate", 80, V("He steps back out and latches the gate behind him."), P("walking", "closing_gate")),
    ],
    baseline={"person": 0.1},
))

add(scene(
    "hn_gutter_cleaner_ladder", "normal", "Gutter cleaner on a ladder by the upstairs window",
    "A gutter-cleaning contractor props a ladder under the upstairs window and scoops leaves from the gutter.",
    "vlm_caption", "front_elevation", "2026-10-07T09:30:00-04:00",
    (0, 20, "low", ["tradesperson", "daytime", "company_vehicle", "ladder"]),
    [
        d(0, "truck", "driveway", 90, V("The image shows a pickup truck with ladders on its roof rack parked on the driveway."), VEH("pickup", "white"), OCR("TOP NOTCH GUTTERS", "licensed & insured")),
        d(12, "ladder", "upper_window", 91, V("The image shows a tall extension ladder leaning against the house just below an upstairs window."), conf=0.74),
        d(18, "person", "upper_window", 92, V("The image shows a man climbing the ladder toward the upstairs window with a bucket hooked on a rung.", carrying="bucket", uniform="company t-shirt and work trousers"), P("climbing", "climbing_ladder")),
        d(35, "person", "roof", 92, V("A photo of a person at the roof edge scooping wet leaves out of the gutter into a bucket.", carrying="gutter scoop"), P("kneeling", "cleaning_gutter")),
        d(60, "person", "roof", 92, V("The image shows the worker moving along the roof line and flicking debris onto a tarp below.")),
    ],
    baseline={"person": 0.2, "truck": 0.1},
))

add(scene(
    "hn_waiting_for_rideshare", "normal", "Hooded figure waits at the curb for a ride",
    "Before dawn someone in a hoodie waits on the public sidewalk looking at a phone, then leaves in a rideshare car.",
    "frigate_genai", "street", "2026-03-03T05:52:00-05:00",
    (0, 25, "low", ["public_space", "waiting", "brief", "vehicle_pickup"]),
    [
        d(0, "person", "sidewalk", 100, V("A hooded figure stands still on the sidewalk in the dark near the end of the driveway, face lit by a phone screen."), C("dark hoodie", "jeans"), P("standing", "using_phone"), DWELL(180)),
        d(45, "person", "sidewalk", 100, V("The person shifts from foot to foot, still looking at the phone."), P("standing", "using_phone"), DWELL(225)),
        d(130, "person", "sidewalk", 100, V("The person paces a few steps along the curb and looks up the street."), P("walking", "looking_around"), DWELL(310)),
        d(170, "car", "street", 101, V("A grey sedan with a rideshare sticker on the windscreen pulls up at the curb."), VEH("sedan", "grey"), OCR("Uber")),
        d(176, "person", "street", 100, V("The person opens the rear door and gets in."), P("bending", "entering_vehicle")),
        d(184, "car", "street", 101, V("The car pulls away down the street.")),
    ],
    night=IQ(0.2, 0.22), baseline={"person": 0.3, "car": 1.5},
))

add(scene(
    "hn_teen_over_back_fence", "normal", "Teenage daughter sneaks home over the back fence",
    "A resident teenager comes home late over the back fence, shoes in hand, and lets herself in with a key.",
    "vlm_caption", "backyard", "2026-06-27T01:35:20-04:00",
    (0, 29, "low", ["known_person", "resident_returning", "key_used", "night"]),
    [
        d(0, "person", "fence", 120, V("In this nighttime infrared frame, a figure climbs over the back fence and drops into the yard."), P("climbing", "climbing_fence"), conf=0.79),
        d(6, "person", "lawn", 120, V("In this nighttime frame, a young woman creeps across the lawn toward the back door with her shoes in her hand.", carrying="shoes"), F("Maya", 0.9), P("walking", "sneaking")),
        d(14, "person", "back_door", 120, V("In this nighttime frame, the woman unlocks the back door with a key and slips inside."), F("Maya", 0.93), P("standing", "unlocking_door")),
    ],
    household={"known_faces": ["Maya", "Tom", "Elena"]}, night=NIGHT_IR,
))

add(scene(
    "hn_raccoon_trash_raid", "normal", "Raccoons raid the bins",
    "Two raccoons knock over the bins by the garage at night and drag rubbish across the apron.",
    "frigate_genai", "garage", "2026-09-02T02:20:00-05:00",
    (0, 15, "low", ["wildlife", "night", "no_person"]),
    [
        d(0, "raccoon", "bins", 130, V("A masked intruder knocks the lid off the trash bin and climbs inside."), PET("raccoon"), conf=0.77),
        d(7, "raccoon", "apron", 130, V("The animal drags a torn bag across the driveway, scattering garbage."), PET("raccoon"), conf=0.81),
        d(12, "raccoon", "apron", 131, V("A second, smaller animal joins it and they rip the bag open together."), PET("raccoon"), conf=0.69),
        d(26, "raccoon", "apron", 130, V("Both raccoons waddle off into the hedge."), PET("raccoon"), conf=0.73),
    ],
    night=NIGHT_IR,
))

add(scene(
    "hn_cat_hunting_mouse", "normal", "House cat hunts a mouse",
    "The household cat stalks and catches a mouse by the shed in the early morning and carries it to the back door.",
    "vlm_caption", "backyard", "2026-04-30T07:15:00+02:00",
    (0, 10, "low", ["pet", "daytime", "no_person"]),
    [
        d(0, "cat", "lawn", 140, V("A photo of a predator crouching low in the grass, eyes fixed on something beside the shed."), PET("cat"), P("crouching", "stalking")),
        d(5, "cat", "lawn", 140, V("The image shows the animal pouncing and pinning a small creature in its jaws."), PET("cat"), P(None, "pouncing")),
        d(12, "cat", "patio", 140, V("A photo of a tabby cat trotting toward the back door with a mouse in its mouth."), PET("cat")),
    ],
))

add(scene(
    "hn_deer_glowing_eyes", "normal", "Deer graze by the porch at night",
    "Two deer come out of the dark, eat from the flower bed and bound away; the captioner dramatises the eyes.",
    "vlm_caption", "street", "2026-11-12T02:05:00-05:00",
    (0, 12, "low", ["wildlife", "night", "no_person"]),
    [
        d(0, "deer", "front_lawn", 150, V("In this nighttime frame, two glowing eyes approach the house out of total darkness."), conf=0.61),
        d(8, "deer", "front_lawn", 150, V("In this nighttime frame, a large shape moves slowly across the lawn toward the front porch."), conf=0.72),
        d(15, "deer", "front_lawn", 150, V("In this nighttime frame, a deer lowers its head and eats from the flower bed beside the steps."), conf=0.88),
        d(31, "deer", "sidewalk", 151, V("In this nighttime frame, a second deer follows and both bound away toward the street."), conf=0.8),
    ],
    night=NIGHT_IR,
))

add(scene(
    "hn_halloween_trick_or_treat", "normal", "Trick-or-treaters in horror costumes",
    "On Halloween evening children in masks, one with a fake bloody knife, ring the bell and get sweets.",
    "vlm_caption", "front_door", "2026-10-31T18:50:00-04:00",
    (0, 15, "low", ["halloween", "children", "costume", "known_person"]),
    [
        d(0, "person", "porch", 160, V("The image shows a figure in a skull mask holding a bloody knife up to the doorbell camera.", carrying="plastic knife and candy bag"), C("black costume robe", None, True), P("standing", "posing"), scale=0.6),
        d(4, "person", "porch", 161, V("The image shows several small children in costumes, a witch, a ghost and a masked killer, ringing the doorbell.", carrying="candy bucket"), scale=0.55),
        d(11, "person", "porch", 162, V("A photo of a woman handing out sweets from a bowl to the children on the porch.", carrying="bowl of candy"), F("Priya", 0.89)),
        d(19, "person", "path", 160, V("The image shows the group running back down the path to an adult waiting on the sidewalk."), scale=0.6),
        d(22, "person", "sidewalk", 163, V("A photo of an adult with a flashlight waiting on the sidewalk for the children.", carrying="flashlight")),
        d(95, "person", "path", 164, V("The image shows a person in a hockey mask with a chainsaw prop walking up the path beside a small pumpkin.", carrying="plastic chainsaw prop"), C("boiler suit costume", None, True), scale=0.65),
        d(99, "person", "porch", 165, V("A photo of a tiny dinosaur and a zombie holding out pillowcases at the door.", carrying="pillowcase"), scale=0.5),
        d(104, "person", "porch", 162, V("The image shows the woman dropping sweets into the pillowcases and waving."), F("Priya", 0.91)),
    ],
    household={"known_faces": ["Priya", "Arjun"]}, night=DUSK, baseline={"person": 2.5},
))

add(scene(
    "hn_sledgehammer_deck_demolition", "normal", "Homeowner demolishes the old deck",
    "A resident and helper smash up and haul away rotten deck boards with a sledgehammer and pry bar.",
    "frigate_genai", "backyard", "2026-05-16T10:40:00-06:00",
    (0, 20, "low", ["known_person", "daytime", "diy", "tool_use"]),
    [
        d(0, "person", "patio", 170, V("A man in safety glasses smashes the old deck boards with a sledgehammer, splinters flying.", carrying="sledgehammer"), P("standing", "hammering"), F("Kevin", 0.85)),
        d(6, "person", "patio", 170, V("He rips a broken board loose with a crowbar and tosses it onto a pile.", carrying="crowbar"), P("bending", "prying")),
        d(15, "person", "lawn", 171, V("A second person wheels a barrow of debris toward the side of the house.", carrying="wheelbarrow")),
        d(23, "person", "patio", 170, V("The man takes a swing at a stubborn post, then stops to wipe his face."), P("standing", "hammering")),
    ],
    household={"known_faces": ["Kevin", "Jo"]},
))

add(scene(
    "hn_jump_start_dark_morning", "normal", "Neighbour jump-starts the family car",
    "On a dark winter morning a resident and a neighbour jump-start the household car on the driveway.",
    "pose_attributes", "driveway", "2026-01-08T06:55:00-05:00",
    (0, 20, "low", ["known_person", "known_vehicle", "vehicle_repair", "dark"]),
    [
        d(0, "car", "driveway", 180, V("A car with its hood raised sits on the driveway."), PLATE("KJX 4821", 0.9), VEH("hatchback", "blue")),
        d(4, "person", "driveway", 181, V("Two men lean into the open hood in the dark, cables in hand.", carrying="jumper cables"), P("bending", "working_on_engine"), F("Rob", 0.82)),
        d(9, "car", "driveway", 182, V("A second car is parked nose to nose with the first, headlights on."), PLATE("LMN 3306", 0.84), VEH("suv", "silver")),
        d(15, "person", "driveway", 183, V(carrying="jumper cables"), P("bending", "connecting_cables")),
        d(58, "person", "driveway", 181, V("One man gets into the driver's seat; the engine starts and the two shake hands."), P("sitting", "starting_vehicle"), F("Rob", 0.86)),
    ],
    household={"known_faces": ["Rob", "Dana"], "known_plates": ["KJX4821"]}, night=IQ(0.18, 0.25),
))

add(scene(
    "hn_locksmith_drilling_lock", "normal", "Locksmith drills out the front-door lock",
    "A locksmith drills and replaces the front-door lock while the homeowner watches with a coffee.",
    "vlm_caption", "front_door", "2026-07-22T16:10:00-07:00",
    (0, 20, "low", ["known_person", "tradesperson", "daytime", "company_vehicle"]),
    [
        d(0, "person", "porch", 190, V("The image shows a man drilling into the front door lock while metal shavings fall onto the mat.", carrying="power drill", uniform="navy work shirt"), P("kneeling", "drilling_lock")),
        d(5, "person", "porch", 191, V("A photo of a woman standing beside the man on the porch, holding a coffee and chatting."), F("Jenna", 0.9)),
        d(12, "truck", "street", 192, V("The image shows a van at the curb with lettering on the side."), VEH("van", "yellow"), OCR("24HR LOCKSMITH", "KEYS CUT")),
        d(26, "person", "porch", 190, V("The image shows the man fitting a new lock cylinder and handing a set of keys to the woman.", carrying="keys"), P("standing", "handing_over")),
    ],
    household={"known_faces": ["Jenna"]},
))

add(scene(
    "hn_mechanic_under_car", "normal", "Resident lying under his car",
    "A resident lies on a creeper under his car on the driveway changing the oil; only his legs show.",
    "frigate_genai", "driveway", "2026-04-04T13:25:00-04:00",
    (0, 20, "low", ["known_person", "known_vehicle", "daytime", "vehicle_repair"]),
    [
        d(0, "car", "driveway", 200, V("A car sits on a jack on the driveway."), PLATE("8FTR552", 0.93), VEH("sedan", "red")),
        d(3, "person", "driveway", 201, V("A man lies flat on his back next to the car with only his legs sticking out from underneath."), P("lying", "repairing_vehicle"), DWELL(600)),
        d(41, "person", "driveway", 201, V("The person slides out on a creeper, grabs a wrench from the toolbox and slides back under.", carrying="wrench"), F("Carlos", 0.88), P("lying", "repairing_vehicle")),
        d(52, "tool", "driveway", 202, V("An oil drain pan and a toolbox sit beside the front wheel."), conf=0.62),
        d(95, "person", "driveway", 201, V("He stands up, wipes his hands on a rag and lowers the jack."), F("Carlos", 0.9), P("standing", "lowering_jack")),
    ],
    household={"known_faces": ["Carlos"], "known_plates": ["8FTR552"]},
))

add(scene(
    "hn_yoga_lying_on_lawn", "normal", "Morning yoga on the lawn",
    "A resident does yoga on a mat on the lawn; the captioner describes her as collapsing and lying motionless.",
    "vlm_caption", "backyard", "2026-06-14T08:10:00+01:00",
    (0, 15, "low", ["known_person", "daytime", "exercise"]),
    [
        d(0, "person", "lawn", 210, V("A photo of a woman collapsing face down on the grass with her arms spread out."), P("lying_prone", "stretching")),
        d(60, "person", "lawn", 210, V("The image shows a woman lying motionless on a mat on the lawn."), P("lying", "resting"), DWELL(300)),
        d(120, "person", "lawn", 210, V("The image shows the woman rising onto her hands and knees and arching her back."), P("kneeling", "stretching"), F("Hannah", 0.78)),
        d(150, "person", "patio", 210, V("A photo of a woman rolling up a yoga mat and walking toward the house.", carrying="yoga mat"), F("Hannah", 0.91)),
    ],
    household={"known_faces": ["Hannah", "Olly"]},
))

add(scene(
    "hn_surveyor_aims_at_house", "normal", "Council surveyors on the sidewalk",
    "A survey crew sets up an instrument on the sidewalk pointed at the house, records, and moves on.",
    "pose_attributes", "street", "2026-03-25T10:00:00-07:00",
    (0, 25, "low", ["official", "uniform", "daytime", "public_space"]),
    [
        d(0, "truck", "street", 220, V("A white pickup with an amber beacon parks across the street."), VEH("pickup", "white"), OCR("CITY ENGINEERING DEPT")),
        d(10, "person", "sidewalk", 221, V("A man in a reflective vest sets up a tripod and points an instrument at the house.", uniform="survey crew vest", carrying="theodolite on tripod"), P("standing", "aiming_device"), OCR("CITY ENGINEERING")),
        d(22, "person", "front_lawn", 222, V("A second worker holds a tall striped pole at the corner of the front lawn.", uniform="survey crew vest", carrying="survey rod"), P("standing", "holding_pole")),
        d(40, "person", "sidewalk", 221, V(carrying="clipboard"), P("standing", "writing")),
        d(75, "person", "sidewalk", 221, V("The pair packs up the tripod and carries it two houses down."), P("walking", "carrying")),
    ],
    baseline={"person": 0.8},
))

add(scene(
    "hn_pest_control_sprayer", "normal", "Pest-control technician in a respirator",
    "A pest-control technician in coveralls and a respirator sprays the foundation along the side passage.",
    "frigate_genai", "side_gate", "2026-08-05T11:45:00-05:00",
    (0, 20, "low", ["service_worker", "uniform", "daytime", "company_vehicle"]),
    [
        d(0, "person", "gate", 230, V("A masked man in a white suit walks through the side gate spraying chemicals along the base of the house.", uniform="pest control coveralls", carrying="backpack sprayer"), C("white coveralls", "white coveralls", True), P("walking", "spraying")),
        d(9, "person", "side_path", 230, V("He crouches and slides a small black box under the deck step.", carrying="bait station"), P("crouching", "placing_object")),
        d(18, "person", "side_path", 230, V("He sprays the corner by the bins, then checks a clipboard."), P("standing", "spraying")),
        d(27, "person", "gate", 230, V("He latches the gate behind him and walks back to a van marked with a company name."), OCR("BUGBUSTERS PEST CONTROL")),
    ],
))

add(scene(
    "hn_steam_from_dryer_vent", "normal", "Dryer-vent steam on a frosty morning",
    "Steam from the tumble-dryer vent billows along the side passage in sub-zero air; the smoke detector fires.",
    "vlm_caption", "side_gate", "2026-02-02T07:30:00-06:00",
    (0, 20, "low", ["steam", "cold_weather", "no_person"]),
    [
        d(0, "smoke", "side_path", 240, V("The image shows white smoke billowing from the side of the house near the ground."), WX("frost, -12C", "good"), conf=0.64),
        d(20, "smoke", "side_path", 240, V("The image shows the vapour puffing out of a wall vent in steady bursts beside the bins."), conf=0.69),
        d(40, "smoke", "side_path", 240, V("The image shows the white plume thinning and drifting upward; frost covers the path."), WX("frost, -12C", "good"), conf=0.6),
    ],
))

# ================================ NORMAL: ordinary scenes ========================================

add(scene(
    "ord_parcel_courier", "normal", "Courier leaves a parcel",
    "A uniformed courier walks up, leaves a parcel on the porch and drives off in a branded van.",
    "frigate_genai", "front_door", "2026-03-12T14:22:00-05:00",
    (0, 15, "low", ["delivery", "uniform", "daytime"]),
    [
        d(0, "truck", "street", 250, V("A brown delivery van stops at the curb with its hazard lights on."), VEH("van", "brown"), OCR("UPS")),
        d(7, "person", "path", 251, V("A courier in a brown uniform walks up the path carrying a box.", carrying="package", uniform="delivery")),
        d(13, "person", "porch", 251, V("The courier sets the box down by the door and takes a photo of it with a scanner.", carrying="scanner", uniform="delivery"), P("bending", "placing_package")),
        d(16, "package", "porch", 252, conf=0.86),
        d(22, "person", "path", 251, V("The courier jogs back to the van.", uniform="delivery")),
    ],
    baseline={"person": 0.5, "truck": 0.3}, cam_id="doorbell", cam_name="Doorbell",
))

add(scene(
    "ord_postal_carrier", "normal", "Postal carrier at the mailbox",
    "A letter carrier fills the mailbox at the end of the drive and walks on.",
    "vlm_caption", "street", "2026-04-21T11:05:00+01:00",
    (0, 10, "low", ["postal", "uniform", "daytime"]),
    [
        d(0, "person", "sidewalk", 260, V("A photo of a postal worker in a red jacket walking along the pavement with a trolley.", uniform="postal", carrying="mail trolley")),
        d(6, "person", "mailbox", 260, V("A photo of the postal worker putting letters into the mailbox at the end of the drive.", uniform="postal", carrying="letters"), P("standing", "delivering_mail")),
        d(12, "person", "sidewalk", 260, V("The image shows the postal worker continuing to the next house."), conf=0.81),
    ],
    baseline={"person": 1.2},
))

add(scene(
    "ord_resident_arrives_evening", "normal", "Resident drives home after work",
    "The household car pulls onto the driveway in the evening; the resident gets out and walks to the house.",
    "pose_attributes", "driveway", "2026-02-19T18:40:00-08:00",
    (0, 10, "low", ["known_person", "known_vehicle", "resident_arriving"]),
    [
        d(0, "car", "street", 270, VEH("suv", "dark green"), PLATE("6WXY 219", 0.91)),
        d(5, "car", "driveway", 270, VEH("suv", "dark green"), PLATE("6WXY219", 0.94)),
        d(12, "person", "driveway", 271, V(carrying="laptop bag"), F("Nadia", 0.92), P("walking", "walking_to_house")),
        d(18, "person", "front_lawn", 271, F("Nadia", 0.89), P("walking", "walking_to_house")),
    ],
    household={"known_faces": ["Nadia", "Omar"], "known_plates": ["6WXY219"]}, night=DUSK,
    baseline={"person": 0.7, "car": 0.8},
))

add(scene(
    "ord_dog_in_garden", "normal", "Family dog in the garden",
    "The family dog sniffs around the lawn and digs by the shed in the afternoon.",
    "frigate_genai", "backyard", "2026-09-06T15:00:00+10:00",
    (0, 8, "low", ["pet", "daytime", "no_person"]),
    [
        d(0, "dog", "lawn", 280, V("A golden dog trots across the lawn with its nose to the ground."), PET("dog")),
        d(9, "dog", "lawn", 280, V("The dog digs at the soil beside the shed."), PET("dog")),
        d(20, "dog", "patio", 280, V("The dog flops down in the shade on the patio."), PET("dog")),
    ],
))

add(scene(
    "ord_neighbour_dog_walker", "normal", "Neighbour walks a dog past the house",
    "A neighbour walks a dog along the sidewalk in the morning and does not stop.",
    "vlm_caption", "street", "2026-05-05T07:35:00-04:00",
    (0, 10, "low", ["public_space", "passerby", "daytime"]),
    [
        d(0, "person", "sidewalk", 290, V("A photo of a woman in a rain jacket walking a dog on a lead along the sidewalk.", carrying="dog lead")),
        d(2, "dog", "sidewalk", 291, PET("dog")),
        d(9, "person", "sidewalk", 290, V("The image shows the woman pausing while the dog sniffs a lamp post, then walking on."), WX("light rain", "moderate")),
    ],
    baseline={"person": 2.0, "dog": 0.8},
))

add(scene(
    "ord_family_garden_afternoon", "normal", "Family afternoon in the back garden",
    "Parents, two children and the dog spend a Sunday afternoon in the garden: hanging washing, a ball game, watering.",
    "mixed", "backyard", "2026-06-21T15:30:00+02:00",
    (0, 8, "low", ["known_person", "pet", "daytime", "household_activity"]),
    [
        d(0, "person", "patio", 700, V("A woman hangs washing on a rotary line by the patio.", carrying="laundry basket"), F("Ines", 0.91), P("standing", "hanging_laundry")),
        d(4, "person", "lawn", 701, V("The image shows a boy kicking a football toward a small goal on the lawn."), F("Tiago", 0.83), P("running", "kicking_ball"), scale=0.6),
        d(6, "dog", "lawn", 702, V("A brown dog chases the ball across the grass."), PET("dog")),
        d(11, "person", "lawn", 703, P("running", "playing"), F("Sofia", 0.8), scale=0.55),
        d(15, "person", "back_door", 704, V("A man comes out of the back door carrying two mugs.", carrying="mugs"), F("Paulo", 0.93)),
        d(21, "person", "patio", 704, P("sitting", "drinking"), F("Paulo", 0.9)),
        d(28, "dog", "patio", 702, PET("dog")),
        d(34, "person", "lawn", 700, V("The woman waters the flower bed along the fence with a hose.", carrying="garden hose"), P("standing", "watering")),
        d(40, "person", "lawn", 701, V("The boy dives for the ball and rolls on the grass."), P("lying", "playing"), scale=0.6),
        d(47, "person", "lawn", 703, V("The girl throws a frisbee and the dog leaps for it."), F("Sofia", 0.82), P("standing", "throwing"), scale=0.55),
        d(52, "dog", "lawn", 702, V("The dog trots back with the frisbee in its mouth."), PET("dog")),
        d(60, "person", "shed", 704, V("The man opens the shed and wheels out the lawn mower.", carrying="lawn mower"), P("walking", "pushing")),
    ],
    household={"known_faces": ["Ines", "Paulo", "Tiago", "Sofia"]}, baseline={"person": 1.8, "dog": 1.0},
))

# ================================ SUSPICIOUS =========================================================

add(scene(
    "sus_casing_photographs_house", "suspicious", "Stranger passes twice and photographs the house",
    "An unknown man walks past slowly, comes back, photographs the front of the house and the side gate and notes something.",
    "frigate_genai", "street", "2026-05-13T14:30:00-04:00",
    (35, 60, "medium", ["casing", "repeat_pass", "unknown_person", "photographing"]),
    [
        d(0, "person", "sidewalk", 300, V("A man walks slowly past the house, turning his head toward the driveway and the side gate."), C("black cap", "cargo trousers"), REID(True, -600, ["street_view"])),
        d(95, "person", "far_sidewalk", 300, V("The same man comes back from the other direction and stops across the road from the house."), P("standing", "watching"), DWELL(40)),
        d(140, "person", "sidewalk", 300, V("He raises a phone and takes several pictures of the front windows and the side gate.", carrying="phone"), P("standing", "photographing")),
        d(151, "person", "driveway", 300, V("He steps onto the bottom of the driveway and leans to look down the side of the house."), P("leaning", "looking_around")),
        d(158, "person", "sidewalk", 300, V("He backs out to the sidewalk as a car passes."), P("walking", None)),
        d(166, "person", "sidewalk", 300, V("He writes something in a small notebook and walks off without visiting any house.", carrying="notebook"), P("standing", "writing")),
    ],
    baseline={"person": 1.0},
    cross=[("corner_cam", "Corner", -640, "person", 0.76), ("driveway", "Driveway", 150, "person", 0.8)],
))

add(scene(
    "sus_car_door_handle_tester", "suspicious", "Night-time car door handle tester",
    "At 3:40am a young man in a hoodie walks along the street pulling the door handles of parked cars, including the one on this driveway.",
    "vlm_caption", "driveway", "2026-07-19T03:40:00-07:00",
    (55, 80, "high", ["trying_handles", "vehicle", "night", "unknown_person"]),
    [
        d(0, "person", "sidewalk", 310, V("In this nighttime frame, a young man in a hoodie walks along the row of parked cars, tugging on each driver's door handle."), C("grey hoodie, hood up", "track pants"), P("walking", "trying_door_handle")),
        d(9, "person", "driveway", 310, V("In this nighttime frame, the man tries the handle of the sedan on the driveway; the door stays shut."), P("bending", "trying_door_handle")),
        d(14, "car", "driveway", 311, PLATE("3KPL 770", 0.88), VEH("sedan", "silver")),
        d(18, "person", "driveway", 310, V("In this nighttime frame, he shines a phone light through the car's side window."), P("bending", "looking_in_vehicle")),
        d(29, "person", "sidewalk", 310, V("In this nighttime frame, he moves on toward the next driveway."), P("walking", None)),
    ],
    household={"known_plates": ["3KPL770"]}, night=NIGHT_IR, baseline={"person": 0.02},
))

add(scene(
    "sus_prowler_peering_windows", "suspicious", "Prowler peers into the back windows at 3am",
    "An unknown person walks along the back of the house with a phone light, presses against the windows and leaves over the fence.",
    "pose_attributes", "backyard", "2026-11-25T03:15:00-05:00",
    (60, 80, "high", ["prowling", "night", "unknown_person", "looking_in_window"]),
    [
        d(0, "person", "lawn", 320, V("An unknown person walks along the back of the house using a phone as a flashlight."), P("walking", "searching")),
        d(11, "person", "kitchen_window", 320, V(carrying="phone"), P("peering", "looking_in_window"), DWELL(45)),
        d(58, "person", "back_door", 320, P("standing", "looking_in_window"), DWELL(20)),
        d(84, "person", "patio", 320, V("The person tries the lid of the garden storage box, then looks up at the bedroom windows."), P("standing", "looking_up")),
        d(97, "person", "shed", 320, P("peering", "looking_in_window"), DWELL(15)),
        d(121, "person", "lawn", 320, V("The person stops and turns sharply toward the house when a dog barks inside."), P("standing", "startled")),
        d(126, "person", "fence", 320, V("The person climbs back over the fence."), P("climbing", "climbing_fence"), conf=0.74),
    ],
    night=NIGHT_IR, baseline={"person": 0.01},
))

add(scene(
    "sus_man_follows_resident_home", "suspicious", "Man follows a resident home",
    "A man walks close behind a resident for some distance, stops at the end of her drive and watches the house before leaving.",
    "frigate_genai", "street", "2026-10-09T21:50:00+01:00",
    (40, 65, "medium", ["following", "night", "known_person", "unknown_person"]),
    [
        d(0, "person", "sidewalk", 330, V("A woman walks quickly along the pavement toward the house, glancing back over her shoulder."), F("Emma", 0.86), P("walking", "looking_back")),
        d(3, "person", "sidewalk", 331, V("A man in a grey hoodie walks about ten metres behind her, matching her pace."), C("grey hoodie", "dark jeans"), F(None, 0.52)),
        d(11, "person", "driveway", 330, V("The woman turns into the driveway and hurries to the front door."), F("Emma", 0.9), P("walking", "hurrying")),
        d(14, "person", "sidewalk", 331, V("The man stops at the end of the driveway and stands looking at the house."), P("standing", "watching"), DWELL(70)),
        d(84, "person", "sidewalk", 331, V("He turns round and walks off the way he came."), P("walking", None)),
    ],
    household={"known_faces": ["Emma", "Jack"]}, night=IQ(0.15, 0.3),
))

add(scene(
    "sus_parked_car_watching", "suspicious", "Occupied car parked opposite with lights off",
    "A dark sedan sits across the street late at night for about 25 minutes with the driver watching the house.",
    "vlm_caption", "street", "2026-09-24T23:30:00-05:00",
    (30, 55, "medium", ["loitering_vehicle", "night", "watching", "unknown_vehicle"]),
    [
        d(0, "car", "street", 340, V("In this nighttime frame, a dark sedan is parked across the street with its lights off and a person in the driver's seat."), VEH("sedan", "black"), PLATE("HRT 5529", 0.71), DWELL(900)),
        d(600, "car", "street", 340, V("In this nighttime frame, the glow of a phone lights the driver's face; the car has not moved."), DWELL(1500)),
        d(660, "person", "street", 341, V("In this nighttime frame, the driver lowers the window and seems to be looking toward the house."), P("sitting", "watching"), scale=0.7, conf=0.63),
    ],
    night=NIGHT_IR, baseline={"car": 0.3},
))

add(scene(
    "sus_unmarked_hi_vis_visitor", "suspicious", "Unannounced 'worker' wanders into the back garden",
    "At dusk a man in a plain hi-vis vest with no badge walks in through the side gate without knocking and looks at the rear windows and shed.",
    "pose_attributes", "side_gate", "2026-03-18T18:20:00-04:00",
    (40, 65, "medium", ["unknown_person", "uninvited_entry", "dusk", "no_company_markings"]),
    [
        d(0, "person", "gate", 350, V("A man in a plain hi-vis vest opens the side gate without knocking.", uniform="hi-vis vest, no badge or logo"), P("walking", "opening_gate")),
        d(7, "person", "side_path", 350, V(uniform="hi-vis vest, no badge or logo"), P("standing", "looking_up_at_windows")),
        d(15, "person", "side_window", 350, P("standing", "looking_in_window"), DWELL(25)),
        d(44, "person", "gate", 350, V("He walks back out quickly and closes the gate."), P("walking", None)),
    ],
    night=DUSK, baseline={"person": 0.05},
))

add(scene(
    "sus_leaflet_man_tries_handle", "suspicious", "Leaflet deliverer tries the front-door handle",
    "A young man posting leaflets pushes down on the front-door handle, looks around and photographs the window.",
    "frigate_genai", "front_door", "2026-06-02T12:15:00+01:00",
    (40, 65, "medium", ["trying_handles", "unknown_person", "daytime", "entry_point"]),
    [
        d(0, "person", "path", 360, V("A young man with a stack of leaflets walks up to the front door.", carrying="leaflets")),
        d(6, "person", "porch", 360, V("He pushes a leaflet through the letterbox, then presses down on the door handle."), P("standing", "trying_door_handle")),
        d(11, "person", "porch", 360, V("He glances up and down the street and steps back from the door."), P("standing", "looking_around")),
        d(16, "person", "front_window", 360, V("He lifts his phone and photographs the front window before walking away.", carrying="phone"), P("standing", "photographing")),
    ],
    baseline={"person": 0.4},
))

add(scene(
    "sus_drone_over_garden", "suspicious", "Drone hovers by the bedroom windows at night",
    "A small drone with blinking lights hovers over the back garden and hangs by the upstairs windows for minutes.",
    "vlm_caption", "backyard", "2026-08-12T22:10:00-04:00",
    (30, 55, "medium", ["drone", "night", "surveillance"]),
    [
        d(0, "drone", "fence", 370, V("In this nighttime frame, a small aircraft with blinking lights hovers above the back garden at about roof height."), conf=0.66),
        d(40, "drone", "lawn", 370, V("In this nighttime frame, the drone drifts slowly toward the upstairs windows and hangs there."), DWELL(180), conf=0.72),
        d(190, "drone", "fence", 370, V("In this nighttime frame, the drone turns and flies off over the fence."), conf=0.6),
    ],
    night=NIGHT_IR,
))

add(scene(
    "sus_stranger_cupping_window", "suspicious", "Stranger looks in the front window and goes round the side",
    "By day an unknown woman peers in the front window, knocks, checks the street, then walks round toward the back garden.",
    "vlm_caption", "front_door", "2026-02-05T10:50:00-08:00",
    (40, 65, "medium", ["looking_in_window", "unknown_person", "daytime", "going_to_back"]),
    [
        d(0, "person", "front_window", 380, V("The image shows a woman cupping her hands against the front window and peering inside."), P("standing", "looking_in_window"), DWELL(20)),
        d(25, "person", "porch", 380, V("A photo of the woman knocking on the door, then looking up and down the street while she waits."), P("standing", "knocking")),
        d(60, "person", "path", 380, V("The image shows the woman walking around the side of the house toward the back garden."), P("walking", None)),
    ],
    baseline={"person": 0.3},
))

add(scene(
    "sus_masked_visitor_turns_away", "suspicious", "Masked person sees the camera and turns back",
    "At 1am a hooded, masked person comes up the path, looks at the doorbell camera, hides their face and leaves.",
    "structured_flags", "front_door", "2026-04-16T01:10:00-05:00",
    (55, 78, "high", ["face_covered", "night", "unknown_person", "camera_avoidance"]),
    [
        d(0, "person", "path", 390, V("A person in a hood and face mask walks up the path toward the front door."), C("black hoodie, hood up", "dark trousers", True), F(None, 0.0, detected=False), WEAPON(False, None, 0.04), VIOLENCE(False, 0.02)),
        d(6, "person", "porch", 390, V("The person looks up at the doorbell camera, stops, and pulls the hood lower."), C("black hoodie, hood up", "dark trousers", True), P("standing", "covering_face"), WEAPON(False, None, 0.05), VIOLENCE(False, 0.01)),
        d(10, "person", "path", 390, V("The person turns around and walks briskly back to the street."), P("walking", "leaving"), IQ(0.25, 0.2)),
    ],
    night=NIGHT_IR, baseline={"person": 0.02}, cam_id="doorbell", cam_name="Doorbell",
))

add(scene(
    "sus_ladder_under_window", "suspicious", "Ladder moved under an upstairs window at night",
    "After midnight someone drags the household ladder from the side yard to beneath an upstairs window and runs when the light comes on.",
    "vlm_caption", "front_elevation", "2026-07-08T00:35:00-07:00",
    (60, 80, "high", ["ladder", "night", "unknown_person", "entry_preparation"]),
    [
        d(0, "person", "lawn", 400, V("In this nighttime frame, a person carries a long ladder out from the side of the house.", carrying="ladder"), P("walking", "carrying_ladder")),
        d(12, "ladder", "upper_window", 401, V("In this nighttime frame, the ladder leans against the wall directly beneath an upstairs window."), conf=0.7),
        d(18, "person", "lawn", 400, V("In this nighttime frame, the person steadies the foot of the ladder and looks up at the window."), P("standing", "looking_up")),
        d(24, "person", "lawn", 400, V("The security light switches on; the person lets go of the ladder and runs off across the lawn."), P("running", "fleeing"), IQ(0.3, 0.6)),
    ],
    night=NIGHT_IR,
))

add(scene(
    "sus_van_circling_block", "suspicious", "Unmarked van circles past the house",
    "An unmarked white van passes the house three times in fifteen minutes at dusk, slowing by the driveway.",
    "frigate_genai", "street", "2026-01-21T17:05:00-05:00",
    (30, 55, "medium", ["repeat_pass", "unknown_vehicle", "dusk"]),
    [
        d(0, "truck", "street", 410, V("A white panel van with no markings drives slowly past the house."), VEH("panel van", "white"), PLATE("VXN 2214", 0.82)),
        d(380, "truck", "street", 410, V("The same white van passes again going the other way and slows by the driveway."), PLATE("VXN2214", 0.79), REID(True, 0, ["street_view", "driveway"])),
        d(840, "truck", "street", 410, V("The van passes a third time and stops briefly in front of the house with its engine running."), PLATE("VXN2214", 0.85), DWELL(40)),
        d(885, "truck", "street", 410, V("The van pulls away when a neighbour comes out of the house opposite.")),
    ],
    night=DUSK, baseline={"truck": 0.2},
    cross=[("driveway", "Driveway", 385, "truck", 0.83)],
))

add(scene(
    "sus_recycling_bin_rummage", "suspicious", "Someone sorts through the recycling for letters",
    "At 2:45am a person goes through the recycling bin by torchlight, pockets envelopes and moves on to the next house.",
    "frigate_genai", "side_gate", "2026-05-27T02:45:00-04:00",
    (30, 55, "medium", ["night", "unknown_person", "mail_theft", "identity_theft"]),
    [
        d(0, "person", "bins", 420, V("A person lifts the lid of the recycling bin and holds envelopes up to a small torch.", carrying="torch"), P("bending", "searching_bin")),
        d(12, "person", "bins", 420, V("The person stuffs several letters into a shoulder bag and lowers the lid quietly.", carrying="shoulder bag"), P("standing", "pocketing_items")),
        d(25, "person", "side_path", 420, V("The person walks off toward the street, looking back once."), P("walking", None)),
    ],
    night=NIGHT_IR, baseline={"person": 0.01},
))

# ================================ THREATS ===========================================================

add(scene(
    "thr_backdoor_prybar_night", "threats", "Back door forced with a pry bar",
    "A masked intruder climbs the side fence at 2:40am, forces the back door with a bar and goes inside.",
    "frigate_genai", "backyard", "2026-03-14T02:41:10-05:00",
    (85, 100, "critical", ["forced_entry", "night", "entry_point", "unknown_person", "tool"]),
    [
        d(0, "person", "fence", 500, V("A person in dark clothing climbs over the side fence and lands in the yard."), C("black hoodie", "dark trousers", True), P("climbing", "climbing_fence")),
        d(3, "person", "lawn", 500, V("The person freezes in the middle of the lawn and looks up at the dark upstairs windows."), P("standing", "looking_around")),
        d(5, "person", "kitchen_window", 500, V("The person tries the kitchen window, pushing on the frame with both hands."), P("standing", "testing_window")),
        d(8, "person", "patio", 500, V("The person creeps along the wall of the house, keeping low, toward the back door."), P("crouching", "sneaking")),
        d(15, "person", "back_door", 500, V("The person jams a long metal bar into the gap beside the back door lock and leans on it.", carrying="crowbar"), P("standing", "prying_door")),
        d(22, "person", "back_door", 500, V("They throw their weight against the bar again and the frame splinters."), P("standing", "prying_door")),
        d(27, "person", "back_door", 500, V("The back door swings inward and the person slips inside."), P("walking", "entering")),
        d(140, "person", "back_door", 500, V("The person comes back out with a bulging bag over one shoulder and heads for the fence.", carrying="holdall"), P("walking", "carrying")),
    ],
    night=NIGHT_IR, baseline={"person": 0.02},
    cross=[("driveway", "Driveway", -75, "person", 0.81), ("side_gate", "Side Gate", -20, "person", 0.77)],
))

add(scene(
    "thr_window_smash_balaclava", "threats", "Intruder smashes a side window and climbs in",
    "A person in a balaclava breaks a ground-floor side window with a hammer at 3am and climbs through.",
    "vlm_caption", "side_gate", "2026-11-21T03:18:00+00:00",
    (88, 100, "critical", ["forced_entry", "glass_break", "night", "face_covered"]),
    [
        d(0, "person", "side_path", 510, V("In this nighttime frame, a person in a balaclava walks down the side passage carrying a hammer.", carrying="hammer"), C("dark jacket", "dark trousers", True)),
        d(6, "person", "side_window", 510, V("In this nighttime frame, the person swings the hammer at the glass of a ground-floor window."), P("standing", "striking_window")),
        d(11, "person", "side_window", 510, V("In this nighttime frame, shards lie on the sill and the person reaches an arm through the broken pane."), P("reaching", "reaching_inside")),
        d(19, "person", "side_window", 510, V("In this nighttime frame, the figure hauls himself onto the ledge and disappears into the dark room."), P("climbing", "entering_window")),
    ],
    night=NIGHT_IR, cam_id="side_passage", cam_name="Side Passage",
))

add(scene(
    "thr_car_window_smash_driveway", "threats", "Car window smashed on the driveway",
    "A hooded man checks the family SUV with a torch, smashes the passenger window, grabs a bag and runs.",
    "pose_attributes", "driveway", "2026-09-10T01:55:00-07:00",
    (65, 85, "high", ["vehicle_break_in", "night", "unknown_person", "property_damage"]),
    [
        d(0, "person", "driveway", 520, V("A hooded man peers into the parked SUV with a flashlight, cupping his hand to the glass.", carrying="flashlight"), C("dark hoodie, hood up", "jeans"), P("bending", "looking_in_vehicle")),
        d(4, "car", "driveway", 521, VEH("suv", "white"), PLATE("9JRM 105", 0.9)),
        d(9, "person", "driveway", 520, V(carrying="small hammer"), P("standing", "breaking_window")),
        d(12, "car", "driveway", 521, V("The passenger window of the SUV is shattered."), VEH("suv", "white", damage=True)),
        d(16, "person", "driveway", 520, V(carrying="backpack"), P("leaning", "reaching_into_vehicle")),
        d(24, "person", "sidewalk", 520, V("The man runs off down the street with a backpack under his arm."), P("running", "fleeing")),
    ],
    household={"known_faces": ["Hugo", "Bea"], "known_plates": ["9JRM105"]}, night=NIGHT_IR,
))

add(scene(
    "thr_catalytic_converter_cut", "threats", "Catalytic converter sawn off the pickup",
    "Two men from a car without a front plate saw the catalytic converter off the household pickup at 3am.",
    "frigate_genai", "driveway", "2026-02-26T03:05:00-06:00",
    (65, 85, "high", ["vehicle_theft", "night", "unknown_person", "power_tool", "lookout"]),
    [
        d(0, "car", "street", 530, V("A sedan with no front plate stops beside the pickup on the driveway; two people get out."), VEH("sedan", "dark grey")),
        d(7, "person", "driveway", 531, V("One person lies down and slides under the pickup holding a battery-powered saw.", carrying="reciprocating saw"), P("lying", "under_vehicle")),
        d(12, "person", "sidewalk", 532, V("The second person stands at the end of the driveway watching the street in both directions."), P("standing", "lookout")),
        d(18, "tool", "driveway", 533, V("Sparks spray from under the truck."), conf=0.58),
        d(51, "person", "driveway", 531, V("The first person drags a metal pipe section out from under the truck.", carrying="exhaust part")),
        d(56, "car", "street", 530, V("Both jump back into the sedan and it speeds away with its lights off.")),
    ],
    household={"known_plates": ["TRK4410"]}, night=NIGHT_IR, baseline={"person": 0.01},
))

add(scene(
    "thr_bike_lock_cut_porch", "threats", "Bike stolen from the porch by day",
    "In the early afternoon a young man cuts the lock of a bicycle chained to the porch railing and rides off on it.",
    "vlm_caption", "front_door", "2026-05-08T13:40:00-04:00",
    (60, 80, "high", ["theft", "bicycle", "unknown_person", "entry_point", "tool"]),
    [
        d(0, "bicycle", "porch", 540, conf=0.9),
        d(3, "person", "porch", 541, V("The image shows a young man crouching beside a bicycle locked to the porch railing, holding bolt cutters.", carrying="bolt cutters"), F(None, 0.61), P("crouching", "cutting_lock")),
        d(9, "person", "porch", 541, V("The image shows a cut lock dangling from the railing as the man lifts the bicycle down the steps.", carrying="bicycle"), P("standing", "lifting")),
        d(14, "bicycle", "path", 540, V("A photo of a man riding a blue road bike away fast down the path toward the street.")),
    ],
    baseline={"person": 0.4},
))

add(scene(
    "thr_shed_padlock_snapped", "threats", "Garden shed broken into",
    "Near midnight a person with a head torch snaps the shed padlock and passes power tools over the back fence to an accomplice.",
    "frigate_genai", "backyard", "2026-10-15T23:50:00+01:00",
    (65, 85, "high", ["burglary", "outbuilding", "night", "unknown_person", "accomplice"]),
    [
        d(0, "person", "lawn", 550, V("A person wearing a head torch walks straight down the garden to the shed.", carrying="head torch")),
        d(9, "person", "shed", 550, V("The person twists a bar through the shed padlock until the hasp snaps off.", carrying="metal bar"), P("standing", "breaking_lock")),
        d(20, "person", "shed", 550, V("The person carries a leaf blower and a strimmer out of the shed toward the back fence.", carrying="leaf blower")),
        d(28, "person", "fence", 551, V("A second person on the other side of the fence reaches over and takes the tools."), conf=0.62),
        d(40, "person", "fence", 550, V("The first person climbs the fence and disappears."), P("climbing", "climbing_fence")),
    ],
    night=NIGHT_IR,
))

add(scene(
    "thr_porch_pirate", "threats", "Parcel taken from the doorstep",
    "A woman hurries up to the door, tucks a delivered parcel under her coat and gets into a waiting hatchback.",
    "vlm_caption", "front_door", "2026-12-11T15:05:00-06:00",
    (55, 80, "high", ["package_theft", "unknown_person", "entry_point", "daytime"]),
    [
        d(0, "car", "street", 560, V("A photo of a grey hatchback idling at the curb with its rear door open."), VEH("hatchback", "grey"), PLATE("FWD 8812", 0.66)),
        d(5, "person", "path", 561, V("A photo of a woman in a beanie walking quickly up the steps, glancing left and right."), C("black puffer coat", "leggings")),
        d(9, "package", "porch", 562, conf=0.88),
        d(11, "person", "porch", 561, V("The image shows the woman scooping a parcel off the doormat and pushing it under her coat.", carrying="package"), P("bending", "picking_up_package")),
        d(17, "person", "path", 561, V("The image shows her hurrying back to the hatchback; the car pulls off before the door is shut."), P("running", None)),
    ],
    baseline={"person": 0.5}, cam_id="doorbell", cam_name="Doorbell",
))

add(scene(
    "thr_arson_garage_door", "threats", "Garage door set on fire",
    "At 2:30am a person splashes fuel from a jerry can on the garage door, lights it and runs; flames and smoke follow.",
    "vlm_caption", "garage", "2026-08-23T02:30:00-05:00",
    (90, 100, "critical", ["arson", "fire", "night", "unknown_person", "entry_point"]),
    [
        d(0, "person", "apron", 570, V("In this nighttime frame, a person splashes liquid from a red jerry can along the bottom of the garage door.", carrying="jerry can"), P("bending", "pouring_liquid")),
        d(8, "person", "garage_door", 570, V("In this nighttime frame, the person crouches and holds a lighter to the wet patch at the base of the door.", carrying="lighter"), P("crouching", "igniting")),
        d(12, "fire", "garage_door", 571, V("In this nighttime frame, flames spread along the base of the garage door as the person runs down the driveway."), conf=0.86),
        d(30, "fire", "garage_door", 571, V("In this nighttime frame, the fire climbs up the garage door."), conf=0.93),
        d(38, "smoke", "garage_door", 572, V("In this nighttime frame, thick black smoke fills the top half of the image."), conf=0.89),
    ],
    night=NIGHT_IR,
))

add(scene(
    "thr_assault_on_driveway", "threats", "Man beaten on the driveway",
    "Two men argue by a car late at night; one punches the other to the ground and kicks him, then walks off.",
    "structured_flags", "driveway", "2026-06-06T23:15:00-04:00",
    (85, 100, "critical", ["violence", "assault", "injured_person", "night"]),
    [
        d(0, "person", "driveway", 580, V("Two men argue beside a car; one shoves the other against the car door."), VIOLENCE(True, 0.71), WEAPON(False, None, 0.05)),
        d(4, "person", "driveway", 580, V("The bigger man throws repeated punches at the other man's head."), VIOLENCE(True, 0.92), P("standing", "punching")),
        d(8, "person", "driveway", 581, V("The man on the ground curls up as he is kicked."), VIOLENCE(True, 0.9), P("lying", "being_kicked")),
        d(15, "person", "sidewalk", 580, V("The attacker walks off down the street."), VIOLENCE(False, 0.2), P("walking", "leaving")),
        d(60, "person", "driveway", 581, V("The other man still lies on the driveway, barely moving."), P("lying", None), DWELL(55)),
    ],
    night=IQ(0.2, 0.3),
))

add(scene(
    "thr_gunpoint_robbery_door", "threats", "Armed robbery at the front door",
    "A masked man rings the bell, pulls a handgun on the resident who answers and pushes her back into the house.",
    "structured_flags", "front_door", "2026-01-29T19:20:00-06:00",
    (90, 100, "critical", ["weapon", "home_invasion", "known_person", "face_covered"]),
    [
        d(0, "person", "porch", 590, V("A man in a face mask rings the doorbell and stands close to the door with one hand inside his jacket."), C("navy jacket", "jeans", True), WEAPON(False, None, 0.18), VIOLENCE(False, 0.05)),
        d(7, "person", "porch", 591, F("Rosa", 0.88), V("The door opens and a woman appears in the doorway.")),
        d(8, "person", "porch", 590, V("The man draws a handgun and points it at the woman in the doorway."), WEAPON(True, "handgun", 0.88), VIOLENCE(True, 0.64), P("standing", "aiming_weapon")),
        d(11, "person", "porch", 590, V("The man pushes the woman backwards and steps inside."), WEAPON(True, "handgun", 0.81), VIOLENCE(True, 0.83), P("walking", "forcing_entry")),
    ],
    household={"known_faces": ["Rosa", "Luis"]}, night=IQ(0.15, 0.35), cam_id="doorbell", cam_name="Doorbell",
))

add(scene(
    "thr_vandal_paint_tyre", "threats", "Car sprayed with paint and tyre slashed",
    "Just after midnight a person sprays paint over the household car on the driveway and stabs a tyre.",
    "frigate_genai", "street", "2026-04-12T00:40:00+02:00",
    (60, 80, "high", ["vandalism", "vehicle", "night", "unknown_person", "property_damage"]),
    [
        d(0, "person", "driveway", 600, V("A person walks up to the car parked on the driveway and shakes a spray can.", carrying="spray can")),
        d(6, "person", "driveway", 600, V("The person sprays long red streaks across the bonnet and the windscreen."), P("standing", "spray_painting")),
        d(12, "car", "driveway", 601, VEH("estate", "white", damage=True), PLATE("BN-42-KL", 0.83)),
        d(15, "person", "driveway", 600, V("The person crouches by the front wheel and jabs a blade into the tyre.", carrying="knife"), P("crouching", "slashing_tyre")),
        d(19, "person", "driveway", 600, V("The person moves to the rear wheel and stabs that tyre too."), P("crouching", "slashing_tyre")),
        d(23, "person", "driveway", 600, V("The person sprays a word along the driver's door, stepping back to look at it."), P("standing", "spray_painting")),
        d(30, "person", "sidewalk", 600, V("The car sits lower on one side; the person jogs off past the hedge."), P("running", None)),
    ],
    household={"known_plates": ["BN42KL"]}, night=NIGHT_IR,
))

add(scene(
    "thr_camera_spray_blackout", "threats", "Doorbell camera blinded at 3am",
    "A hooded person sprays the doorbell camera lens at 3am; the picture smears and goes dark while someone moves at the door.",
    "structured_flags", "front_door", "2026-03-30T03:02:00-04:00",
    (80, 100, "critical", ["camera_tampering", "night", "unknown_person", "entry_point"]),
    [
        d(0, "person", "path", 610, V("A hooded person walks up the path with one arm raised, holding a can."), C("dark hoodie, hood up", "dark trousers", True), IQ(0.2, 0.18)),
        d(5, "person", "porch", 610, V("A mist covers the lens and the picture becomes smeared."), IQ(0.8, 0.12, tampering=True), P("reaching", "covering_camera")),
        d(9, "person", "porch", 610, V("The frame is almost completely dark and blurred; a shape moves close to the door."), IQ(0.95, 0.05, tampering=True), conf=0.55),
    ],
    baseline={"person": 0.02}, cam_id="doorbell", cam_name="Doorbell",
))

add(scene(
    "thr_porch_bulb_then_lock", "threats", "Porch light unscrewed, then the lock worked on",
    "After 1am a man twists the bulb out of the porch light and then works at the front-door lock with a small tool.",
    "vlm_caption", "front_door", "2026-11-07T01:25:00-05:00",
    (70, 95, "high", ["lighting_disabled", "lock_manipulation", "night", "unknown_person", "entry_point"]),
    [
        d(0, "person", "porch", 620, V("In this nighttime frame, a man reaches up and twists the bulb out of the porch light."), P("reaching", "removing_bulb"), IQ(0.1, 0.55)),
        d(6, "person", "porch", 620, V("In this nighttime infrared frame, the porch is dark and the man bends over the door handle, working at the lock with something small and thin.", carrying="small metal tool"), P("bending", "picking_lock")),
        d(20, "person", "porch", 620, V("In this nighttime infrared frame, the man pauses, looks back toward the street, and goes back to the lock."), P("bending", "picking_lock"), DWELL(35)),
    ],
    night=NIGHT_IR, baseline={"person": 0.02},
))

add(scene(
    "thr_follower_pushes_in", "threats", "Stranger follows a resident and pushes in behind her",
    "A man follows a resident up her path at night, stands right behind her at the door and shoves in after her.",
    "frigate_genai", "front_door", "2026-02-14T22:40:00-05:00",
    (85, 100, "critical", ["following", "home_invasion", "known_person", "unknown_person", "night"]),
    [
        d(0, "person", "path", 630, V("A woman walks up the path to the front door carrying grocery bags.", carrying="grocery bags"), F("Claire", 0.9)),
        d(3, "person", "path", 631, V("A man in a dark jacket walks up the path a few steps behind her."), C("dark jacket", "dark jeans"), F(None, 0.58)),
        d(8, "person", "porch", 631, V("The woman fumbles with her keys; the man stops right behind her."), P("standing", "standing_close"), DWELL(12)),
        d(13, "person", "porch", 631, V("As the door opens the man shoves her through the doorway and follows her inside."), P("walking", "pushing")),
    ],
    household={"known_faces": ["Claire"]}, night=IQ(0.18, 0.32),
))

add(scene(
    "thr_person_collapsed_driveway", "threats", "Person collapsed in the snow on the driveway",
    "At 1:50am in snow a man staggers up the driveway, falls face down and does not move for about fifteen minutes.",
    "vlm_caption", "driveway", "2026-01-03T01:50:00-06:00",
    (60, 85, "high", ["person_down", "medical_emergency", "night", "cold_weather"]),
    [
        d(0, "person", "sidewalk", 640, V("In this nighttime frame, a man staggers up from the street, arms out to steady himself."), P("walking", "staggering"), WX("snow", "poor")),
        d(6, "person", "driveway", 640, V("In this nighttime frame, the man pitches forward and falls onto the concrete."), P("falling", "falling")),
        d(420, "person", "driveway", 640, V("In this nighttime frame, the man lies face down on the snowy driveway and does not move."), P("lying", None), DWELL(410), WX("snow", "poor")),
        d(900, "person", "driveway", 640, V("In this nighttime frame, the figure is still in the same place, snow settling on his coat."), P("lying", None), DWELL(890)),
    ],
    night=NIGHT_IR,
))

add(scene(
    "thr_garage_door_rolled_under", "threats", "Burglars lever up the garage door and roll under",
    "One person forces the garage door up with a bar and rolls underneath while a second keeps watch; they carry out tools.",
    "pose_attributes", "garage", "2026-10-28T02:12:00-07:00",
    (85, 100, "critical", ["forced_entry", "burglary", "night", "lookout", "unknown_person"]),
    [
        d(0, "person", "garage_door", 650, V(carrying="pry bar"), C("black jacket", "black trousers", True), P("crouching", "lifting_door")),
        d(6, "person", "garage_door", 650, V("The garage door is held up about half a metre off the ground."), P("lying", "crawling_under_door")),
        d(9, "person", "apron", 651, P("standing", "lookout"), DWELL(80)),
        d(48, "person", "garage_door", 650, V(carrying="toolbox"), P("crawling", "carrying")),
        d(60, "person", "apron", 651, V(carrying="pressure washer"), P("walking", "carrying")),
        d(66, "person", "apron", 650, P("running", "fleeing")),
    ],
    night=NIGHT_IR,
))

add(scene(
    "thr_relay_car_theft", "threats", "Family SUV stolen with a relay device",
    "Two men use a relay box by the front wall and beside the SUV; the car unlocks, starts and is driven off at 3:35am.",
    "frigate_genai", "driveway", "2026-12-19T03:35:00+00:00",
    (70, 92, "high", ["vehicle_theft", "known_vehicle", "night", "unknown_person"]),
    [
        d(0, "person", "front_lawn", 660, V("A man walks to the front of the house and holds a large flat box up against the wall near the door.", carrying="flat electronic box")),
        d(6, "person", "driveway", 661, V("A second man stands by the parked SUV holding a small box; the car's indicators blink once.", carrying="small electronic box")),
        d(9, "car", "driveway", 662, VEH("suv", "black"), PLATE("LR19 XKE", 0.92)),
        d(14, "person", "driveway", 661, V("The second man opens the driver's door and gets in without breaking anything."), P("sitting", "entering_vehicle")),
        d(31, "car", "street", 662, V("The SUV reverses off the driveway with its lights off and both men leave in it."), PLATE("LR19XKE", 0.8)),
    ],
    household={"known_faces": ["Fiona", "Angus"], "known_plates": ["LR19XKE"]}, night=NIGHT_IR,
    cross=[("front_door", "Front Door", 2, "person", 0.84)],
))

add(scene(
    "thr_knife_at_door", "threats", "Man with a knife pounds on the door",
    "Near midnight a man hammers and kicks the front door, shouting, and waves a long knife at it.",
    "structured_flags", "front_door", "2026-08-29T23:55:00-04:00",
    (88, 100, "critical", ["weapon", "aggression", "night", "entry_point"]),
    [
        d(0, "person", "porch", 670, V("A man bangs on the front door with his fist and shouts."), P("standing", "pounding_door"), WEAPON(False, None, 0.12), VIOLENCE(True, 0.58)),
        d(5, "person", "porch", 670, V("The man pulls a long knife from his waistband and waves it at the door."), WEAPON(True, "knife", 0.83), VIOLENCE(True, 0.7)),
        d(11, "person", "porch", 670, V("The man kicks the door twice and drives the knife into the door frame."), WEAPON(True, "knife", 0.79), VIOLENCE(True, 0.85), P("kicking", "kicking_door")),
    ],
    night=IQ(0.15, 0.3), baseline={"person": 0.02},
))

add(scene(
    "thr_door_kicked_in_daytime", "threats", "Daytime burglars kick in the front door",
    "Mid-morning two men knock to see if anyone is home, then kick the front door in beside the lock and go inside.",
    "vlm_caption", "front_door", "2026-04-27T10:30:00-05:00",
    (88, 100, "critical", ["forced_entry", "burglary", "unknown_person", "daytime", "knock_check"]),
    [
        d(0, "person", "porch", 680, V("The image shows two men in work jackets knocking at the front door and waiting."), P("standing", "knocking")),
        d(20, "person", "front_window", 681, V("The image shows one man looking through the glass beside the door while the other watches the street."), P("standing", "looking_in_window")),
        d(27, "person", "porch", 680, V("The image shows the larger man kicking the door right beside the lock, his leg fully extended."), P("kicking", "kicking_door")),
        d(31, "person", "porch", 680, V("The image shows the door burst open, splintered wood on the mat, and both men stepping inside."), P("walking", "entering")),
    ],
    baseline={"person": 0.4},
))

# fmt: on

# --------------------------------------------------------------------------------------------------
# layout
# --------------------------------------------------------------------------------------------------


def iso(start: datetime, offset_s: float) -> str:
    return (start + timedelta(seconds=offset_s)).isoformat()


def _bbox(rng: random.Random, obj: str, zone: tuple, width: int, height: int, scale: float) -> dict:
    _, _, _, polygon, depth = zone
    xs, ys = [p[0] for p in polygon], [p[1] for p in polygon]
    zx0, zx1, zy0, zy1 = min(xs), max(xs), min(ys), max(ys)
    fw, fh = SIZES[obj]
    w = fw * width * depth * scale * rng.uniform(0.9, 1.1)
    h = fh * height * depth * scale * rng.uniform(0.9, 1.1)
    cx = rng.uniform(zx0 + 0.25 * (zx1 - zx0), zx1 - 0.25 * (zx1 - zx0)) * width
    if obj in AIRBORNE:
        cy = rng.uniform(zy0 + 0.35 * (zy1 - zy0), zy1 - 0.35 * (zy1 - zy0)) * height
        y = cy - h / 2
    else:
        bottom = rng.uniform(zy0 + 0.6 * (zy1 - zy0), zy1) * height
        y = bottom - h
    x = min(max(cx - w / 2, 0.0), width - w)
    y = min(max(y, 0.0), height - h)
    return {"x": round(x, 1), "y": round(y, 1), "width": round(w, 1), "height": round(h, 1)}


def build_scene(spec: dict) -> tuple[dict, dict, dict]:
    rng = random.Random(zlib.crc32(spec["id"].encode()))
    cam_id, cam_name, width, height, zones = CAMERAS[spec["camera"]]
    zone_by_id = {z[0]: z for z in zones}
    start = datetime.fromisoformat(spec["start"])
    track_base = rng.randrange(100, 9000)
    prefix = f"{rng.randrange(16**6):06x}"

    detections = []
    for i, step in enumerate(spec["steps"]):
        enrichment = json.loads(json.dumps(step["enrichment"]))
        reid = enrichment.get("reid")
        if reid is not None:
            offset = reid.pop("_first_seen_offset")
            reid["first_seen"] = iso(start, offset) if offset is not None else None
        if spec["night"] is not None and "image_quality" not in enrichment and step["obj"] == "person":
            enrichment["image_quality"] = dict(spec["night"]["image_quality"])
        conf = step["conf"] if step["conf"] is not None else round(rng.uniform(0.72, 0.95), 2)
        assert 0.55 <= conf <= 0.97, (spec["id"], i, conf)
        detections.append(
            {
                "id": f"{prefix}-{i + 1:02d}",
                "detected_at": iso(start, step["t"]),
                "object_type": step["obj"],
                "confidence": conf,
                "bbox": _bbox(rng, step["obj"], zone_by_id[step["zone"]], width, height, step["scale"]),
                "track_id": track_base + step["track"] if step["track"] is not None else None,
                "enrichment": enrichment,
            }
        )

    doc: dict = {
        "camera": {
            "id": spec["cam_id"] or cam_id,
            "name": spec["cam_name"] or cam_name,
            "frame_width": width,
            "frame_height": height,
        },
        "zones": [{"id": z[0], "name": z[1], "zone_type": z[2], "polygon": z[3]} for z in zones],
        "detections": detections,
    }
    if spec["baseline"]:
        doc["baseline"] = {"sample_days": 28, "expected_per_hour": spec["baseline"]}
    if spec["cross"]:
        doc["cross_camera"] = [
            {
                "camera_id": cid,
                "camera_name": cname,
                "detected_at": iso(start, off),
                "object_type": obj,
                "confidence": conf,
            }
            for cid, cname, off, obj, conf in spec["cross"]
        ]
    if spec["household"]:
        doc["household"] = spec["household"]

    lo, hi, level, factors = spec["label"]
    band = BANDS[level]
    assert 0 <= lo <= hi <= 100 and lo <= band[1] and hi >= band[0], (spec["id"], spec["label"])
    assert 3 <= len(detections) <= 12, (spec["id"], len(detections))
    labels = {"risk": {"min_score": lo, "max_score": hi, "level": level, "expected_factors": factors}}
    meta = {
        "id": spec["id"],
        "category": spec["category"],
        "name": spec["name"],
        "description": spec["description"],
        "style": spec["style"],
    }
    return doc, labels, meta


def main() -> None:
    ids = [s["id"] for s in SCENES]
    assert len(ids) == len(set(ids)), "duplicate scene ids"
    for category in CATEGORIES:
        shutil.rmtree(ROOT / category, ignore_errors=True)
    for spec in SCENES:
        assert spec["category"] in CATEGORIES, spec["id"]
        doc, labels, meta = build_scene(spec)
        folder = ROOT / spec["category"] / spec["id"]
        folder.mkdir(parents=True)
        for name, payload in (("detections.json", doc), ("expected_labels.json", labels), ("scenario_spec.json", meta)):
            (folder / name).write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    counts: dict = {}
    for spec in SCENES:
        key = (spec["category"], spec["label"][2])
        counts[key] = counts.get(key, 0) + 1
    print(f"{len(SCENES)} scenarios written under {ROOT}")
    for (category, level), n in sorted(counts.items()):
        print(f"  {category:<10} {level:<8} {n}")


if __name__ == "__main__":
    main()
