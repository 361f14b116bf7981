"""Summaries a home owner can trust: the model's text checked against the verdict, or one written from the
evidence.

The summary is what a home owner reads on their phone. It must agree with the final level and with what the
cameras saw, whatever wrote it. :func:`summary_problems` checks the model's text; any problem and the event
gets :func:`evidence_summary` instead, a plain-English account built from the facts: who, where, when, what
they did, and why this level. ``decided_by.summary`` records which (``llm`` or ``evidence``) and why.

Checks (each a class of failure seen from real models, not a list of phrases to ban):
- a level the text names ("low risk", "critical") must be the final level; reassurance ("safe", "all clear",
  "no threat", "nothing suspicious") is refused for a high or critical event;
- no instructions or chat markup (``<|im_start|>``, "ignore previous", "system:"): that is injected text;
- no run of :data:`COPY_WORDS` words copied from camera text (captions, OCR, attributes, names): camera
  text is untrusted data and an attacker writes it; a short quote is fine;
- no placeholder or schema text (``risk_score``, ``{``, "lorem", "string");
- complete sentences: a capital first letter, an end mark, :data:`MIN_WORDS` words or more, within
  :data:`backend.domain.llm_response.SUMMARY_MAX_LENGTH`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from backend.domain.llm_response import SUMMARY_MAX_LENGTH
from backend.domain.risk_levels import LEVEL_DESCRIPTIONS, LEVEL_ORDER, RiskLevel
from backend.services.context_enrichment import AnalysisContext
from backend.services.evidence_risk import PERSON_TYPES, VEHICLE_TYPES, EvidenceAssessment
from backend.services.semantic import TextReading
from backend.services.text_safety import sanitize_untrusted

COPY_WORDS = 6  # this many consecutive words of camera text is copying, not quoting
REPEAT_WORDS = 4  # the same four words twice in one summary is a model looping
MIN_WORDS = 4
ACTION_MIN_WORDS = 2
# Cosine similarity (all-MiniLM-L6-v2) below which a model's summary is about something else than the event's
# evidence summary. Measured 2026-11-30 on summaries written for two evidence summaries (a sidewalk pass-by, a
# night break-in at a garage): off-topic sentences 0.08-0.12 ("These are the actions you are not allowed to do."
# is what the embedded model wrote for a medium event in the demo), on-topic ones 0.32-0.75, terse ones
# ("Normal activity.", "Intruder at the garage.") 0.32 and 0.64. A rejected summary costs little: the event
# gets the evidence's own summary.
SUMMARY_RELEVANCE_MIN = 0.25
_LEVEL_SYNONYMS: dict[str, RiskLevel] = {
    "low": RiskLevel.LOW,
    "minimal": RiskLevel.LOW,
    "medium": RiskLevel.MEDIUM,
    "moderate": RiskLevel.MEDIUM,
    "elevated": RiskLevel.MEDIUM,
    "high": RiskLevel.HIGH,
    "critical": RiskLevel.CRITICAL,
    "severe": RiskLevel.CRITICAL,
    "extreme": RiskLevel.CRITICAL,
}
_LEVEL_CLAIM = re.compile(
    r"\b(?P<word>" + "|".join(_LEVEL_SYNONYMS) + r")\b[\s-]*(?:risk|threat|priority|level|danger|concern|alert)"
    r"|\b(?:risk|threat|priority|danger)(?:\s+level)?\s+(?:is\s+|of\s+|:\s*)?(?P<word2>"
    + "|".join(_LEVEL_SYNONYMS)
    + r")\b",
    re.IGNORECASE,
)
_BARE_LEVEL = re.compile(r"^\W*(?P<word>" + "|".join(_LEVEL_SYNONYMS) + r")\b", re.IGNORECASE)
_REASSURANCE = re.compile(
    r"\b(all clear|no (?:threat|danger|risk|concern|cause for concern|suspicious)|nothing (?:suspicious|to worry)"
    r"|not (?:a |an )?(?:serious |real |significant )?(?:threat|danger|risk|concern)|not (?:high|serious) enough"
    r"|(?:is|are|looks|appears|seems) (?:safe|fine|normal|harmless|benign)|owner is home|false alarm)\b",
    re.IGNORECASE,
)
_INSTRUCTION = re.compile(
    r"<\||\|>|<\s*/?\s*(?:think|system|user|assistant|s)\s*>"
    r"|\b(?:ignore|disregard) (?:all |the )?(?:previous|prior|above)"
    r"|\b(?:system|assistant|user)\s*:|\byou (?:are|must|should) (?:now )?(?:a|an|the)?\s*(?:ai|assistant|model)\b",
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile(
    r"[{}\[\]<>]|\brisk_(?:score|level)\b|\bsummary\b\s*:|\blorem\b|\bstring\b|\bTODO\b|\bN/?A\b|\.\.\.|…$"
    r"|\bexample\b|\bplaceholder\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[a-z0-9']+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def camera_texts(ctx: AnalysisContext) -> list[str]:
    """Every free text the cameras supplied for this batch (untrusted): captions, OCR, attribute values,
    clothing, pose strings, plate text, face names."""
    texts: list[str] = []
    for f in ctx.detections:
        e = f.detection.enrichment
        if e.vision:
            texts += [e.vision.caption or "", *e.vision.attributes.values()]
        texts += e.ocr_text
        if e.pose:
            texts += [e.pose.action or "", e.pose.posture or ""]
        if e.clothing:
            texts += [e.clothing.upper or "", e.clothing.lower or ""]
        if e.license_plate:
            texts.append(e.license_plate.text)
        if e.face and e.face.matched_name:
            texts.append(e.face.matched_name)
    return [t for t in texts if t]


def _repeats(text: str) -> bool:
    """A run of REPEAT_WORDS words said twice: a small model looping, not a summary."""
    words = _words(text)
    grams = [tuple(words[i : i + REPEAT_WORDS]) for i in range(len(words) - REPEAT_WORDS + 1)]
    return len(grams) != len(set(grams))


def evidence_numbers(ctx: AnalysisContext, score: int) -> set[int]:
    """The numbers a summary may state: counts of detections, objects and tracks, the duration in seconds and
    minutes, the hours and minutes of the detections' local times, the final score."""
    numbers = {len(ctx.detections), score, round(ctx.duration_s), round(ctx.duration_s / 60)}
    numbers |= set(ctx.counts_by_type.values())
    for f in ctx.detections:
        local = f.detection.detected_at
        numbers |= {local.hour, local.minute, local.hour % 12 or 12}
        if f.detection.enrichment.dwell_seconds is not None:
            numbers |= {round(f.detection.enrichment.dwell_seconds), round(f.detection.enrichment.dwell_seconds / 60)}
    tracks = {
        (f.detection.object_type, f.detection.track_id) for f in ctx.detections if f.detection.track_id is not None
    }
    numbers |= {len(tracks)} | {sum(1 for t in tracks if t[0] == kind) for kind in ctx.counts_by_type}
    return numbers


_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*%?(?![\w])")


def _unsupported_numbers(text: str, numbers: set[int]) -> list[str]:
    """Numbers in ``text`` the evidence does not hold: integers not in ``numbers`` (0 and 1 are always fine),
    and any decimal, percentage or dotted run ("15.75%", "1.5.2024"): the evidence states none."""
    found = []
    for match in _NUMBER.finditer(text.rstrip(".!?")):
        token = match.group(0)
        if token.isdigit():
            if int(token) not in numbers and int(token) > 1:
                found.append(token)
        else:
            found.append(token)
    return found


def _copied(summary: str, sources: Iterable[str]) -> bool:
    words = _words(summary)
    grams = {tuple(words[i : i + COPY_WORDS]) for i in range(len(words) - COPY_WORDS + 1)}
    if not grams:
        return False
    for source in sources:
        theirs = _words(source)
        if any(tuple(theirs[i : i + COPY_WORDS]) in grams for i in range(len(theirs) - COPY_WORDS + 1)):
            return True
    return False


def _text_problems(
    text: str, camera_text: Iterable[str], numbers: set[int] | None, instructions: Iterable[str]
) -> list[str]:
    """The checks a summary and a recommended action share: chat markup or instructions, looping, numbers the
    evidence does not hold (when ``numbers`` is given), copied camera text, echoed instructions, placeholders."""
    problems: list[str] = []
    if _INSTRUCTION.search(text):
        problems.append("contains instructions or chat markup")
    if _repeats(text):
        problems.append("repeats itself")
    if numbers is not None and (unsupported := _unsupported_numbers(text, numbers)):
        problems.append(f"states numbers the evidence does not hold ({', '.join(unsupported[:3])})")
    if _copied(text, camera_text):
        problems.append(f"copies {COPY_WORDS}+ words of camera text")
    if _copied(text, instructions):
        problems.append(f"repeats {COPY_WORDS}+ words of its instructions")
    if _PLACEHOLDER.search(text):
        problems.append("contains placeholder or schema text")
    return problems


def summary_problems(
    summary: str,
    level: RiskLevel | str,
    camera_text: Iterable[str],
    reading: TextReading | None = None,
    found: Iterable[str] = (),
    numbers: set[int] | None = None,
    instructions: Iterable[str] = (),
    relevance: float | None = None,
) -> list[str]:
    """Why ``summary`` cannot be shown for an event of ``level``; empty when it can. ``reading`` is the
    summary read by meaning (:meth:`backend.services.semantic.SemanticReader.read`): a high or critical event's
    summary must name a crime or harm, or one of the concepts the evidence ``found``; a low event's must not
    describe a crime or harm. ``numbers``, when given, are the counts and times the evidence holds
    (:func:`evidence_numbers`); any other number the summary states is made up. ``instructions``: the prompt's
    fixed wording (``backend.services.prompts.instruction_texts``); a run of it repeated is an echo.
    ``relevance``: the cosine similarity of the summary to the evidence's own summary (the semantic layer's
    sentence embeddings); below SUMMARY_RELEVANCE_MIN the summary is about something else."""
    final = RiskLevel(str(level))
    text = summary.strip()
    problems: list[str] = []
    if not text:
        return ["empty"]
    claimed = {
        _LEVEL_SYNONYMS[(m.group("word") or m.group("word2")).lower()]
        for m in _LEVEL_CLAIM.finditer(text)
        if m.group("word") or m.group("word2")
    }
    if bare := _BARE_LEVEL.match(text):
        claimed.add(_LEVEL_SYNONYMS[bare.group("word").lower()])
    if claimed - {final}:
        problems.append(f"names level {', '.join(sorted(claimed - {final}))} but the event is {final}")
    if LEVEL_ORDER.index(final) >= LEVEL_ORDER.index(RiskLevel.HIGH) and _REASSURANCE.search(text):
        problems.append(f"reassures ({_REASSURANCE.search(text).group(0)!r}) on a {final} event")  # type: ignore[union-attr]
    if reading is not None:
        severe = {m.severity for m in reading.threats} & {"critical", "high"}
        named = severe or {m.concept for m in reading.threats} & set(found)
        if LEVEL_ORDER.index(final) >= LEVEL_ORDER.index(RiskLevel.HIGH) and not named:
            problems.append(f"does not say what is wrong on a {final} event")
        elif final is RiskLevel.LOW and severe:
            problems.append("describes a crime or harm on a low event")
    if relevance is not None and relevance < SUMMARY_RELEVANCE_MIN:
        problems.append(f"is not about this event (similarity {relevance:.2f} to the evidence)")
    problems += _text_problems(text, camera_text, numbers, instructions)
    if len(text) > SUMMARY_MAX_LENGTH:
        problems.append(f"longer than {SUMMARY_MAX_LENGTH} characters")
    if len(_words(text)) < MIN_WORDS:
        problems.append(f"fewer than {MIN_WORDS} words")
    if not (text[0].isupper() or text[0].isdigit()) or text[-1] not in ".!?":
        problems.append("not complete sentences")
    return problems


def action_problems(
    action: str,
    level: RiskLevel | str,
    camera_text: Iterable[str],
    numbers: set[int],
    instructions: Iterable[str] = (),
) -> list[str]:
    """Why the model's recommended action cannot be shown (empty when it can): the checks of
    :func:`summary_problems` that apply to advice (chat markup or instructions, looping, numbers the evidence
    does not hold, copied camera text, placeholders, reassurance on a high or critical event), and it must be
    words: at least :data:`ACTION_MIN_WORDS` of them, mostly letters. A rejected action is replaced by the
    level's own (``backend.domain.risk_levels.LEVEL_ACTIONS``)."""
    final = RiskLevel(str(level))
    text = action.strip()
    if not text:
        return ["empty"]
    problems: list[str] = []
    letters = sum(c.isalpha() for c in text)
    if len(_words(text)) < ACTION_MIN_WORDS or letters < 0.6 * len(text.replace(" ", "")):
        problems.append("not words")
    if LEVEL_ORDER.index(final) >= LEVEL_ORDER.index(RiskLevel.HIGH) and _REASSURANCE.search(text):
        problems.append(f"reassures on a {final} event")
    problems += _text_problems(text, camera_text, numbers, instructions)
    return problems


# --- the summary written from the evidence -----------------------------------------------------------------


_IRREGULAR = {"person": "people", "other person": "other people"}


def _a(noun: str) -> str:
    if noun.startswith("other "):
        return "an" + noun
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def _plural(count: int, noun: str) -> str:
    return _a(noun) if count == 1 else f"{count} {_IRREGULAR.get(noun, noun + 's')}"


def _minutes(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _tracks(ctx: AnalysisContext, types: frozenset[str]) -> int:
    return len({f.object_key for f in ctx.detections if f.detection.object_type in types})


def _who(ctx: AnalysisContext, evidence: EvidenceAssessment) -> str:
    people = _tracks(ctx, PERSON_TYPES)
    known = [sanitize_untrusted(name, 30) for name in ctx.identities.known_faces]
    if people and known:
        others = people - len({f.object_key for f in ctx.detections if f.face == "known"})
        who = " and ".join(known[:2]) + " (household)"
        return who + (f" with {_plural(others, 'other person')}" if others > 0 else "")
    if people:
        return _plural(people, "person").capitalize() if people > 1 else "A person"
    objects = [f for f in evidence.findings if f.source == "object"]
    if objects:  # named by the concept, not by the detector's own string
        return objects[0].label.capitalize()
    vehicles = _tracks(ctx, VEHICLE_TYPES)
    if vehicles:
        known_car = bool(ctx.identities.known_plates)
        noun = "household vehicle" if known_car else "vehicle"
        return (_plural(vehicles, noun)).capitalize()
    types = sorted(ctx.counts_by_type)
    plain = " ".join(re.findall(r"[a-z]+", types[0].lower())[:2]) if types else ""
    return _a(plain).capitalize() if plain else "Something"


def _where(ctx: AnalysisContext) -> str:
    camera = sanitize_untrusted(ctx.scenario.camera.name, 40) or ctx.scenario.camera.id
    people = [f for f in ctx.detections if f.detection.object_type in PERSON_TYPES] or list(ctx.detections)
    weights = sorted((hit.weight, hit.zone.name, hit.zone.zone_type) for f in people for hit in f.zones)
    if weights:
        _, name, zone_type = weights[-1]
        return f"at the {sanitize_untrusted(name, 30)} ({zone_type.replace('_', ' ')}) on the {camera} camera"
    return f"on the {camera} camera"


def _longest_visit(ctx: AnalysisContext) -> float:
    dwell = max((f.detection.enrichment.dwell_seconds or 0.0 for f in ctx.detections), default=0.0)
    return max(dwell, ctx.duration_s)


_QUOTED = r'"(?:[^"\\]|\\.)*"'  # a JSON string, as quote_untrusted writes camera text


def _reason(detail: str) -> str:
    """A factor's detail as a reason in prose: without its points and without any camera text it quotes."""
    detail = re.sub(r"\s*\([+-]\d+\)$", "", detail)
    detail = re.sub(r"\s*\((?:caption|pose|attribute|detected object) " + _QUOTED + r"\)", "", detail)
    return re.sub(r"\s+", " ", re.sub(_QUOTED, "", detail)).strip()


def evidence_summary(ctx: AnalysisContext, evidence: EvidenceAssessment, level: RiskLevel | str) -> str:
    """A plain-English summary from the facts: who, where, when, what they did, why this level.

    Example: "A person at the Back Door (entry point) on Backyard at 03:10 for 4 minutes, seen trying to get
    into the house; not a known household member. High: trying to get into the house; person at entry point
    at night." Camera text is never copied: acts are named by the concept bank's labels."""
    final = RiskLevel(str(level))
    start = ctx.window_start
    when = f"at {start:%H:%M}" + (" at night" if ctx.is_night else "")
    visit = _longest_visit(ctx)
    how_long = f" for {_minutes(visit)}" if visit >= 60 else ""
    acts = [f.label for f in evidence.findings if f.source != "object"]
    doing = f", seen {acts[0]}" if acts else ""
    if not acts and evidence.benign:
        doing = f", apparently {evidence.benign[0].label}"
    people = _tracks(ctx, PERSON_TYPES)
    identity = ""
    if people and not ctx.identities.known_faces:
        identity = "; not a known household member" if people == 1 else "; none a known household member"
    first = f"{_who(ctx, evidence)} {_where(ctx)} {when}{how_long}{doing}{identity}."
    top = [_reason(f.detail) for f in sorted(evidence.factors, key=lambda f: -f.points) if f.points > 0]
    if final in (RiskLevel.HIGH, RiskLevel.CRITICAL):
        why = [floor.reason for floor in evidence.floors[:1]] + [r for r in top if r != "person on camera"][:2]
    elif final is RiskLevel.LOW:
        if evidence.benign and not evidence.findings:
            why = [evidence.benign[0].label]
        elif ctx.identities.known_faces:
            why = ["a recognised household member"]
        else:
            why = ["nothing beyond an ordinary visit"]
    else:
        why = [r for r in top if r != "person on camera"][:2]
    why = [r for r in dict.fromkeys(why) if r and not any(r != o and r.startswith(o) for o in why)]
    said = [r for r in why if acts and r.startswith(acts[0])]
    why = [r for r in why if r not in said][:2] or said[:1]  # the act is named once, above
    if not why:
        why = [LEVEL_DESCRIPTIONS[final]]
    second = f"{final.value.capitalize()}: {'; '.join(why)}."
    summary = f"{first} {second}"
    if len(summary) > SUMMARY_MAX_LENGTH:
        summary = f"{first[: SUMMARY_MAX_LENGTH - len(second) - 2].rstrip(' ,;')}. {second}"
    if summary_problems(summary[:SUMMARY_MAX_LENGTH], final, camera_texts(ctx)):
        # something of the camera's own text got through (a name, a zone): say only what the facts say
        summary = f"{_plural(people, 'person').capitalize() if people else 'Activity'} {when}. {second}"
    return summary[:SUMMARY_MAX_LENGTH]
