"""Response parsing: <think> extraction, lenient JSON extraction, strict validation, level correction."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.domain.risk_levels import (
    LEVEL_ORDER,
    MAX_SCORE,
    MIN_SCORE,
    RiskLevel,
    band_for_level,
    level_for_score,
)
from backend.services.risk_parsing import (
    RiskParseError,
    extract_json_object,
    extract_reasoning_and_response,
    parse_risk_response,
)

# Both sides of every band edge, and the ends of the scale.
BOUNDARIES = [
    (0, "low"),
    (29, "low"),
    (30, "medium"),
    (59, "medium"),
    (60, "high"),
    (84, "high"),
    (85, "critical"),
    (100, "critical"),
]


def _answer(score: object, level: object = None, **extra: object) -> str:
    body = {"risk_score": score, **({"risk_level": level} if level is not None else {}), "summary": "ok", **extra}
    return json.dumps(body)


# --- the band table -----------------------------------------------------------------------------------


def test_bands_are_contiguous_and_cover_0_to_100() -> None:
    expected_low = MIN_SCORE
    for level in LEVEL_ORDER:
        low, high = band_for_level(level)
        assert low == expected_low
        expected_low = high + 1
    assert expected_low == MAX_SCORE + 1


@pytest.mark.parametrize(("score", "level"), BOUNDARIES)
def test_level_for_score_at_every_boundary(score: int, level: str) -> None:
    assert level_for_score(score) == RiskLevel(level)


@pytest.mark.parametrize("score", [-1, 101, 250])
def test_level_for_score_rejects_out_of_range(score: int) -> None:
    with pytest.raises(ValueError, match="outside"):
        level_for_score(score)


def test_band_for_level_accepts_names_and_rejects_unknown() -> None:
    assert band_for_level("HIGH") == (60, 84)
    with pytest.raises(ValueError, match="severe"):
        band_for_level("severe")


# --- <think> extraction -------------------------------------------------------------------------------


def test_closed_think_block() -> None:
    reasoning, response = extract_reasoning_and_response('<think>\nNight, porch.\n</think>\n{"risk_score": 70}')
    assert reasoning == "Night, porch."
    assert response == '{"risk_score": 70}'


def test_several_think_blocks_are_joined() -> None:
    reasoning, response = extract_reasoning_and_response("<think>one</think>A<THINK>two</THINK>B")
    assert reasoning == "one\n\ntwo"
    assert response == "A B"


def test_unclosed_think_makes_the_rest_reasoning() -> None:
    reasoning, response = extract_reasoning_and_response("prefix <think>still thinking when tokens ran out")
    assert reasoning == "still thinking when tokens ran out"
    assert response == "prefix"
    assert extract_reasoning_and_response("<think>only thoughts") == ("only thoughts", "")


def test_empty_think_block_gives_empty_reasoning() -> None:
    assert extract_reasoning_and_response("<think></think>{}") == ("", "{}")
    assert extract_reasoning_and_response("<think>  \n </think> answer ") == ("", "answer")


def test_closing_tag_without_opening_one() -> None:
    # Chat templates that put <think> into the prompt make the output start inside the block.
    assert extract_reasoning_and_response("the reasoning</think>\n{}") == ("the reasoning", "{}")


def test_no_think_block() -> None:
    assert extract_reasoning_and_response('  {"a": 1}  ') == ("", '{"a": 1}')


# --- JSON extraction ----------------------------------------------------------------------------------


def test_json_among_prose() -> None:
    text = 'Here is my analysis: {"risk_score": 40, "summary": "x"} Hope this helps.'
    assert extract_json_object(text) == {"risk_score": 40, "summary": "x"}


def test_nested_objects_give_the_top_level_one() -> None:
    text = 'Result {"risk_score": 40, "details": {"zone": {"id": "porch"}}} end'
    assert extract_json_object(text)["details"] == {"zone": {"id": "porch"}}


def test_braces_and_escaped_quotes_inside_strings() -> None:
    data = {"risk_score": 12, "summary": 'a "quoted} {word" and \\ backslash }}'}
    assert extract_json_object(f"note: {json.dumps(data)} done") == data


def test_code_fence() -> None:
    text = 'Sure.\n```json\n{\n  "risk_score": 91,\n  "risk_level": "critical"\n}\n```\n'
    assert extract_json_object(text) == {"risk_score": 91, "risk_level": "critical"}


def test_braces_in_prose_before_the_object_are_skipped() -> None:
    assert extract_json_object('Using {rubric} and {bands}: {"risk_score": 5}') == {"risk_score": 5}


def test_trailing_commas_are_tolerated() -> None:
    text = '{"risk_score": 5, "risk_factors": ["a", "b",], "summary": "x, }",}'
    assert extract_json_object(text) == {"risk_score": 5, "risk_factors": ["a", "b"], "summary": "x, }"}


def test_raw_line_breaks_inside_strings_are_tolerated() -> None:
    assert extract_json_object('{"summary": "line one\nline two",}') == {"summary": "line one\nline two"}


@pytest.mark.parametrize(
    "degenerate",
    ["{" * 20000, '{"a": "' * 5000, "{" * 5000 + "}" * 5000],
    ids=["open-braces", "open-strings", "deep-nesting"],
)
def test_degenerate_output_is_rejected_quickly(degenerate: str) -> None:
    with pytest.raises(RiskParseError):
        extract_json_object(degenerate)


def test_no_json_is_an_error() -> None:
    with pytest.raises(RiskParseError, match="no JSON object"):
        extract_json_object("The risk is low.")


def test_truncated_json_is_an_error_that_says_so() -> None:
    with pytest.raises(RiskParseError, match="never closed"):
        extract_json_object('{"risk_score": 45, "summary": "cut o')


def test_a_json_array_is_not_an_object() -> None:
    with pytest.raises(RiskParseError):
        extract_json_object("[1, 2, 3]")


# --- validation ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("score", "level"), BOUNDARIES)
def test_every_band_boundary_parses_without_correction(score: int, level: str) -> None:
    parsed = parse_risk_response(_answer(score, level))
    assert (parsed.risk_score, parsed.risk_level, parsed.level_corrected) == (score, level, False)


@pytest.mark.parametrize("score", [-1, 101, 250, 100.4, -0.2])
def test_out_of_range_score_is_an_error_not_clamped(score: float) -> None:
    with pytest.raises(RiskParseError, match=r"outside 0\.\.100"):
        parse_risk_response(_answer(score, "critical"))


@pytest.mark.parametrize("score", ["high", None, True, [50], "nan"])
def test_non_numeric_or_missing_score_is_an_error(score: object) -> None:
    text = json.dumps({"risk_level": "low", "summary": "x"}) if score is None else _answer(score, "low")
    with pytest.raises(RiskParseError, match="risk_score"):
        parse_risk_response(text)


@pytest.mark.parametrize(("score", "expected"), [(84.5, 85), (29.4, 29), ("72", 72), (" 59.5 ", 60), (0.4, 0)])
def test_floats_are_rounded_and_numeric_strings_accepted(score: object, expected: int) -> None:
    assert parse_risk_response(_answer(score, level_for_score(expected))).risk_score == expected


def test_level_is_case_insensitive() -> None:
    parsed = parse_risk_response(_answer(90, " Critical "))
    assert parsed.risk_level is RiskLevel.CRITICAL
    assert parsed.raw_level == " Critical "
    assert not parsed.level_corrected


def test_unknown_level_is_an_error() -> None:
    with pytest.raises(RiskParseError, match="severe"):
        parse_risk_response(_answer(90, "severe"))


def test_contradicting_level_is_corrected_to_the_band_and_recorded() -> None:
    parsed = parse_risk_response(_answer(72, "low"))
    assert parsed.risk_level is RiskLevel.HIGH
    assert parsed.level_corrected
    assert parsed.correction_note == "model said low for score 72; band says high"
    assert parsed.raw_level == "low"


def test_missing_level_is_taken_from_the_band_and_recorded() -> None:
    parsed = parse_risk_response(_answer(31))
    assert parsed.risk_level is RiskLevel.MEDIUM
    assert parsed.level_corrected
    assert parsed.raw_level is None
    assert "no risk_level" in (parsed.correction_note or "")


def test_missing_summary_becomes_empty() -> None:
    assert parse_risk_response('{"risk_score": 3, "risk_level": "low"}').summary == ""


def test_full_answer_with_reasoning_from_think_and_json() -> None:
    raw = (
        "<think>\nUnknown person at the porch at 3am.\n</think>\n"
        "```json\n"
        + json.dumps(
            {
                "risk_score": 78,
                "risk_level": "high",
                "summary": "Unknown person lingered at the front door at night.",
                "reasoning": "Night, entry point, long dwell.",
                "risk_factors": ["night", "entry point", "", "unknown face"],
                "recommended_action": "Review the clip.",
                "confidence": 0.8,
            }
        )
        + "\n```"
    )
    parsed = parse_risk_response(raw)
    assert parsed.risk_score == 78
    assert parsed.risk_level is RiskLevel.HIGH
    assert parsed.reasoning == "Unknown person at the porch at 3am.\n\nNight, entry point, long dwell."
    assert parsed.risk_factors == ["night", "entry point", "unknown face"]
    assert parsed.recommended_action == "Review the clip."


def test_overlong_text_is_capped_visibly() -> None:
    parsed = parse_risk_response(
        _answer(10, "low", risk_factors=[f"f{i}" for i in range(9)]).replace('"ok"', '"' + "s" * 400 + '"')
    )
    assert len(parsed.summary) == 300
    assert parsed.summary.endswith("…")
    assert len(parsed.risk_factors) == 6


def test_a_single_factor_string_becomes_a_list() -> None:
    assert parse_risk_response(_answer(10, "low", risk_factors="daytime")).risk_factors == ["daytime"]


@pytest.mark.parametrize(
    "raw",
    ["", "I cannot help with that.", "<think>the answer would be 80</think>", '<think>{"risk_score": 80}'],
)
def test_output_without_an_answer_is_an_error(raw: str) -> None:
    with pytest.raises(RiskParseError):
        parse_risk_response(raw)


# --- issue #9: answers that crashed the parser -------------------------------------------------------------


def test_an_object_without_the_verdicts_keys_is_skipped_not_chosen() -> None:
    text = (
        'Detections seen: {"person": 1, "car": 0}. My assessment: '
        '{"risk_score": 18, "risk_level": "low", "summary": "Neighbour walking a dog."}'
    )
    parsed = parse_risk_response(text)
    assert (parsed.risk_score, parsed.risk_level, parsed.summary) == (18, "low", "Neighbour walking a dog.")


def test_only_objects_without_the_verdicts_keys_is_a_parse_error_that_says_so() -> None:
    with pytest.raises(RiskParseError, match="risk_level or risk_score"):
        parse_risk_response('Counts: {"person": 1} and {"car": 2}')


def test_a_lone_surrogate_escape_in_the_summary_is_replaced_not_raised() -> None:
    parsed = parse_risk_response('{"risk_score": 20, "risk_level": "low", "summary": "Cat on the porch \\ud83d"}')
    assert parsed.risk_score == 20
    assert parsed.summary == "Cat on the porch \ufffd"
    parsed.summary.encode("utf-8")  # storable and sendable as it is


def test_the_parse_error_is_an_unusable_answer_of_the_backends_hierarchy() -> None:
    from backend.domain.errors import LLMAnswerUnusableError, ServiceError

    assert issubclass(RiskParseError, LLMAnswerUnusableError)
    assert not RiskParseError("x").retryable and isinstance(RiskParseError("x"), ServiceError)


_JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
_KEYS = st.sampled_from(["risk_score", "risk_level", "summary", "reasoning", "risk_factors", "recommended_action"])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.text(),  # any string at all, lone surrogates included
        st.dictionaries(_KEYS, _JSONISH, max_size=6).map(lambda d: json.dumps(d, ensure_ascii=True)),
        st.tuples(st.text(max_size=40), st.dictionaries(_KEYS, _JSONISH, max_size=6), st.text(max_size=40)).map(
            lambda t: f"{t[0]}<think>{t[0]}</think>{json.dumps(t[1], ensure_ascii=False)}{t[2]}"
        ),
        st.from_regex(r'\{"risk_score": ?-?[0-9.e]{0,6}, ?"risk_level": ?"[a-zA-Z\\]{0,9}"[^}]{0,30}\}?'),
    )
)
def test_the_parser_raises_nothing_but_its_own_error_on_any_string(text: str) -> None:
    try:
        parsed = parse_risk_response(text)
    except RiskParseError:
        return
    assert MIN_SCORE <= parsed.risk_score <= MAX_SCORE
    assert parsed.risk_level == level_for_score(parsed.risk_score)
    parsed.model_dump_json()  # every text field encodes
