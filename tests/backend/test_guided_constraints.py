"""Guided-generation fragments, the answer schema, and that our own LLM server accepts them."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from ai.nemotron.constraints import constraint_from_request
from ai.nemotron.guidance import grammar_of
from backend.domain.llm_response import RISK_ANALYSIS_JSON_SCHEMA, LLMRiskResponse
from backend.services.guided_constraints import (
    RISK_LEVEL_CHOICES,
    get_guided_choice_config,
    get_guided_json_config,
    get_guided_regex_config,
)


def test_risk_level_choices() -> None:
    assert RISK_LEVEL_CHOICES == ["low", "medium", "high", "critical"]
    assert get_guided_choice_config("risk_level") == {"nvext": {"guided_choice": ["low", "medium", "high", "critical"]}}


def test_risk_score_regex_is_exactly_the_spec() -> None:
    assert get_guided_regex_config("risk_score") == {"nvext": {"guided_regex": "[0-9]|[1-9][0-9]|100"}}


def test_risk_score_regex_matches_0_to_100_only() -> None:
    pattern = re.compile(get_guided_regex_config("risk_score")["nvext"]["guided_regex"])
    assert all(pattern.fullmatch(str(n)) for n in range(101))
    assert not any(pattern.fullmatch(text) for text in ["101", "007", "-1", "250", "1000", ""])


def test_guided_json_is_the_schema_and_a_copy() -> None:
    config = get_guided_json_config()
    assert config == {"nvext": {"guided_json": RISK_ANALYSIS_JSON_SCHEMA}}
    config["nvext"]["guided_json"]["required"].append("oops")
    assert "oops" not in RISK_ANALYSIS_JSON_SCHEMA["required"]


@pytest.mark.parametrize(
    ("getter", "field"), [(get_guided_choice_config, "risk_score"), (get_guided_regex_config, "summary")]
)
def test_unknown_field_names_the_field_and_the_known_ones(getter: Callable[[str], dict[str, Any]], field: str) -> None:
    with pytest.raises(ValueError, match=rf"'{field}'.*known fields: risk_"):
        getter(field)


def test_schema_is_valid_and_ordered() -> None:
    jsonschema.Draft202012Validator.check_schema(RISK_ANALYSIS_JSON_SCHEMA)
    assert list(RISK_ANALYSIS_JSON_SCHEMA["properties"])[:3] == ["risk_score", "risk_level", "summary"]
    assert RISK_ANALYSIS_JSON_SCHEMA["required"] == ["risk_score", "risk_level", "summary"]
    assert RISK_ANALYSIS_JSON_SCHEMA["additionalProperties"] is False


@pytest.mark.parametrize(
    "answer",
    [
        {"risk_score": 0, "risk_level": "low", "summary": ""},
        {"risk_score": 100, "risk_level": "critical", "summary": "s", "risk_factors": ["a"] * 6},
        {"risk_score": 50, "risk_level": "medium", "summary": "s", "reasoning": "r", "recommended_action": "a"},
    ],
)
def test_schema_and_model_accept_the_same_answers(answer: dict[str, Any]) -> None:
    jsonschema.validate(answer, RISK_ANALYSIS_JSON_SCHEMA)
    LLMRiskResponse.model_validate(answer)


@pytest.mark.parametrize(
    "answer",
    [
        {"risk_score": 101, "risk_level": "critical", "summary": "s"},
        {"risk_score": -1, "risk_level": "low", "summary": "s"},
        {"risk_score": 50, "risk_level": "severe", "summary": "s"},
        {"risk_score": 50, "risk_level": "medium"},
        {"risk_score": 50, "risk_level": "medium", "summary": "s" * 301},
        {"risk_score": 50, "risk_level": "medium", "summary": "s", "risk_factors": ["a"] * 7},
        {"risk_score": 50, "risk_level": "medium", "summary": "s", "extra": 1},
    ],
)
def test_schema_and_model_reject_the_same_answers(answer: dict[str, Any]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(answer, RISK_ANALYSIS_JSON_SCHEMA)
    with pytest.raises(ValidationError):
        LLMRiskResponse.model_validate(answer)


def test_model_and_schema_have_the_same_properties() -> None:
    assert list(LLMRiskResponse.model_fields) == list(RISK_ANALYSIS_JSON_SCHEMA["properties"])


@pytest.mark.parametrize(
    ("config", "kind"),
    [
        (get_guided_json_config(), "json_schema"),
        (get_guided_choice_config("risk_level"), "choice"),
        (get_guided_regex_config("risk_score"), "regex"),
    ],
)
def test_our_llm_server_accepts_every_fragment(config: dict[str, Any], kind: str) -> None:
    constraint = constraint_from_request(config)
    assert constraint is not None
    assert constraint.kind == kind


def test_risk_score_regex_compiles_to_a_grammar() -> None:
    constraint = constraint_from_request(get_guided_regex_config("risk_score"))
    assert constraint is not None and constraint.kind == "regex"
    assert grammar_of(constraint)  # the LLM server's constraint engine writes it without an error
