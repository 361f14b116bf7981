"""Write the hold-out set data/generalisation/ from the hand-written scene table below.

    python data/generalisation/build.py        # rewrites normal/, suspicious/, threats/ next to this file

No randomness: every scene is written out by hand (words, times, paths, labels); the script only turns
the table into the contract's JSON (../../../shared/contracts/scenario-format.md): it interpolates each
track's box between hand-placed key frames, spaces the frames in time, wobbles the confidence by a fixed
pattern and numbers the detections. This set is a hold-out: never tune rules, thresholds, prompts or
concept banks on it.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
CATEGORIES = ("normal", "suspicious", "threats")
STYLES = ("vlm", "frigate_genai", "flags")
BANDS = {"low": (0, 29), "medium": (30, 59), "high": (60, 84), "critical": (85, 100)}

# --------------------------------------------------------------------------------------------------
# Cameras: id, name, frame size, zones (x0, y0, x1, y1 rectangles or explicit polygons, normalized)
# --------------------------------------------------------------------------------------------------


def rect(x0: float, y0: float, x1: float, y1: float) -> list[list[float]]:
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


CAMERAS: dict[str, dict] = {
    "front_door": {
        "camera": {"id": "front_door", "name": "Front Door", "frame_width": 1920, "frame_height": 1080},
        "zones": [
            {"id": "porch", "name": "Porch", "zone_type": "entry_point", "polygon": rect(0.34, 0.42, 0.68, 1.0)},
            {"id": "front_path", "name": "Front path and bed", "zone_type": "yard", "polygon": rect(0.0, 0.55, 0.34, 1.0)},
            {"id": "pavement", "name": "Pavement", "zone_type": "sidewalk", "polygon": rect(0.0, 0.28, 1.0, 0.42)},
            {"id": "road", "name": "Road", "zone_type": "street", "polygon": rect(0.0, 0.08, 1.0, 0.28)},
        ],
    },
    "doorbell": {
        "camera": {"id": "doorbell", "name": "Doorbell", "frame_width": 1600, "frame_height": 1200},
        "zones": [
            {"id": "doorstep", "name": "Doorstep", "zone_type": "entry_point", "polygon": rect(0.15, 0.35, 0.85, 1.0)},
            {"id": "walkway", "name": "Walkway", "zone_type": "yard", "polygon": [[0.3, 0.12], [0.7, 0.12], [0.85, 0.35], [0.15, 0.35]]},
            {"id": "kerb", "name": "Kerb", "zone_type": "sidewalk", "polygon": rect(0.0, 0.0, 1.0, 0.12)},
        ],
    },
    "driveway": {
        "camera": {"id": "driveway", "name": "Driveway", "frame_width": 2560, "frame_height": 1440},
        "zones": [
            {"id": "drive", "name": "Driveway", "zone_type": "driveway", "polygon": [[0.25, 0.3], [0.75, 0.3], [0.95, 1.0], [0.1, 1.0]]},
            {"id": "garage_side_door", "name": "Garage side door", "zone_type": "entry_point", "polygon": rect(0.0, 0.25, 0.12, 0.85)},
            {"id": "footway", "name": "Footway", "zone_type": "sidewalk", "polygon": rect(0.0, 0.18, 1.0, 0.3)},
            {"id": "lane", "name": "Lane", "zone_type": "street", "polygon": rect(0.0, 0.0, 1.0, 0.18)},
        ],
    },
    "garage_front": {
        "camera": {"id": "garage_front", "name": "Garage Front", "frame_width": 1920, "frame_height": 1080},
        "zones": [
            {"id": "garage_door", "name": "Garage door", "zone_type": "entry_point", "polygon": rect(0.2, 0.05, 0.8, 0.6)},
            {"id": "apron", "name": "Apron", "zone_type": "driveway", "polygon": rect(0.0, 0.6, 1.0, 1.0)},
        ],
    },
    "back_garden": {
        "camera": {"id": "back_garden", "name": "Back Garden", "frame_width": 2688, "frame_height": 1520},
        "zones": [
            {"id": "patio", "name": "Patio and back door", "zone_type": "entry_point", "polygon": rect(0.2, 0.72, 0.8, 1.0)},
            {"id": "lawn", "name": "Lawn", "zone_type": "yard", "polygon": rect(0.0, 0.38, 1.0, 0.72)},
            {"id": "rear_fence", "name": "Rear fence", "zone_type": "other", "polygon": rect(0.0, 0.18, 1.0, 0.38)},
            {"id": "shed", "name": "Shed", "zone_type": "other", "polygon": rect(0.76, 0.2, 0.98, 0.58)},
        ],
    },
    "rear_elevation": {
        "camera": {"id": "rear_elevation", "name": "Rear of House", "frame_width": 1920, "frame_height": 1080},
        "zones": [
            {"id": "upper_windows", "name": "First-floor windows", "zone_type": "entry_point", "polygon": rect(0.18, 0.05, 0.82, 0.38)},
            {"id": "ground_windows", "name": "Kitchen window and door", "zone_type": "entry_point", "polygon": rect(0.18, 0.38, 0.82, 0.74)},
            {"id": "terrace", "name": "Terrace", "zone_type": "yard", "polygon": rect(0.0, 0.74, 1.0, 1.0)},
        ],
    },
    "side_passage": {
        "camera": {"id": "side_passage", "name": "Side Passage", "frame_width": 1280, "frame_height": 720},
        "zones": [
            {"id": "side_gate", "name": "Side gate", "zone_type": "entry_point", "polygon": rect(0.38, 0.18, 0.66, 0.9)},
            {"id": "passage", "name": "Passage", "zone_type": "yard", "polygon": rect(0.05, 0.55, 0.95, 1.0)},
            {"id": "meter_box", "name": "Meter box", "zone_type": "other", "polygon": rect(0.75, 0.3, 0.9, 0.55)},
        ],
    },
    "street_view": {
        "camera": {"id": "street_view", "name": "Street", "frame_width": 1920, "frame_height": 1080},
        "zones": [
            {"id": "front_lawn", "name": "Front lawn", "zone_type": "yard", "polygon": rect(0.0, 0.8, 1.0, 1.0)},
            {"id": "sidewalk", "name": "Sidewalk", "zone_type": "sidewalk", "polygon": rect(0.0, 0.6, 1.0, 0.8)},
            {"id": "roadway", "name": "Roadway", "zone_type": "street", "polygon": rect(0.0, 0.3, 1.0, 0.6)},
        ],
    },
    "garage_inside": {
        "camera": {"id": "garage_inside", "name": "Garage Interior", "frame_width": 1920, "frame_height": 1080},
        "zones": [
            {"id": "workshop", "name": "Workshop floor", "zone_type": "other", "polygon": rect(0.0, 0.3, 1.0, 1.0)},
            {"id": "internal_door", "name": "Door to house", "zone_type": "entry_point", "polygon": rect(0.85, 0.1, 1.0, 0.75)},
        ],
    },
}

NIGHT_IQ = {"blur": 0.14, "brightness": 0.21, "tampering": False}
DUSK_IQ = {"blur": 0.08, "brightness": 0.38, "tampering": False}
JITTER = (0.0, 0.03, -0.02, 0.01, -0.04, 0.02, -0.01)

# --------------------------------------------------------------------------------------------------
# Table helpers
# --------------------------------------------------------------------------------------------------


def T(obj: str, n: int, step: float, path: list[tuple[float, float, float, float]], conf: float = 0.86,
      caps: list[str] | None = None, enrich: dict | None = None, at: float = 0.0, dwell: float | None = None,
      per_frame: dict[int, dict] | None = None, tid: int | None = None) -> dict:
    """One tracked object: n frames, step seconds apart, starting `at` seconds after the scene start;
    `path` is a list of key frames (centre x, centre y, width, height), normalized; `caps` captions spread
    over the frames in order; `enrich` enrichment on every frame; `per_frame` extra enrichment by frame index;
    `dwell` the dwell time at the first frame (grows with the frames)."""
    return {"obj": obj, "n": n, "step": step, "path": path, "conf": conf, "caps": caps or [], "enrich": enrich or {},
            "at": at, "dwell": dwell, "per_frame": per_frame or {}, "tid": tid}


def S(sid: str, cat: str, style: str, name: str, desc: str, label: tuple, cam: str, start: str, tracks: list[dict],
      household: dict | None = None, baseline: dict | None = None, cross: list[dict] | None = None,
      iq: dict | None = None, attrs: dict | None = None) -> dict:
    """One scenario; `label` is (min_score, max_score, level, expected_factors); `iq` image quality added to
    every detection; `attrs` vision attributes added to every detection that has a caption."""
    return {"id": sid, "cat": cat, "style": style, "name": name, "desc": desc, "label": label, "cam": cam,
            "start": start, "tracks": tracks, "household": household, "baseline": baseline, "cross": cross or [],
            "iq": iq, "attrs": attrs}


def V(caption: str | None = None, **attributes: str) -> dict:
    out: dict = {}
    if caption is not None:
        out["caption"] = caption
    out["attributes"] = dict(attributes)
    return out


def face(name: str | None, conf: float = 0.88) -> dict:
    return {"detected": True, "matched_name": name, "confidence": conf}


def pose(posture: str | None = None, action: str | None = None) -> dict:
    return {"posture": posture, "action": action}


def flag(detected: bool, conf: float) -> dict:
    return {"detected": detected, "confidence": conf}


def weapon(detected: bool, kind: str | None, conf: float) -> dict:
    return {"detected": detected, "type": kind, "confidence": conf}


# --------------------------------------------------------------------------------------------------
# The scene table
# --------------------------------------------------------------------------------------------------

SCENES: list[dict] = []
add = SCENES.append

# ======================= NORMAL: hard negatives (harmless, described with alarming words) ==========

add(S("bbq_smoke_cloud", "normal", "vlm", "Barbecue smoke on the patio",
      "Family barbecue early on a summer evening; the grill throws off a lot of smoke.",
      (0, 25, "low", ["known_person", "household_activity", "daytime"]), "back_garden", "2026-07-18T18:42:10-04:00",
      [T("smoke", 5, 6, [(0.42, 0.7, 0.22, 0.34), (0.45, 0.6, 0.3, 0.45)], 0.71,
         ["The image shows thick white smoke billowing up from a kettle grill on the patio, drifting across the lawn.",
          "In this frame, a dense plume of smoke rises from the barbecue and partially hides the fence behind it."]),
       T("person", 6, 5, [(0.48, 0.82, 0.07, 0.3), (0.5, 0.83, 0.07, 0.3)], 0.9,
         ["The image shows a man in an apron standing over a smoking grill, holding tongs and waving the smoke away from his face.",
          "A man flips burgers on a grill surrounded by smoke while a woman carries a bowl of salad out of the back door."],
         {"face": face("Marcus", 0.86), "pose": pose("standing", "cooking")}),
       T("person", 3, 8, [(0.62, 0.86, 0.06, 0.26), (0.58, 0.84, 0.06, 0.26)], 0.84, [], {"face": face("Lena", 0.81)}, at=4)],
      household={"known_faces": ["Marcus", "Lena"], "known_plates": []},
      baseline={"sample_days": 45, "expected_per_hour": {"person": 2.5}}))

add(S("water_pistol_ambush", "normal", "vlm", "Water-pistol fight",
      "Two children chase each other round the lawn with water pistols on a hot Saturday afternoon.",
      (0, 20, "low", ["children_playing", "daytime", "household_activity"]), "back_garden", "2026-06-27T15:10:31-07:00",
      [T("person", 7, 3, [(0.2, 0.6, 0.05, 0.2), (0.7, 0.55, 0.05, 0.2)], 0.88,
         ["The image shows a boy crouching behind a shrub and aiming a large plastic blaster at another child.",
          "A child ambushes a second child from behind a bush, soaking her with a jet of water as she shrieks and runs.",
          "In this frame, a small girl is being chased across the grass by a boy pointing a toy gun at her back."],
         {"pose": pose("crouching", "aiming")}),
       T("person", 7, 3, [(0.5, 0.58, 0.045, 0.18), (0.85, 0.5, 0.045, 0.18)], 0.85, [], {"pose": pose("running", None)}, at=1)],
      household={"known_faces": ["Nadia"], "known_plates": []},
      attrs={"holding": "plastic water pistol", "age": "child"}))

add(S("locksmith_drills_lock", "normal", "vlm", "Locksmith called by the owner",
      "Midday: the owner has locked herself out and stands by while a locksmith drills out the front-door cylinder.",
      (0, 25, "low", ["known_person", "service_worker", "daytime"]), "front_door", "2026-03-11T12:17:40+00:00",
      [T("person", 6, 15, [(0.5, 0.72, 0.09, 0.42), (0.5, 0.74, 0.1, 0.38)], 0.9,
         ["The image shows a man kneeling at the front door, drilling into the lock with a cordless drill while metal shavings fall onto the mat.",
          "A man in a navy work jacket is breaking the lock on the front door with a drill and a pick set; a woman watches beside him.",
          "In this daytime frame, the man removes the lock cylinder from the door and hands it to the woman."],
         {"pose": pose("kneeling", "drilling_lock"), "clothing": {"upper": "navy work jacket", "lower": "cargo trousers", "face_covering": False}},
         dwell=30),
       T("person", 6, 15, [(0.62, 0.7, 0.08, 0.46), (0.6, 0.7, 0.08, 0.46)], 0.87, [], {"face": face("Harriet", 0.9)}, dwell=30),
       T("car", 3, 40, [(0.7, 0.18, 0.22, 0.12), (0.7, 0.18, 0.22, 0.12)], 0.9, [],
         {"vehicle": {"type": "van", "color": "white", "damage": False}, "ocr_text": ["KEYRIGHT LOCKSMITHS 24HR"]})],
      household={"known_faces": ["Harriet", "Tom"], "known_plates": ["LK19XEP"]}))

add(S("teen_over_fence_for_ball", "normal", "frigate_genai", "Neighbour's teenager retrieves a football",
      "After school a teenage neighbour climbs the rear fence, grabs a football from the lawn and climbs back.",
      (0, 29, "low", ["neighbour", "daytime", "brief_visit"]), "back_garden", "2026-04-22T16:35:02-05:00",
      [T("person", 7, 4, [(0.3, 0.28, 0.05, 0.2), (0.45, 0.55, 0.06, 0.22), (0.3, 0.27, 0.05, 0.2)], 0.83,
         ["A teenage boy climbs over the back fence, drops onto the lawn, picks up a football and throws it back over before climbing out the way he came."],
         {"pose": pose("climbing", "climbing_fence"), "clothing": {"upper": "school sweatshirt", "lower": "shorts", "face_covering": False}}),
       T("sports ball", 3, 4, [(0.46, 0.6, 0.015, 0.025), (0.3, 0.25, 0.015, 0.025)], 0.66, [], at=8)],
      baseline={"sample_days": 30, "expected_per_hour": {"person": 0.3}}))

add(S("owner_shoulders_swollen_gate", "normal", "vlm", "Owner forces her own stuck gate",
      "Saturday morning after rain: the resident shoulders her own swollen garden gate until it gives.",
      (0, 20, "low", ["known_person", "daytime"]), "side_passage", "2026-10-03T09:48:19+01:00",
      [T("person", 6, 4, [(0.52, 0.62, 0.14, 0.55), (0.55, 0.64, 0.15, 0.56)], 0.91,
         ["The image shows a woman throwing her shoulder against a wooden side gate, trying to force it open.",
          "In this frame, a woman kicks the bottom of a stuck gate and then shoves it hard with both hands until it bursts open.",
          "A woman steps through the gate she has just forced and drags a wheelie bin behind her."],
         {"face": face("Priya", 0.89), "pose": pose("leaning", "pushing_gate")})],
      household={"known_faces": ["Priya", "Sanjay"], "known_plates": []},
      cross=[{"camera_id": "back_garden", "camera_name": "Back Garden", "detected_at": "2026-10-03T09:46:50+01:00",
              "object_type": "person", "confidence": 0.88}]))

add(S("cat_noir_caption", "normal", "vlm", "Cat described like a thriller",
      "The night captioner describes the household cat in dramatic language.",
      (0, 20, "low", ["pet", "night"]), "back_garden", "2026-11-14T02:13:55-08:00",
      [T("cat", 6, 5, [(0.1, 0.3, 0.03, 0.03), (0.6, 0.62, 0.04, 0.035)], 0.78,
         ["In this eerie nighttime frame, a shadowy intruder creeps low along the fence line, its eyes glowing in the infrared light.",
          "A dark figure stalks silently across the lawn toward the back door, crouched and ready to pounce.",
          "In this grainy image, the prowler pauses on the patio and stares straight into the camera before slipping out of view."],
         {"pet": {"type": "cat"}})],
      household={"known_faces": ["Owen"], "known_plates": []}, iq=NIGHT_IQ))

add(S("paramedics_with_stretcher", "normal", "vlm", "Paramedics attend a resident",
      "An ambulance crew wheels a stretcher to the front door in the evening; the resident's husband lets them in.",
      (0, 29, "low", ["emergency_services", "known_person"]), "front_door", "2026-01-29T19:55:07-05:00",
      [T("car", 4, 10, [(0.55, 0.2, 0.3, 0.14), (0.55, 0.2, 0.3, 0.14)], 0.9,
         ["The image shows an ambulance parked in the road with its blue lights flashing and its rear doors open."],
         {"vehicle": {"type": "ambulance", "color": "yellow and green", "damage": False}, "ocr_text": ["AMBULANCE", "EMERGENCY"]}),
       T("person", 6, 6, [(0.35, 0.36, 0.05, 0.22), (0.5, 0.7, 0.08, 0.4)], 0.9,
         ["Two people in green uniforms hurry up the path pushing a stretcher and carrying a defibrillator bag.",
          "In this frame, paramedics rush through the open front door while a man holds it wide for them."],
         {"clothing": {"upper": "green paramedic uniform", "lower": "green trousers", "face_covering": False}}, at=6),
       T("person", 3, 6, [(0.52, 0.6, 0.08, 0.44), (0.52, 0.6, 0.08, 0.44)], 0.86, [], {"face": face("Gerald", 0.83)}, at=18)],
      household={"known_faces": ["Gerald", "Joan"], "known_plates": []}, iq=DUSK_IQ))

add(S("cased_rifle_on_sidewalk", "normal", "flags", "Cased rifle carried past on the sidewalk",
      "Mid-morning in hunting season, a man walks past on the public sidewalk with a zipped rifle case on his shoulder.",
      (0, 29, "low", ["passerby", "public_sidewalk", "daytime"]), "street_view", "2026-11-07T10:21:44-06:00",
      [T("person", 6, 2, [(0.1, 0.68, 0.05, 0.22), (0.85, 0.67, 0.05, 0.22)], 0.9, [],
         {"weapon": weapon(True, "long gun", 0.57), "violence": flag(False, 0.02),
          "vision": V(None, carrying="zipped soft rifle case", clothing="blaze orange cap", direction="passing"),
          "pose": pose("walking", "walking_past")})],
      baseline={"sample_days": 60, "expected_per_hour": {"person": 1.8, "car": 9.0}}))

add(S("trick_or_treat_reaper", "normal", "frigate_genai", "Trick-or-treaters in costume",
      "Halloween early evening: masked children and a parent in a reaper costume ring the bell.",
      (0, 25, "low", ["holiday", "visitors", "evening"]), "doorbell", "2026-10-31T18:34:12-04:00",
      [T("person", 5, 4, [(0.5, 0.3, 0.18, 0.3), (0.48, 0.62, 0.3, 0.7)], 0.87,
         ["A person in a hooded black robe and skull mask carries a scythe up the walkway behind two small children in masks, one with a bloody plastic knife, and they ring the bell holding out candy buckets."],
         {"clothing": {"upper": "black robe", "lower": "black robe", "face_covering": True}}),
       T("person", 4, 4, [(0.4, 0.45, 0.12, 0.35), (0.38, 0.7, 0.14, 0.45)], 0.8, [],
         {"clothing": {"upper": "witch costume", "lower": "costume", "face_covering": True}}, at=2),
       T("person", 4, 4, [(0.62, 0.45, 0.12, 0.35), (0.65, 0.7, 0.14, 0.45)], 0.79, [],
         {"clothing": {"upper": "zombie costume", "lower": "costume", "face_covering": True}}, at=2)],
      baseline={"sample_days": 30, "expected_per_hour": {"person": 0.2}}, iq=DUSK_IQ))

add(S("resident_fumbles_keys_late", "normal", "vlm", "Resident home late, fumbling with keys",
      "At 2:40 a resident returns from a party, unsteady, and takes a while to get his key into the lock.",
      (0, 25, "low", ["known_person", "night", "entry_point"]), "doorbell", "2026-05-17T02:41:26+02:00",
      [T("person", 8, 6, [(0.45, 0.2, 0.12, 0.3), (0.52, 0.62, 0.3, 0.72)], 0.85,
         ["In this nighttime frame, a man staggers up the path and sways on the doorstep.",
          "The image shows a man bent over the door lock, scratching at it with a key and rattling the handle.",
          "A man leans his forehead against the door while jiggling a key in the lock, then pushes the door open and goes inside."],
         {"face": face("Jonas", 0.79), "pose": pose("leaning", "unlocking_door")}, dwell=0)],
      household={"known_faces": ["Jonas", "Mira"], "known_plates": []}, iq=NIGHT_IQ))

add(S("fox_shreds_bin_bag", "normal", "frigate_genai", "Fox raids the bins",
      "A fox tears open a rubbish bag by the garage in the small hours.",
      (0, 15, "low", ["wildlife", "night"]), "driveway", "2026-02-08T03:27:50+00:00",
      [T("fox", 6, 5, [(0.2, 0.55, 0.06, 0.05), (0.25, 0.6, 0.07, 0.05)], 0.72,
         ["A fox rips a black bin bag apart beside the garage, scatters food wrappers across the driveway and trots off down the lane with something in its mouth."],
         {"pet": {"type": "fox"}})],
      iq=NIGHT_IQ))

add(S("firepit_flames_evening", "normal", "vlm", "Fire pit with friends",
      "Residents and friends around a fire pit in the garden on an autumn evening.",
      (0, 25, "low", ["known_person", "household_activity", "evening"]), "back_garden", "2026-10-10T21:12:03-04:00",
      [T("fire", 4, 12, [(0.5, 0.55, 0.08, 0.1), (0.5, 0.54, 0.08, 0.12)], 0.81,
         ["The image shows large flames leaping out of a metal bowl in the middle of the lawn, lighting up faces around it.",
          "In this nighttime frame, sparks shoot up from a roaring fire while several people sit close by on camp chairs."]),
       T("person", 4, 12, [(0.42, 0.56, 0.05, 0.14), (0.42, 0.56, 0.05, 0.14)], 0.84, [],
         {"face": face("Dana", 0.77), "pose": pose("sitting", None)}),
       T("person", 3, 15, [(0.58, 0.57, 0.05, 0.14), (0.58, 0.57, 0.05, 0.14)], 0.8, [], {"face": face(None, 0.4), "pose": pose("sitting", None)}),
       T("person", 3, 10, [(0.52, 0.62, 0.05, 0.16), (0.5, 0.62, 0.05, 0.16)], 0.79, [], {"pose": pose("standing", "adding_wood")}, at=12)],
      household={"known_faces": ["Dana", "Chris"], "known_plates": []}, iq=DUSK_IQ))

add(S("window_cleaner_first_floor", "normal", "frigate_genai", "Window cleaner at the upstairs windows",
      "A window cleaner props a ladder against the back wall and cleans the bedroom windows in the morning.",
      (0, 25, "low", ["service_worker", "daytime", "scheduled"]), "rear_elevation", "2026-05-06T10:05:33+10:00",
      [T("ladder", 4, 20, [(0.4, 0.45, 0.06, 0.6), (0.6, 0.45, 0.06, 0.6)], 0.74, []),
       T("person", 8, 10, [(0.4, 0.25, 0.06, 0.22), (0.6, 0.24, 0.06, 0.22)], 0.88,
         ["A man carries a ladder round the back of the house, leans it under the bedroom window and climbs up with a bucket and squeegee, wiping each upstairs pane in turn."],
         {"pose": pose("climbing", "cleaning_window"), "vision": V(None, uniform="polo shirt with company logo", carrying="bucket and squeegee")})],
      baseline={"sample_days": 90, "expected_per_hour": {"person": 0.1}}))

add(S("meter_reader_with_torch", "normal", "vlm", "Meter reader crouches with a torch",
      "A utility meter reader lets himself through the side gate and shines a torch into the meter box.",
      (0, 25, "low", ["service_worker", "daytime"]), "side_passage", "2026-09-15T11:32:58-04:00",
      [T("person", 6, 6, [(0.5, 0.55, 0.12, 0.5), (0.8, 0.6, 0.13, 0.5)], 0.89,
         ["The image shows a man in a high-visibility vest opening the side gate and walking in with a handheld device.",
          "In this frame, the man crouches by the wall and shines a flashlight into an open metal box, pressing buttons on a handheld scanner.",
          "The man closes the meter box, walks back out and latches the gate behind him."],
         {"pose": pose("crouching", "reading_meter"), "vision": V(None, uniform="hi-vis vest", badge="utility ID lanyard"),
          "ocr_text": ["CITY GAS & ELECTRIC", "METER SERVICES"]})],
      baseline={"sample_days": 30, "expected_per_hour": {"person": 0.05}}))

add(S("garage_boxing_sparring", "normal", "flags", "Residents spar in the garage gym",
      "Two residents spar with gloves and headguards in their garage gym on a Sunday morning.",
      (0, 29, "low", ["known_person", "household_activity", "daytime"]), "garage_inside", "2026-02-22T10:40:00-08:00",
      [T("person", 7, 3, [(0.42, 0.6, 0.12, 0.55), (0.45, 0.6, 0.12, 0.55)], 0.9, [],
         {"face": face("Rico", 0.74), "violence": flag(True, 0.71), "weapon": weapon(False, None, 0.03),
          "pose": pose("fighting_stance", "punching"), "vision": V(None, equipment="boxing gloves", headwear="padded headguard")}),
       T("person", 7, 3, [(0.58, 0.6, 0.12, 0.55), (0.56, 0.6, 0.12, 0.55)], 0.88, [],
         {"face": face("Alma", 0.7), "violence": flag(True, 0.68), "weapon": weapon(False, None, 0.02),
          "pose": pose("fighting_stance", "blocking"), "vision": V(None, equipment="boxing gloves", headwear="padded headguard")})],
      household={"known_faces": ["Rico", "Alma"], "known_plates": []}))

add(S("neighbour_takes_mower", "normal", "frigate_genai", "Neighbour borrows the lawnmower",
      "A neighbour the family knows wheels the lawnmower out of the open shed and across the lawn, as agreed.",
      (0, 25, "low", ["known_person", "daytime"]), "back_garden", "2026-05-30T13:05:45+01:00",
      [T("person", 8, 5, [(0.86, 0.42, 0.05, 0.2), (0.2, 0.5, 0.06, 0.24)], 0.9,
         ["A man opens the shed door, pulls out a petrol lawnmower and pushes it across the lawn towards the side gate."],
         {"face": face("Kwame", 0.9), "pose": pose("walking", "pushing_mower")}),
       T("lawn mower", 5, 5, [(0.8, 0.48, 0.05, 0.06), (0.25, 0.58, 0.05, 0.06)], 0.64, [], at=10)],
      household={"known_faces": ["Ellie", "Sam", "Kwame"], "known_plates": []}))

add(S("locked_out_through_window", "normal", "vlm", "Resident climbs in through her own kitchen window",
      "Afternoon: a resident without her keys climbs in through the kitchen window she left open.",
      (0, 29, "low", ["known_person", "daytime", "entry_point"]), "rear_elevation", "2026-08-12T15:26:09-05:00",
      [T("person", 7, 5, [(0.45, 0.8, 0.08, 0.3), (0.5, 0.52, 0.1, 0.3)], 0.88,
         ["The image shows a woman dragging a garden chair under the kitchen window and prising the window wider with her fingers.",
          "In this daytime frame, a woman climbs onto the chair and squeezes in through the open window, legs still hanging outside.",
          "A woman disappears through a ground-floor window; a handbag is left on the chair below."],
         {"face": face("Beatrix", 0.85), "pose": pose("climbing", "entering_window")})],
      household={"known_faces": ["Beatrix", "Hugo"], "known_plates": []}))

add(S("new_year_fireworks", "normal", "vlm", "New Year fireworks in the street",
      "Just after midnight on New Year's Day, neighbours set off fireworks in the road.",
      (0, 25, "low", ["holiday", "neighbours", "public_street"]), "street_view", "2027-01-01T00:03:18-05:00",
      [T("fire", 4, 6, [(0.5, 0.38, 0.08, 0.14), (0.52, 0.4, 0.1, 0.16)], 0.67,
         ["In this nighttime frame, bright explosions and showers of sparks light up the street and smoke hangs in the air.",
          "The image shows a rocket bursting just above the road while a group of people cheer and raise their arms."]),
       T("smoke", 3, 8, [(0.5, 0.35, 0.3, 0.2), (0.55, 0.33, 0.4, 0.22)], 0.58, [], at=6),
       T("person", 4, 6, [(0.3, 0.66, 0.04, 0.16), (0.34, 0.66, 0.04, 0.16)], 0.8, [], {"pose": pose("standing", "cheering")}),
       T("person", 4, 6, [(0.45, 0.5, 0.035, 0.13), (0.47, 0.48, 0.035, 0.13)], 0.74, [], {"pose": pose("crouching", "lighting_firework")}, at=2)],
      iq=NIGHT_IQ))

add(S("courier_sprints_back", "normal", "frigate_genai", "Courier drops a parcel and runs",
      "A courier in a hurry drops a parcel at the door in the rain and sprints back to his van.",
      (0, 20, "low", ["delivery", "daytime"]), "front_door", "2026-12-14T14:08:22+00:00",
      [T("person", 6, 2, [(0.4, 0.35, 0.05, 0.22), (0.52, 0.75, 0.09, 0.42), (0.35, 0.34, 0.05, 0.22)], 0.88,
         ["A man in a hi-vis jacket jogs up the path in heavy rain, throws a parcel onto the doormat, snaps a photo of it and sprints away to a van idling in the road."],
         {"weather": {"condition": "rain", "visibility": "moderate"}, "pose": pose("running", None)}),
       T("package", 3, 3, [(0.53, 0.9, 0.05, 0.06), (0.53, 0.9, 0.05, 0.06)], 0.77, [], at=5),
       T("car", 3, 4, [(0.7, 0.18, 0.2, 0.11), (0.72, 0.18, 0.2, 0.11)], 0.86, [], {"vehicle": {"type": "van", "color": "white", "damage": False}, "ocr_text": ["PARCELFORCE"]})]))

add(S("carer_uses_key_safe", "normal", "vlm", "Home carer lets herself in at dawn",
      "At 06:50 the daily carer takes the key from the key safe and lets herself in to help an elderly resident.",
      (0, 25, "low", ["known_person", "carer", "entry_point"]), "doorbell", "2026-03-02T06:52:14+00:00",
      [T("person", 6, 6, [(0.6, 0.3, 0.14, 0.35), (0.62, 0.6, 0.26, 0.7)], 0.86,
         ["The image shows a woman in a tunic and puffer coat punching a code into a small box on the wall beside the door.",
          "In this early-morning frame, she takes a key out of the box, unlocks the door and goes in, pulling it shut behind her."],
         {"face": face("Carer - Rosa", 0.84), "pose": pose("standing", "entering_code")})],
      household={"known_faces": ["Arthur", "Carer - Rosa"], "known_plates": []}, iq=DUSK_IQ,
      baseline={"sample_days": 60, "expected_per_hour": {"person": 0.9}}))

add(S("hooded_runner_predawn", "normal", "frigate_genai", "Hooded jogger before sunrise",
      "A jogger in a dark hoodie runs past on the sidewalk at 05:20.",
      (0, 20, "low", ["passerby", "public_sidewalk"]), "street_view", "2026-02-11T05:20:40-07:00",
      [T("person", 5, 1, [(0.05, 0.7, 0.04, 0.19), (0.9, 0.7, 0.04, 0.19)], 0.8,
         ["A figure in a dark hood and gloves runs fast along the sidewalk past the house and out of view without slowing."],
         {"clothing": {"upper": "black hoodie", "lower": "running tights", "face_covering": False}, "pose": pose("running", "jogging")})],
      baseline={"sample_days": 30, "expected_per_hour": {"person": 0.6}}, iq=NIGHT_IQ))

add(S("pickaxe_on_ice", "normal", "vlm", "Resident chips ice off the steps",
      "A resident hacks at the ice on his front steps with a mattock on a winter morning.",
      (0, 20, "low", ["known_person", "daytime", "household_activity"]), "front_door", "2026-01-09T08:31:02-05:00",
      [T("person", 6, 8, [(0.5, 0.75, 0.1, 0.42), (0.48, 0.76, 0.1, 0.42)], 0.9,
         ["The image shows a man swinging a pickaxe down hard at the front steps, chunks flying up around his boots.",
          "In this frame, the man raises the heavy tool over his head again and strikes the ice by the door."],
         {"face": face("Dmitri", 0.87), "pose": pose("standing", "swinging_tool"),
          "weather": {"condition": "snow", "visibility": "good"}})],
      household={"known_faces": ["Dmitri", "Yulia"], "known_plates": []}))

add(S("surveyor_aims_at_house", "normal", "vlm", "Surveyor on the sidewalk",
      "A council surveyor with a tripod instrument takes readings from the sidewalk in the morning.",
      (0, 29, "low", ["service_worker", "public_sidewalk", "daytime"]), "street_view", "2026-04-14T09:44:51-04:00",
      [T("person", 6, 15, [(0.4, 0.66, 0.05, 0.22), (0.42, 0.66, 0.05, 0.22)], 0.88,
         ["The image shows a person in a hard hat and high-visibility vest standing on the sidewalk behind an instrument on a tripod, pointing it towards the house.",
          "In this frame, the person squints through the eyepiece and writes in a notebook, the instrument still aimed at the front of the home."],
         {"vision": V(None, uniform="hi-vis vest and hard hat", equipment="total station on tripod"),
          "ocr_text": ["COUNTY ENGINEERING - SURVEY CREW"]}, dwell=60),
       T("car", 2, 60, [(0.75, 0.45, 0.2, 0.13), (0.75, 0.45, 0.2, 0.13)], 0.9, [],
         {"vehicle": {"type": "pickup", "color": "white", "damage": False}, "ocr_text": ["COUNTY VEHICLE 112"]})],
      baseline={"sample_days": 30, "expected_per_hour": {"person": 1.2}}))

add(S("movers_carry_tv_out", "normal", "frigate_genai", "Removal crew on moving day",
      "Moving day: two removal men carry the television out to the truck while the owner supervises.",
      (0, 25, "low", ["known_person", "daytime", "scheduled"]), "front_door", "2026-08-31T11:02:37-07:00",
      [T("person", 5, 6, [(0.5, 0.72, 0.08, 0.4), (0.4, 0.35, 0.05, 0.22)], 0.89,
         ["Two men carry a large flat-screen television out through the front door and down the path to a box truck, then come back for more boxes."],
         {"vision": V(None, uniform="company t-shirt", carrying="television")}),
       T("person", 4, 7, [(0.56, 0.72, 0.08, 0.4), (0.46, 0.35, 0.05, 0.22)], 0.86, [], {}),
       T("person", 3, 10, [(0.62, 0.6, 0.07, 0.4), (0.62, 0.6, 0.07, 0.4)], 0.84, [], {"face": face("Greta", 0.88)}),
       T("truck", 2, 15, [(0.5, 0.18, 0.36, 0.16), (0.5, 0.18, 0.36, 0.16)], 0.93, [], {"ocr_text": ["BAYSIDE MOVERS", "LICENSED & INSURED"]})],
      household={"known_faces": ["Greta", "Lars"], "known_plates": []}))

add(S("spider_over_lens", "normal", "vlm", "Spider walks across the lens",
      "A spider crawls over the lens at night; the frame is dominated by a huge blurred shape.",
      (0, 15, "low", ["false_alarm", "night"]), "doorbell", "2026-09-24T23:48:30-06:00",
      [T("person", 4, 2, [(0.45, 0.4, 0.5, 0.6), (0.55, 0.5, 0.45, 0.6)], 0.52,
         ["In this nighttime frame, a huge dark shape with long legs looms over the camera, covering most of the view.",
          "The image is mostly blocked by a blurry creature very close to the lens; it looks like a large spider crawling across the glass."],
         {"image_quality": {"blur": 0.82, "brightness": 0.18, "tampering": False}}),
       T("spider", 3, 2, [(0.5, 0.45, 0.4, 0.5), (0.55, 0.5, 0.4, 0.5)], 0.61, [], at=1)]))

add(S("loose_dog_chase", "normal", "frigate_genai", "Resident chases the escaped dog",
      "A resident runs shouting across the front lawn after the family dog, which slipped its lead.",
      (0, 20, "low", ["known_person", "pet", "daytime"]), "street_view", "2026-06-03T17:50:12-04:00",
      [T("dog", 5, 1, [(0.2, 0.88, 0.06, 0.08), (0.9, 0.7, 0.06, 0.08)], 0.86, [], {"pet": {"type": "dog"}}),
       T("person", 6, 1, [(0.1, 0.86, 0.05, 0.2), (0.8, 0.72, 0.05, 0.2)], 0.88,
         ["A woman bolts out across the front lawn screaming and waving her arms, chasing a dog that is running towards the road, and grabs it by the collar on the sidewalk."],
         {"face": face("Ines", 0.82), "pose": pose("running", "chasing")}, at=1)],
      household={"known_faces": ["Ines", "Paulo"], "known_plates": []}))

add(S("masked_canvasser_clipboard", "normal", "vlm", "Canvasser in a face mask",
      "A masked canvasser with a clipboard and lanyard rings the bell on a rainy afternoon, then leaves a leaflet.",
      (0, 29, "low", ["unknown_person", "daytime", "brief_visit"]), "doorbell", "2026-11-19T15:12:48+00:00",
      [T("person", 6, 8, [(0.5, 0.25, 0.12, 0.3), (0.5, 0.6, 0.28, 0.72), (0.5, 0.25, 0.12, 0.3)], 0.87,
         ["The image shows a person with a surgical mask and a hood walking up to the door holding a clipboard.",
          "In this frame, the masked person rings the doorbell, waits, then pushes a leaflet through the letterbox.",
          "The person walks back down the path towards the next house."],
         {"clothing": {"upper": "rain jacket", "lower": "jeans", "face_covering": True},
          "ocr_text": ["VOTE LOCAL - WARD 4"], "weather": {"condition": "rain", "visibility": "moderate"}},
         dwell=0)],
      baseline={"sample_days": 30, "expected_per_hour": {"person": 0.15}}))

# ======================= NORMAL: ordinary scenes ==================================================

add(S("parcel_left_on_mat", "normal", "frigate_genai", "Parcel delivery",
      "Parcel delivered in the afternoon.",
      (0, 15, "low", ["delivery", "daytime"]), "doorbell", "2026-04-08T14:47:05-05:00",
      [T("person", 5, 4, [(0.5, 0.2, 0.1, 0.28), (0.5, 0.62, 0.28, 0.72), (0.5, 0.22, 0.1, 0.28)], 0.9,
         ["A delivery driver in a brown uniform walks up to the door, sets a box on the step, takes a photo and walks back to the truck."],
         {"vision": V(None, uniform="delivery", carrying="package")}),
       T("package", 3, 4, [(0.45, 0.85, 0.12, 0.1), (0.45, 0.85, 0.12, 0.1)], 0.8, [], at=8)]))

add(S("postie_round", "normal", "vlm", "Postal worker",
      "The postwoman delivers letters mid-morning.",
      (0, 15, "low", ["postal_worker", "daytime"]), "front_door", "2026-03-25T10:14:29+00:00",
      [T("person", 5, 3, [(0.2, 0.35, 0.05, 0.22), (0.5, 0.72, 0.09, 0.42), (0.8, 0.35, 0.05, 0.22)], 0.9,
         ["The image shows a woman in a red postal jacket with a shoulder bag pushing letters through the letterbox of the front door.",
          "A postal worker walks away down the path and on to the next house."],
         {"vision": V(None, uniform="postal", carrying="mail bag")})],
      baseline={"sample_days": 60, "expected_per_hour": {"person": 0.8}}))

add(S("gardener_mowing_edges", "normal", "frigate_genai", "Weekly gardener",
      "The regular gardener mows and edges the back lawn.",
      (0, 15, "low", ["service_worker", "daytime", "scheduled"]), "back_garden", "2026-07-07T09:20:00-07:00",
      [T("person", 8, 20, [(0.1, 0.5, 0.05, 0.2), (0.9, 0.6, 0.05, 0.2)], 0.88,
         ["A gardener pushes a mower in straight lines across the lawn, then trims the edges along the flower beds with a string trimmer."],
         {"face": face("Gardener - Luis", 0.8), "vision": V(None, uniform="green work shirt", carrying="string trimmer")})],
      household={"known_faces": ["Maya", "Gardener - Luis"], "known_plates": []},
      baseline={"sample_days": 90, "expected_per_hour": {"person": 0.4}}))

add(S("family_car_home_late", "normal", "vlm", "Household car comes home at night",
      "The household car pulls into the driveway at 23:15 and the resident walks to the side door.",
      (0, 15, "low", ["known_vehicle", "known_person", "night"]), "driveway", "2026-09-05T23:15:40+02:00",
      [T("car", 5, 3, [(0.5, 0.12, 0.2, 0.12), (0.5, 0.6, 0.4, 0.35)], 0.92,
         ["In this nighttime frame, a grey hatchback turns off the lane and pulls up the driveway with its headlights on."],
         {"license_plate": {"text": "B-KM 4471", "confidence": 0.88}, "vehicle": {"type": "hatchback", "color": "grey", "damage": False}}),
       T("person", 4, 3, [(0.45, 0.6, 0.05, 0.25), (0.08, 0.55, 0.05, 0.25)], 0.84,
         ["A woman gets out of the car and walks to the garage side door with her keys."], {"face": face("Katrin", 0.8)}, at=15)],
      household={"known_faces": ["Katrin", "Felix"], "known_plates": ["BKM4471"]}, iq=NIGHT_IQ))

add(S("dog_walker_passes", "normal", "frigate_genai", "Dog walker on the sidewalk",
      "A neighbour walks two dogs past the house in the early evening.",
      (0, 15, "low", ["passerby", "public_sidewalk"]), "street_view", "2026-05-21T19:02:10-04:00",
      [T("person", 5, 2, [(0.9, 0.7, 0.04, 0.18), (0.1, 0.7, 0.04, 0.18)], 0.89,
         ["A woman walks two dogs on leads along the sidewalk, pausing while one sniffs the lamp post, then continues down the street."]),
       T("dog", 5, 2, [(0.87, 0.76, 0.04, 0.05), (0.07, 0.76, 0.04, 0.05)], 0.8, [], {"pet": {"type": "dog"}}),
       T("dog", 5, 2, [(0.92, 0.77, 0.03, 0.04), (0.12, 0.77, 0.03, 0.04)], 0.75, [], {"pet": {"type": "dog"}})],
      baseline={"sample_days": 30, "expected_per_hour": {"person": 2.0, "dog": 1.0}}))

add(S("deer_browsing_night", "normal", "vlm", "Deer in the garden at night",
      "Two deer browse the shrubs in the back garden around 4am.",
      (0, 15, "low", ["wildlife", "night"]), "back_garden", "2026-10-21T04:06:33-04:00",
      [T("deer", 6, 10, [(0.3, 0.45, 0.08, 0.12), (0.45, 0.5, 0.08, 0.12)], 0.76,
         ["In this infrared nighttime image, a deer stands in the garden nibbling at a bush near the fence.",
          "Two deer move slowly across the lawn, heads down, grazing."]),
       T("deer", 5, 10, [(0.2, 0.4, 0.07, 0.1), (0.32, 0.46, 0.07, 0.1)], 0.7, [], at=5)],
      iq=NIGHT_IQ))

add(S("takeaway_arrives", "normal", "frigate_genai", "Takeaway delivery",
      "A food delivery rider brings dinner on a Friday evening; the resident opens the door.",
      (0, 20, "low", ["delivery", "evening", "known_person"]), "doorbell", "2026-02-20T19:41:55-06:00",
      [T("person", 5, 4, [(0.5, 0.18, 0.1, 0.28), (0.5, 0.6, 0.26, 0.7)], 0.88,
         ["A person in a cycling helmet carrying an insulated food bag walks to the door, hands a paper bag to the resident and leaves."],
         {"vision": V(None, carrying="insulated food bag", uniform="delivery")}),
       T("person", 2, 4, [(0.55, 0.65, 0.3, 0.7), (0.55, 0.65, 0.3, 0.7)], 0.8, [], {"face": face("Amir", 0.86)}, at=10)],
      household={"known_faces": ["Amir", "Sofia"], "known_plates": []}, iq=DUSK_IQ))

add(S("resident_leaves_for_work", "normal", "vlm", "Resident leaves in the morning",
      "A resident leaves for work at 07:45 and drives off in the household car.",
      (0, 10, "low", ["known_person", "known_vehicle", "daytime"]), "driveway", "2026-06-16T07:45:02-04:00",
      [T("person", 3, 4, [(0.08, 0.5, 0.05, 0.26), (0.4, 0.6, 0.05, 0.26)], 0.9,
         ["The image shows a man with a laptop bag walking from the garage side door to a blue SUV in the driveway."],
         {"face": face("Victor", 0.92)}),
       T("car", 4, 5, [(0.5, 0.6, 0.4, 0.35), (0.5, 0.12, 0.2, 0.12)], 0.93,
         ["A blue SUV reverses out of the driveway into the lane."],
         {"license_plate": {"text": "7KQM218", "confidence": 0.9}, "vehicle": {"type": "suv", "color": "blue", "damage": False}}, at=12)],
      household={"known_faces": ["Victor", "Elena"], "known_plates": ["7KQM218"]},
      baseline={"sample_days": 60, "expected_per_hour": {"person": 1.0, "car": 1.0}}))

add(S("cat_sunning_on_porch", "normal", "frigate_genai", "Cat on the porch",
      "The household cat naps on the porch in the afternoon sun.",
      (0, 10, "low", ["pet", "daytime"]), "front_door", "2026-04-30T15:31:10+02:00",
      [T("cat", 4, 30, [(0.55, 0.85, 0.06, 0.06), (0.56, 0.86, 0.07, 0.05)], 0.83,
         ["A ginger cat stretches out on the porch mat and sleeps in the sun."], {"pet": {"type": "cat"}})]))

# ======================= SUSPICIOUS ===============================================================

add(S("photographs_locks_and_gate", "suspicious", "vlm", "Stranger photographs the house",
      "A stranger stops on the sidewalk and photographs the front door, the side gate and the cameras, twice in an hour.",
      (30, 59, "medium", ["unknown_person", "surveillance_of_property", "repeat_visit"]), "front_door",
      "2026-03-18T13:50:12-05:00",
      [T("person", 7, 6, [(0.2, 0.35, 0.05, 0.22), (0.4, 0.36, 0.05, 0.22)], 0.88,
         ["The image shows a man in a grey cap standing on the pavement holding up a phone towards the front of the house.",
          "In this frame, the man zooms in with his phone on the door lock, then turns the phone up toward the camera under the eaves.",
          "The man walks a few steps to the side, photographs the side gate and writes something on his hand."],
         {"face": face(None, 0.55), "reid": {"seen_before": True, "first_seen": "2026-03-18T12:58:40-05:00", "cameras": ["front_door", "street_view"]},
          "pose": pose("standing", "photographing")}, dwell=20)],
      household={"known_faces": ["Olga", "Pete"], "known_plates": []},
      baseline={"sample_days": 30, "expected_per_hour": {"person": 0.7}}))

add(S("looks_under_doormat", "suspicious", "frigate_genai", "Stranger hunts for a spare key",
      "Weekday afternoon, house empty: an unknown man lifts the doormat and tips the plant pots by the door.",
      (60, 84, "high", ["unknown_person", "entry_point", "searching_for_key"]), "doorbell", "2026-09-09T14:03:27-04:00",
      [T("person", 8, 5, [(0.5, 0.22, 0.1, 0.28), (0.45, 0.68, 0.3, 0.62)], 0.87,
         ["A man walks to the door, glances back at the street, lifts the doormat and looks under it, then tips up each flowerpot on the step and runs his hand along the top of the door frame."],
         {"face": face(None, 0.6), "pose": pose("bending", "searching")}, dwell=5)],
      household={"known_faces": ["Farah", "Idris"], "known_plates": []},
      baseline={"sample_days": 30, "expected_per_hour": {"person": 0.1}}))

add(S("chalk_sign_on_gatepost", "suspicious", "vlm", "Chalk mark on the gatepost",
      "At dusk a passer-by stops, chalks a small symbol on the gatepost and walks on.",
      (30, 59, "medium", ["unknown_person", "marking_property", "dusk"]), "front_door", "2026-11-03T17:22:40+00:00",
      [T("person", 5, 4, [(0.05, 0.36, 0.05, 0.22), (0.3, 0.4, 0.05, 0.24), (0.6, 0.36, 0.05, 0.22)], 0.84,
         ["The image shows a man in a dark coat pausing at the front gate, looking up and down the street.",
          "In this dusky frame, the man bends down and scrawls a small white mark on the gatepost with a piece of chalk before moving on."],
         {"pose": pose("bending", "drawing"), "face": face(None, 0.41)})],
      iq=DUSK_IQ))

add(S("torchlight_into_cars", "suspicious", "vlm", "Torch shone into parked cars at 3am",
      "At 3:05 someone walks up the driveway and shines a torch through the windows of both parked cars.",
      (60, 84, "high", ["unknown_person", "night", "vehicle_interest", "driveway"]), "driveway", "2026-08-02T03:05:51-07:00",
      [T("person", 9, 5, [(0.5, 0.2, 0.04, 0.18), (0.35, 0.55, 0.06, 0.28), (0.65, 0.55, 0.06, 0.28)], 0.82,
         ["In this nighttime frame, a person in a dark beanie walks up the driveway from the lane.",
          "The image shows the person cupping a hand against the window of a silver sedan and sweeping a flashlight beam around its interior.",
          "The person moves to the second car and holds the light against the windscreen, peering at the dashboard and the seats."],
         {"clothing": {"upper": "dark jacket", "lower": "dark trousers", "face_covering": False}, "pose": pose("bending", "looking_into_car")}),
       T("car", 3, 15, [(0.35, 0.6, 0.25, 0.22), (0.35, 0.6, 0.25, 0.22)], 0.9, [], {"license_plate": {"text": "8BRT552", "confidence": 0.8}}),
       T("car", 3, 15, [(0.68, 0.62, 0.26, 0.22), (0.68, 0.62, 0.26, 0.22)], 0.9, [], {"license_plate": {"text": "6YWA091", "confidence": 0.77}})],
      household={"known_faces": ["Carla"], "known_plates": ["8BRT552", "6YWA091"]},
      baseline={"sample_days": 45, "expected_per_hour": {"person": 0.02}}, iq=NIGHT_IQ))

add(S("trails_resident_home", "suspicious", "frigate_genai", "Man trails a resident to her door",
      "Evening: a resident walks home; a man who was behind her since the corner stops at the end of the drive and watches her go in.",
      (60, 84, "high", ["unknown_person", "following_resident", "evening"]), "street_view", "2026-12-02T18:48:09-05:00",
      [T("person", 6, 3, [(0.1, 0.7, 0.04, 0.19), (0.5, 0.88, 0.05, 0.22)], 0.88,
         ["A woman walks quickly along the sidewalk and turns up the path to the house, looking back over her shoulder."],
         {"face": face("Noor", 0.78)}),
       T("person", 8, 3, [(0.02, 0.7, 0.04, 0.19), (0.45, 0.7, 0.04, 0.19), (0.46, 0.7, 0.04, 0.19)], 0.85,
         ["A man in a dark parka keeps pace about twenty metres behind her, slows when she turns in, and stands at the edge of the lawn staring at the front door after it closes."],
         {"face": face(None, 0.35), "pose": pose("standing", "watching")}, at=3, dwell=0)],
      household={"known_faces": ["Noor", "Hassan"], "known_plates": []},
      cross=[{"camera_id": "doorbell", "camera_name": "Doorbell", "detected_at": "2026-12-02T18:48:30-05:00",
              "object_type": "person", "confidence": 0.9}], iq=DUSK_IQ))

add(S("still_figure_on_lawn_2am", "suspicious", "vlm", "Motionless stranger in the back garden",
      "At 2:10 an unknown person stands still in the middle of the back lawn, facing the house, for several minutes.",
      (60, 89, "high", ["unknown_person", "night", "trespass", "long_dwell"]), "back_garden", "2026-04-04T02:10:16+01:00",
      [T("person", 10, 20, [(0.55, 0.5, 0.05, 0.2), (0.56, 0.52, 0.05, 0.2)], 0.81,
         ["In this nighttime frame, a figure is standing on the lawn, facing the back of the house.",
          "The image shows the same person still standing motionless in the garden, arms at the sides, looking towards the upstairs windows.",
          "This grainy infrared frame shows the figure has not moved; it turns its head slowly towards the patio door."],
         {"face": face(None, 0.3), "pose": pose("standing", "staring")}, dwell=15)],
      household={"known_faces": ["Ben", "Ruth"], "known_plates": []},
      baseline={"sample_days": 60, "expected_per_hour": {"person": 0.0}}, iq=NIGHT_IQ))

add(S("drone_hovers_at_windows", "suspicious", "vlm", "Drone hovering at the bedroom windows",
      "Late evening: a small drone hovers level with the first-floor windows for two minutes, then flies off.",
      (30, 59, "medium", ["aerial_surveillance", "night", "upper_floor"]), "rear_elevation", "2026-07-25T22:37:44-04:00",
      [T("drone", 7, 15, [(0.3, 0.2, 0.05, 0.04), (0.55, 0.22, 0.05, 0.04), (0.9, 0.08, 0.04, 0.03)], 0.69,
         ["In this nighttime frame, a small quadcopter with a blinking red light hovers just outside an upstairs window.",
          "The image shows the drone drifting slowly from one bedroom window to the next, its camera pointing into the house.",
          "The drone climbs away over the roof."], dwell=0)],
      iq=NIGHT_IQ))

add(S("hivis_without_van_tests_gate", "suspicious", "frigate_genai", "Unbadged 'workman' tests the side gate",
      "Late morning: a man in a plain hi-vis vest, no van or badge in sight, walks down the side of the house looking up at windows and tries the side gate latch.",
      (55, 84, "high", ["unknown_person", "entry_point", "pretext"]), "side_passage", "2026-06-10T11:18:03+01:00",
      [T("person", 7, 4, [(0.15, 0.75, 0.1, 0.45), (0.5, 0.6, 0.14, 0.55), (0.2, 0.75, 0.1, 0.45)], 0.87,
         ["A man in a hi-vis vest with no logo walks into the side passage, looks up at the upstairs windows, rattles the side gate latch and pushes on the gate, then walks back out when it does not open."],
         {"vision": V(None, uniform="plain hi-vis vest", carrying="clipboard"), "pose": pose("standing", "trying_gate"),
          "face": face(None, 0.52)})],
      household={"known_faces": ["Gwen"], "known_plates": []},
      baseline={"sample_days": 30, "expected_per_hour": {"person": 0.05}}))

add(S("van_occupant_with_binoculars", "suspicious", "vlm", "Watcher in a parked van",
      "A van parks across the road for forty minutes; the driver watches the house through binoculars.",
      (55, 84, "high", ["unknown_vehicle", "surveillance_of_property", "long_dwell"]), "street_view", "2026-10-13T15:05:30-04:00",
      [T("truck", 6, 400, [(0.6, 0.42, 0.24, 0.16), (0.6, 0.42, 0.24, 0.16)], 0.9,
         ["The image shows a dark panel van parked on the far side of the street with the engine running.",
          "In this frame, the driver of the parked van holds a pair of binoculars to his eyes, pointed at the house.",
          "The van is still parked; the man lowers the binoculars and writes on a pad on the steering wheel."],
         {"vehicle": {"type": "van", "color": "dark grey", "damage": False}, "license_plate": {"text": "HNX 4920", "confidence": 0.71}},
         dwell=60)],
      household={"known_faces": ["Irene"], "known_plates": ["JKR1187"]},
      baseline={"sample_days": 30, "expected_per_hour": {"car": 3.0, "truck": 0.3}}))

add(S("knocks_then_goes_round_back", "suspicious", "vlm", "Knocks, gets no answer, goes round the back",
      "Early afternoon: a stranger knocks at the front, waits, then walks through the side passage into the back garden.",
      (60, 84, "high", ["unknown_person", "entry_point", "back_garden"]), "side_passage", "2026-01-21T13:31:19-05:00",
      [T("person", 8, 5, [(0.1, 0.8, 0.1, 0.4), (0.52, 0.55, 0.14, 0.55), (0.6, 0.35, 0.08, 0.35)], 0.86,
         ["The image shows a young man in a grey hoodie coming round the corner of the house from the front door.",
          "In this frame, he reaches over the side gate, flips the bolt and slips through into the back garden.",
          "The gate swings shut behind him; he is no longer visible in the passage."],
         {"clothing": {"upper": "grey hoodie", "lower": "tracksuit bottoms", "face_covering": False}, "pose": pose("reaching", "opening_gate")})],
      household={"known_faces": ["Leon", "Aisha"], "known_plates": []},
      cross=[{"camera_id": "doorbell", "camera_name": "Doorbell", "detected_at": "2026-01-21T13:29:40-05:00",
              "object_type": "person", "confidence": 0.91}],
      baseline={"sample_days": 30, "expected_per_hour": {"person": 0.02}}))

add(S("ducks_behind_car_from_headlights", "suspicious", "frigate_genai", "Ducks out of sight of passing cars",
      "23:52: a person on the footway crouches behind a parked car each time headlights pass, watching the house in between.",
      (60, 84, "high", ["unknown_person", "night", "concealment"]), "driveway", "2026-03-27T23:52:08-07:00",
      [T("person", 9, 8, [(0.3, 0.24, 0.035, 0.14), (0.32, 0.27, 0.04, 0.1), (0.31, 0.24, 0.035, 0.14)], 0.77,
         ["A person in dark clothes crouches down behind a parked car on the footway whenever a car drives past, then stands back up and looks towards the house and the garage."],
         {"pose": pose("crouching", "hiding"), "clothing": {"upper": "black jacket", "lower": "dark jeans", "face_covering": False}}, dwell=30),
       T("car", 2, 30, [(0.2, 0.08, 0.15, 0.1), (0.8, 0.08, 0.15, 0.1)], 0.83, [], at=10)],
      iq=NIGHT_IQ, baseline={"sample_days": 30, "expected_per_hour": {"person": 0.1, "car": 1.5}}))

add(S("studies_camera_then_hood_up", "suspicious", "vlm", "Checks the camera and motion light",
      "At 1:15 someone walks to the porch, waves at the motion light, stares up at the camera and pulls a hood up.",
      (60, 84, "high", ["unknown_person", "night", "entry_point", "camera_awareness"]), "front_door", "2026-10-18T01:15:37-05:00",
      [T("person", 7, 4, [(0.4, 0.36, 0.05, 0.22), (0.5, 0.66, 0.09, 0.42), (0.3, 0.36, 0.05, 0.22)], 0.84,
         ["In this nighttime frame, a man steps onto the porch and waves an arm slowly in front of the porch light, watching whether it switches on.",
          "The image shows the man looking straight up into the camera lens, then pulling the hood of his jacket up over his head.",
          "The man backs off the porch and walks away along the pavement, keeping his face turned down."],
         {"pose": pose("standing", "looking_at_camera"), "face": face(None, 0.47)})],
      household={"known_faces": ["Zoe", "Martin"], "known_plates": []}, iq=NIGHT_IQ,
      baseline={"sample_days": 30, "expected_per_hour": {"person": 0.03}}))

# ======================= THREATS ==================================================================

add(S("shed_padlock_snipped", "threats", "vlm", "Shed padlock cut, tools carried off",
      "At 3:10 two people cut the shed padlock with bolt cutters and carry out power tools and a bike.",
      (60, 89, "high", ["forced_entry", "theft", "night", "unknown_person"]), "back_garden", "2026-09-28T03:10:44+01:00",
      [T("person", 6, 8, [(0.15, 0.3, 0.05, 0.18), (0.86, 0.45, 0.05, 0.2), (0.15, 0.3, 0.05, 0.18)], 0.83,
         ["In this nighttime frame, two people climb over the rear fence and head straight for the shed.",
          "The image shows one of them squeezing long-handled bolt cutters on the shed padlock while the other holds a small light.",
          "The pair walk out of the shed carrying a mitre saw and a cordless drill case and pass them over the fence."],
         {"pose": pose("standing", "cutting_lock"), "clothing": {"upper": "black hoodie", "lower": "dark trousers", "face_covering": True}}),
       T("person", 5, 9, [(0.18, 0.3, 0.05, 0.18), (0.9, 0.46, 0.05, 0.2), (0.18, 0.3, 0.05, 0.18)], 0.79, [],
         {"clothing": {"upper": "dark puffer jacket", "lower": "jeans", "face_covering": True}}, at=2),
       T("bicycle", 3, 6, [(0.85, 0.5, 0.07, 0.08), (0.3, 0.35, 0.07, 0.08)], 0.65, [], at=30)],
      household={"known_faces": ["Callum"], "known_plates": []}, iq=NIGHT_IQ,
      baseline={"sample_days": 60, "expected_per_hour": {"person": 0.0}}))

add(S("patio_pane_shattered", "threats", "frigate_genai", "Patio door glass smashed, intruder enters",
      "At 1:20 a man smashes the patio door glass with a paving stone and climbs inside.",
      (85, 100, "critical", ["forced_entry", "night", "entry_point", "unknown_person"]), "back_garden", "2026-02-14T01:20:05-06:00",
      [T("person", 8, 3, [(0.5, 0.45, 0.05, 0.2), (0.5, 0.85, 0.1, 0.3), (0.52, 0.95, 0.08, 0.1)], 0.84,
         ["A man in a dark hood crosses the lawn, picks up a paving slab from the border, hurls it through the glass of the patio door, knocks out the remaining shards with his elbow and climbs into the house."],
         {"pose": pose("throwing", "breaking_glass"), "clothing": {"upper": "dark hooded top", "lower": "dark trousers", "face_covering": True}})],
      household={"known_faces": ["Lotte", "Kees"], "known_plates": []}, iq=NIGHT_IQ))

add(S("porch_bike_lock_cut", "threats", "vlm", "Bike taken from the porch",
      "Mid-afternoon: a stranger snips the cable lock on a bike chained to the porch rail and rides away on it.",
      (60, 84, "high", ["theft", "unknown_person", "daytime", "entry_point"]), "front_door", "2026-05-12T15:44:30-07:00",
      [T("person", 6, 4, [(0.3, 0.36, 0.05, 0.22), (0.45, 0.7, 0.09, 0.4), (0.9, 0.35, 0.05, 0.2)], 0.87,
         ["The image shows a young man in a baseball cap walking onto the porch and kneeling beside a bicycle locked to the railing.",
          "In this frame, he cuts through the cable lock with a small pair of cutters from his pocket and looks over his shoulder.",
          "The man wheels the bicycle off the porch, jumps on and pedals off down the street."],
         {"pose": pose("kneeling", "cutting_lock"), "face": face(None, 0.5)}),
       T("bicycle", 6, 4, [(0.46, 0.75, 0.1, 0.16), (0.46, 0.75, 0.1, 0.16), (0.9, 0.36, 0.06, 0.1)], 0.8, [])],
      household={"known_faces": ["Theo", "Ana"], "known_plates": []}))

add(S("parcel_snatched_under_coat", "threats", "frigate_genai", "Parcel stolen from the doorstep",
      "A woman walks up, takes a delivered parcel from the step, tucks it under her coat and hurries off.",
      (55, 84, "high", ["theft", "unknown_person", "package", "daytime"]), "doorbell", "2026-12-09T12:26:53-05:00",
      [T("package", 3, 4, [(0.42, 0.86, 0.12, 0.1), (0.42, 0.86, 0.12, 0.1)], 0.82, []),
       T("person", 6, 3, [(0.3, 0.12, 0.08, 0.22), (0.45, 0.62, 0.28, 0.7), (0.8, 0.1, 0.08, 0.2)], 0.86,
         ["A woman in a long coat walks straight to the door without knocking, scoops up the box on the step, pushes it inside her coat and walks briskly back to a waiting car."],
         {"face": face(None, 0.58), "pose": pose("bending", "picking_up")}, at=2)],
      household={"known_faces": ["Yusuf"], "known_plates": []},
      cross=[{"camera_id": "street_view", "camera_name": "Street", "detected_at": "2026-12-09T12:26:30-05:00",
              "object_type": "car", "confidence": 0.88}]))

add(S("car_window_broken_bag_taken", "threats", "vlm", "Car window smashed on the driveway",
      "At 3:30 someone breaks the passenger window of the household car and grabs a bag from the seat.",
      (65, 89, "high", ["theft_from_vehicle", "night", "property_damage", "unknown_person"]), "driveway", "2026-07-04T03:30:12-05:00",
      [T("person", 7, 3, [(0.5, 0.22, 0.04, 0.16), (0.62, 0.55, 0.07, 0.3), (0.95, 0.3, 0.05, 0.2)], 0.83,
         ["In this nighttime frame, a hooded person walks quickly up the driveway towards a parked white SUV.",
          "The image shows the person striking the passenger window with something small and hard; glass sprays onto the driveway.",
          "The person reaches through the broken window, pulls out a backpack and runs off towards the lane."],
         {"pose": pose("reaching", "breaking_window"), "clothing": {"upper": "hoodie", "lower": "dark jeans", "face_covering": True}}),
       T("car", 4, 5, [(0.58, 0.6, 0.3, 0.3), (0.58, 0.6, 0.3, 0.3)], 0.91, [],
         {"license_plate": {"text": "PRD 7730", "confidence": 0.83}, "vehicle": {"type": "suv", "color": "white", "damage": True}}),
       T("backpack", 2, 3, [(0.64, 0.6, 0.04, 0.05), (0.9, 0.35, 0.03, 0.04)], 0.6, [], at=12)],
      household={"known_faces": ["Grace"], "known_plates": ["PRD7730"]}, iq=NIGHT_IQ))

add(S("exhaust_part_sawn_off", "threats", "frigate_genai", "Catalytic converter sawn off",
      "At 4:15 a man slides under the household car with a battery saw while a second waits in a car in the lane.",
      (65, 89, "high", ["theft_from_vehicle", "night", "unknown_person"]), "driveway", "2026-11-25T04:15:38-08:00",
      [T("person", 7, 9, [(0.5, 0.4, 0.05, 0.2), (0.5, 0.7, 0.18, 0.08), (0.5, 0.3, 0.05, 0.2)], 0.78,
         ["A man lies on his back and slides underneath the parked hybrid with a reciprocating saw; sparks flash under the car for about a minute, then he crawls out holding a metal part and runs to a waiting car in the lane."],
         {"pose": pose("lying", "working_under_vehicle"), "clothing": {"upper": "dark work jacket", "lower": "dark trousers", "face_covering": True}}),
       T("car", 4, 15, [(0.5, 0.65, 0.35, 0.3), (0.5, 0.65, 0.35, 0.3)], 0.9, [],
         {"license_plate": {"text": "9DFH334", "confidence": 0.86}}),
       T("car", 3, 20, [(0.7, 0.09, 0.2, 0.1), (0.7, 0.09, 0.2, 0.1)], 0.84, [], {"vehicle": {"type": "sedan", "color": "black", "damage": False}})],
      household={"known_faces": ["Omar"], "known_plates": ["9DFH334"]}, iq=NIGHT_IQ))

add(S("bin_doused_and_lit", "threats", "vlm", "Wheelie bin set alight against the house",
      "At 2:05 a person pours liquid over the wheelie bin next to the garage wall and sets it on fire.",
      (85, 100, "critical", ["arson", "fire", "night", "unknown_person"]), "driveway", "2026-06-21T02:05:50+01:00",
      [T("person", 5, 4, [(0.2, 0.3, 0.04, 0.18), (0.12, 0.55, 0.06, 0.25), (0.4, 0.2, 0.04, 0.16)], 0.8,
         ["In this nighttime frame, a person in a dark tracksuit walks up to the bins by the garage holding a plastic bottle.",
          "The image shows the person splashing liquid from the bottle over a wheelie bin against the house wall and striking a lighter.",
          "The person runs off down the driveway as flames catch on the bin."],
         {"pose": pose("bending", "pouring")}),
       T("fire", 5, 6, [(0.1, 0.55, 0.05, 0.1), (0.1, 0.45, 0.09, 0.3)], 0.74,
         ["The image shows a burning wheelie bin pressed against the garage wall, flames climbing up the brickwork towards the eaves."], at=12),
       T("smoke", 3, 8, [(0.12, 0.3, 0.1, 0.2), (0.15, 0.2, 0.16, 0.3)], 0.66, [], at=20)],
      iq=NIGHT_IQ))

add(S("man_kicked_on_pavement", "threats", "vlm", "Assault in the street",
      "23:10: two men knock a passer-by to the ground on the sidewalk and kick him repeatedly.",
      (85, 100, "critical", ["assault", "violence", "night", "public_street"]), "street_view", "2026-09-19T23:10:27-04:00",
      [T("person", 5, 2, [(0.4, 0.7, 0.04, 0.19), (0.45, 0.76, 0.1, 0.06)], 0.84,
         ["In this nighttime frame, two men shove a man walking along the sidewalk and he falls to the ground.",
          "The image shows a man curled up on the pavement covering his head while two others kick and stamp on him.",
          "One of the attackers leans down and pulls a wallet from the fallen man's pocket before both run into the road."],
         {"pose": pose("lying", None)}),
       T("person", 5, 2, [(0.36, 0.7, 0.04, 0.19), (0.6, 0.5, 0.04, 0.16)], 0.82, [],
         {"pose": pose("standing", "kicking"), "violence": flag(True, 0.83)}),
       T("person", 5, 2, [(0.48, 0.7, 0.04, 0.19), (0.7, 0.48, 0.04, 0.16)], 0.81, [],
         {"pose": pose("standing", "kicking"), "violence": flag(True, 0.79)})],
      iq=NIGHT_IQ))

add(S("doorstep_knife_push_in", "threats", "flags", "Robbery at the front door",
      "Evening: a caller pulls a knife when the resident opens the door and forces his way inside.",
      (90, 100, "critical", ["weapon", "violence", "entry_point", "known_person_at_risk"]), "doorbell", "2026-03-06T20:14:31-06:00",
      [T("person", 6, 2, [(0.5, 0.55, 0.26, 0.66), (0.5, 0.7, 0.36, 0.6)], 0.9, [],
         {"weapon": weapon(True, "knife", 0.88), "violence": flag(True, 0.81), "face": face(None, 0.4),
          "clothing": {"upper": "black jacket", "lower": "jeans", "face_covering": True}, "pose": pose("lunging", "pushing")}),
       T("person", 4, 2, [(0.52, 0.75, 0.3, 0.5), (0.55, 0.85, 0.3, 0.3)], 0.78, [],
         {"face": face("Bruno", 0.71), "violence": flag(True, 0.76), "pose": pose("falling", None)}, at=2)],
      household={"known_faces": ["Bruno", "Celine"], "known_plates": []}, iq=DUSK_IQ))

add(S("keyed_car_and_tagged_door", "threats", "frigate_genai", "Car scratched and garage door sprayed",
      "At 1:40 two youths scratch down the side of the car with a key and spray-paint the garage door.",
      (60, 84, "high", ["vandalism", "property_damage", "night", "unknown_person"]), "garage_front", "2026-05-02T01:40:15+02:00",
      [T("person", 6, 6, [(0.1, 0.75, 0.06, 0.3), (0.45, 0.7, 0.07, 0.32), (0.9, 0.75, 0.06, 0.3)], 0.82,
         ["A youth walks the length of the parked car dragging a key along the paintwork, while another shakes a spray can and sprays large letters across the garage door; both run off laughing."],
         {"pose": pose("walking", "scratching_car")}),
       T("person", 5, 6, [(0.4, 0.45, 0.07, 0.35), (0.6, 0.45, 0.07, 0.35)], 0.8, [], {"pose": pose("standing", "spray_painting")}, at=3),
       T("car", 3, 10, [(0.5, 0.8, 0.5, 0.3), (0.5, 0.8, 0.5, 0.3)], 0.9, [],
         {"license_plate": {"text": "M-TJ 802", "confidence": 0.8}, "vehicle": {"type": "sedan", "color": "red", "damage": True}})],
      household={"known_faces": ["Jana"], "known_plates": ["MTJ802"]}, iq=NIGHT_IQ))

add(S("lens_blacked_out", "threats", "flags", "Camera covered by spray paint",
      "At 2:55 a masked person reaches up to the garage camera and the picture goes black.",
      (65, 89, "high", ["tampering", "night", "unknown_person", "face_covered"]), "garage_front", "2026-08-20T02:55:09-04:00",
      [T("person", 5, 2, [(0.5, 0.7, 0.1, 0.5), (0.52, 0.5, 0.2, 0.9)], 0.8, [],
         {"clothing": {"upper": "black hoodie", "lower": "black trousers", "face_covering": True},
          "pose": pose("reaching_up", "covering_camera"), "image_quality": {"blur": 0.2, "brightness": 0.2, "tampering": False}},
         per_frame={3: {"image_quality": {"blur": 0.7, "brightness": 0.08, "tampering": True}},
                    4: {"image_quality": {"blur": 0.9, "brightness": 0.02, "tampering": True}}}),
       T("unknown", 3, 5, [(0.5, 0.5, 0.9, 0.9), (0.5, 0.5, 0.9, 0.9)], 0.55, [],
         {"image_quality": {"blur": 0.95, "brightness": 0.01, "tampering": True}}, at=10)],
      household={"known_faces": ["Sven"], "known_plates": []}))

add(S("ladder_to_bedroom_window", "threats", "vlm", "Ladder raised to an upstairs window at night",
      "At 2:20 a man carries a ladder from the neighbouring garden, raises it to a bedroom window and starts prising the frame.",
      (85, 100, "critical", ["forced_entry", "night", "upper_floor", "unknown_person"]), "rear_elevation", "2026-01-17T02:20:48+11:00",
      [T("ladder", 4, 15, [(0.1, 0.85, 0.2, 0.06), (0.42, 0.5, 0.07, 0.65)], 0.71,
         ["In this nighttime frame, an aluminium ladder is being carried across the terrace."]),
       T("person", 9, 8, [(0.1, 0.85, 0.06, 0.25), (0.42, 0.55, 0.06, 0.25), (0.42, 0.22, 0.06, 0.22)], 0.8,
         ["The image shows a man in gloves dragging a ladder across the terrace and propping it under a first-floor window.",
          "In this frame, the man is halfway up the ladder with a flat bar tucked into his belt.",
          "The man at the top of the ladder wedges a bar into the window frame and levers it while looking down at the garden."],
         {"pose": pose("climbing", "prying_window"), "clothing": {"upper": "dark jacket", "lower": "dark trousers", "face_covering": False}})],
      household={"known_faces": ["Kylie", "Josh"], "known_plates": []}, iq=NIGHT_IQ,
      baseline={"sample_days": 60, "expected_per_hour": {"person": 0.0}}))

add(S("dog_lured_into_car", "threats", "frigate_genai", "Family dog lured through the gate and taken",
      "Early afternoon: a man tempts the family dog to the front gate with food, lifts it over and drives off with it.",
      (65, 89, "high", ["theft", "pet", "unknown_person", "daytime"]), "street_view", "2026-07-29T13:12:55-05:00",
      [T("dog", 4, 4, [(0.5, 0.9, 0.06, 0.08), (0.5, 0.78, 0.06, 0.08), (0.7, 0.5, 0.05, 0.06)], 0.85, [], {"pet": {"type": "dog"}}),
       T("person", 6, 3, [(0.3, 0.7, 0.05, 0.2), (0.5, 0.7, 0.05, 0.22), (0.7, 0.48, 0.05, 0.2)], 0.87,
         ["A man crouches at the front gate holding out food to the dog, looks up and down the street, hoists the dog over the gate and carries it to a silver hatchback idling at the kerb, which drives off."],
         {"face": face(None, 0.55), "pose": pose("crouching", "luring_animal")}, at=1),
       T("car", 4, 4, [(0.72, 0.45, 0.2, 0.12), (0.95, 0.45, 0.1, 0.1)], 0.88, [], {"vehicle": {"type": "hatchback", "color": "silver", "damage": False}}, at=8)],
      household={"known_faces": ["Mei"], "known_plates": []}))

add(S("tools_lifted_from_pickup", "threats", "vlm", "Power tools taken from the pickup bed",
      "At 5:05 someone climbs onto the household pickup and lifts tool cases out of the bed.",
      (60, 84, "high", ["theft_from_vehicle", "night", "unknown_person"]), "driveway", "2026-04-16T05:05:21-05:00",
      [T("person", 7, 5, [(0.3, 0.25, 0.04, 0.16), (0.6, 0.55, 0.06, 0.28), (0.35, 0.22, 0.04, 0.16)], 0.82,
         ["In this predawn frame, a man in a baseball cap walks up the driveway to a pickup truck parked by the garage.",
          "The image shows the man standing on the rear bumper, unclipping the tonneau cover and hauling a heavy tool case out of the truck bed.",
          "The man carries two yellow tool cases down the driveway and puts them into the boot of a car in the lane."],
         {"pose": pose("climbing", "lifting")}),
       T("truck", 4, 8, [(0.6, 0.6, 0.34, 0.3), (0.6, 0.6, 0.34, 0.3)], 0.9, [],
         {"license_plate": {"text": "TRD 5561", "confidence": 0.85}, "vehicle": {"type": "pickup", "color": "black", "damage": False}})],
      household={"known_faces": ["Wade"], "known_plates": ["TRD5561"]}, iq=NIGHT_IQ))

add(S("three_masked_with_crowbar", "threats", "flags", "Three masked people at the front door with a crowbar",
      "At 3:00 three masked people approach the front door; one carries a crowbar and wedges it into the door frame.",
      (90, 100, "critical", ["weapon", "forced_entry", "night", "group", "face_covered"]), "front_door", "2026-12-20T03:00:02-05:00",
      [T("person", 5, 3, [(0.4, 0.36, 0.05, 0.22), (0.5, 0.7, 0.09, 0.42)], 0.86, [],
         {"weapon": weapon(True, "crowbar", 0.79), "clothing": {"upper": "black jacket", "lower": "black trousers", "face_covering": True},
          "pose": pose("standing", "forcing_door"), "violence": flag(False, 0.2)}),
       T("person", 4, 4, [(0.36, 0.36, 0.05, 0.22), (0.42, 0.66, 0.08, 0.4)], 0.83, [],
         {"clothing": {"upper": "dark hoodie", "lower": "jeans", "face_covering": True}, "pose": pose("standing", "lookout")}),
       T("person", 3, 5, [(0.44, 0.36, 0.05, 0.22), (0.6, 0.66, 0.08, 0.4)], 0.81, [],
         {"clothing": {"upper": "dark hoodie", "lower": "jeans", "face_covering": True}}),
       T("crowbar", 3, 3, [(0.52, 0.6, 0.02, 0.12), (0.55, 0.6, 0.02, 0.12)], 0.62, [], at=6)],
      household={"known_faces": ["Rachel", "Dan"], "known_plates": []}, iq=NIGHT_IQ,
      baseline={"sample_days": 60, "expected_per_hour": {"person": 0.01}}))

add(S("gunpoint_carjacking", "threats", "flags", "Carjacking at gunpoint on the driveway",
      "21:35: as a resident gets out of her car, a man points a handgun at her and drives the car away.",
      (90, 100, "critical", ["weapon", "violence", "known_person_at_risk", "vehicle_theft"]), "driveway", "2026-10-28T21:35:44-04:00",
      [T("person", 4, 3, [(0.45, 0.6, 0.06, 0.28), (0.3, 0.7, 0.06, 0.28)], 0.84, [],
         {"face": face("Tamsin", 0.8), "pose": pose("hands_raised", "backing_away"), "violence": flag(True, 0.64)}),
       T("person", 5, 3, [(0.2, 0.3, 0.04, 0.18), (0.5, 0.58, 0.06, 0.28)], 0.86, [],
         {"weapon": weapon(True, "handgun", 0.86), "violence": flag(True, 0.77), "face": face(None, 0.3),
          "clothing": {"upper": "dark hoodie", "lower": "dark jeans", "face_covering": True}, "pose": pose("standing", "aiming_weapon")}),
       T("car", 5, 3, [(0.5, 0.6, 0.4, 0.35), (0.5, 0.1, 0.2, 0.12)], 0.92, [],
         {"license_plate": {"text": "KVW 2281", "confidence": 0.86}}, at=6)],
      household={"known_faces": ["Tamsin", "Ollie"], "known_plates": ["KVW2281"]}, iq=NIGHT_IQ))

add(S("mailbox_cleared_out", "threats", "vlm", "Mail stolen from the mailbox",
      "Late morning: a man opens the curbside mailbox, stuffs the letters into a backpack and moves on to the next house.",
      (55, 84, "high", ["theft", "unknown_person", "daytime"]), "street_view", "2026-02-03T11:48:16-07:00",
      [T("person", 6, 4, [(0.2, 0.7, 0.05, 0.2), (0.4, 0.72, 0.05, 0.22), (0.85, 0.7, 0.05, 0.2)], 0.86,
         ["The image shows a man with a backpack stopping at the mailbox at the end of the front lawn and pulling its door open.",
          "In this frame, the man pulls out a handful of envelopes, flicks through them and shoves them into his backpack.",
          "The man shuts the mailbox and walks to the neighbour's mailbox, glancing around."],
         {"pose": pose("standing", "taking_mail"), "face": face(None, 0.5)})],
      household={"known_faces": ["Lucia"], "known_plates": []},
      baseline={"sample_days": 30, "expected_per_hour": {"person": 0.9}}))

add(S("garden_furniture_into_van", "threats", "frigate_genai", "Garden furniture loaded into a van",
      "At 4:30 two men carry the garden bench and the large planters out through the side gate to a van.",
      (60, 84, "high", ["theft", "night", "unknown_person", "group"]), "side_passage", "2026-08-08T04:30:27+01:00",
      [T("person", 6, 8, [(0.3, 0.8, 0.12, 0.45), (0.52, 0.5, 0.1, 0.42), (0.3, 0.8, 0.12, 0.45)], 0.8,
         ["Two men walk in through the side gate, come back carrying a wooden garden bench between them, load it into a white van in the road and return for two stone planters."],
         {"pose": pose("walking", "carrying"), "clothing": {"upper": "work jacket", "lower": "jeans", "face_covering": False}}),
       T("person", 6, 8, [(0.36, 0.8, 0.12, 0.45), (0.58, 0.5, 0.1, 0.42), (0.36, 0.8, 0.12, 0.45)], 0.78, [], {"pose": pose("walking", "carrying")}, at=1),
       T("bench", 3, 6, [(0.45, 0.7, 0.2, 0.12), (0.5, 0.55, 0.16, 0.1)], 0.58, [], at=12)],
      household={"known_faces": ["Imogen"], "known_plates": []}, iq=NIGHT_IQ,
      baseline={"sample_days": 30, "expected_per_hour": {"person": 0.0}}))

# --------------------------------------------------------------------------------------------------
# Writer
# --------------------------------------------------------------------------------------------------


def lerp_path(path: list[tuple[float, float, float, float]], t: float) -> tuple[float, ...]:
    if len(path) == 1:
        return path[0]
    seg = min(int(t * (len(path) - 1)), len(path) - 2)
    local = t * (len(path) - 1) - seg
    a, b = path[seg], path[seg + 1]
    return tuple(a[i] + (b[i] - a[i]) * local for i in range(4))


def pixel_box(c: tuple[float, ...], fw: int, fh: int) -> dict:
    cx, cy, w, h = c
    width = max(4.0, min(w * fw, fw - 1.0))
    height = max(4.0, min(h * fh, fh - 1.0))
    x = min(max(cx * fw - width / 2, 0.0), fw - width)
    y = min(max(cy * fh - height / 2, 0.0), fh - height)
    return {"x": round(x, 1), "y": round(y, 1), "width": round(width, 1), "height": round(height, 1)}


def merge(base: dict, extra: dict) -> dict:
    out = json.loads(json.dumps(base))
    for key, value in extra.items():
        out[key] = json.loads(json.dumps(value))
    return out


def build_detections(scene: dict) -> dict:
    cam = CAMERAS[scene["cam"]]
    fw, fh = cam["camera"]["frame_width"], cam["camera"]["frame_height"]
    start = datetime.fromisoformat(scene["start"])
    rows = []
    for k, track in enumerate(scene["tracks"]):
        tid = track["tid"] if track["tid"] is not None else 11 + 7 * k + len(scene["id"]) % 5
        n = track["n"]
        for i in range(n):
            t = i / (n - 1) if n > 1 else 0.0
            enrichment = merge({}, track["enrich"])
            if scene["iq"] is not None and "image_quality" not in enrichment:
                enrichment["image_quality"] = dict(scene["iq"])
            if track["caps"]:
                vision = enrichment.get("vision") or {"attributes": {}}
                vision = {"caption": track["caps"][i * len(track["caps"]) // n], "attributes": dict(vision.get("attributes", {}))}
                if scene["attrs"]:
                    vision["attributes"].update(scene["attrs"])
                enrichment["vision"] = vision
            if track["dwell"] is not None:
                enrichment["dwell_seconds"] = round(track["dwell"] + i * track["step"], 1)
            enrichment = merge(enrichment, track["per_frame"].get(i, {}))
            conf = round(min(0.97, max(0.5, track["conf"] + JITTER[(i + k) % len(JITTER)])), 2)
            rows.append({
                "at": start + timedelta(seconds=track["at"] + i * track["step"]),
                "object_type": track["obj"],
                "confidence": conf,
                "bbox": pixel_box(lerp_path(track["path"], t), fw, fh),
                "track_id": tid,
                "enrichment": enrichment,
            })
    rows.sort(key=lambda r: (r["at"], r["track_id"]))
    detections = []
    for j, row in enumerate(rows, start=1):
        detections.append({
            "id": f"det_{j:03d}",
            "detected_at": row["at"].isoformat(),
            "object_type": row["object_type"],
            "confidence": row["confidence"],
            "bbox": row["bbox"],
            "track_id": row["track_id"],
            "enrichment": row["enrichment"],
        })
    out: dict = {"camera": dict(cam["camera"]), "zones": cam["zones"], "detections": detections}
    if scene["baseline"]:
        out["baseline"] = scene["baseline"]
    if scene["cross"]:
        out["cross_camera"] = scene["cross"]
    if scene["household"]:
        out["household"] = scene["household"]
    return out


def check(scene: dict, det: dict) -> None:
    lo, hi, level, _ = scene["label"]
    band = BANDS[level]
    assert scene["cat"] in CATEGORIES and scene["style"] in STYLES, scene["id"]
    assert 0 <= lo <= hi <= 100, scene["id"]
    assert lo <= band[1] and hi >= band[0], f"{scene['id']}: range {lo}-{hi} misses the {level} band"
    assert 3 <= len(det["detections"]) <= 15, f"{scene['id']}: {len(det['detections'])} detections"
    fw, fh = det["camera"]["frame_width"], det["camera"]["frame_height"]
    ids = [d["id"] for d in det["detections"]]
    assert len(ids) == len(set(ids)), scene["id"]
    for d in det["detections"]:
        b = d["bbox"]
        assert b["x"] >= 0 and b["y"] >= 0 and b["x"] + b["width"] <= fw and b["y"] + b["height"] <= fh, (scene["id"], b)
        assert 0.5 <= d["confidence"] <= 0.97, (scene["id"], d["confidence"])
        assert datetime.fromisoformat(d["detected_at"]).utcoffset() is not None


def main() -> None:
    ids = [s["id"] for s in SCENES]
    assert len(ids) == len(set(ids)), "duplicate scenario id"
    for cat in CATEGORIES:
        shutil.rmtree(HERE / cat, ignore_errors=True)
    for scene in SCENES:
        det = build_detections(scene)
        check(scene, det)
        lo, hi, level, factors = scene["label"]
        folder = HERE / scene["cat"] / scene["id"]
        folder.mkdir(parents=True)
        files = {
            "detections.json": det,
            "expected_labels.json": {"risk": {"min_score": lo, "max_score": hi, "level": level, "expected_factors": factors}},
            "scenario_spec.json": {"id": scene["id"], "category": scene["cat"], "name": scene["name"],
                                   "description": scene["desc"], "style": scene["style"]},
        }
        for name, payload in files.items():
            (folder / name).write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    counts: dict[tuple[str, str], int] = {}
    for scene in SCENES:
        key = (scene["cat"], scene["label"][2])
        counts[key] = counts.get(key, 0) + 1
    print(f"{len(SCENES)} scenarios:", ", ".join(f"{c}/{lvl} {n}" for (c, lvl), n in sorted(counts.items())))


if __name__ == "__main__":
    main()
