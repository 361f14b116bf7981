"""Reading constraints from every request form; turning regexes, choices and JSON schemas (numeric
bounds included) into GBNF, checked with llama.cpp's own grammar engine."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ai.nemotron.constraints import Constraint, constraint_from_request
from ai.nemotron.engines.llamacpp import LlamaCppEngine
from ai.nemotron.errors import ConstraintError
from ai.nemotron.guidance import Guide, compile_grammar

SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}}}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, None),
        ({"json_schema": SCHEMA}, Constraint("json_schema", SCHEMA)),
        ({"grammar": 'root ::= "x"'}, Constraint("grammar", 'root ::= "x"')),
        ({"response_format": {"type": "text"}}, None),
        ({"response_format": {"type": "json_object"}}, Constraint("json_object")),
        ({"response_format": {"type": "json_object", "schema": SCHEMA}}, Constraint("json_schema", SCHEMA)),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"name": "n", "schema": SCHEMA}}},
            Constraint("json_schema", SCHEMA),
        ),
        ({"response_format": {"type": "json_schema", "schema": SCHEMA}}, Constraint("json_schema", SCHEMA)),
        ({"nvext": {"guided_json": SCHEMA}}, Constraint("json_schema", SCHEMA)),
        ({"nvext": {"guided_json": '{"type": "object"}'}}, Constraint("json_schema", {"type": "object"})),
        ({"nvext": {"guided_choice": ["a", "b", "a"]}}, Constraint("choice", ["a", "b"])),
        ({"nvext": {"guided_regex": "[0-9]+"}}, Constraint("regex", "[0-9]+")),
        ({"nvext": {"guided_grammar": 'root ::= "x"'}}, Constraint("grammar", 'root ::= "x"')),
        ({"guided_json": SCHEMA}, Constraint("json_schema", SCHEMA)),
        ({"guided_choice": ["x"]}, Constraint("choice", ["x"])),
        ({"structured_outputs": {"regex": "a|b"}}, Constraint("regex", "a|b")),
        ({"structured_outputs": {"json": SCHEMA}}, Constraint("json_schema", SCHEMA)),
    ],
)
def test_every_form_reads_to_one_constraint(body: dict, expected: Constraint | None) -> None:
    assert constraint_from_request(body) == expected


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"json_schema": SCHEMA, "grammar": 'root ::= "x"'}, "conflicting"),
        ({"nvext": {"guided_json": SCHEMA, "guided_regex": "a"}}, "conflicting"),
        ({"json_schema": {"type": 12}}, "invalid JSON schema"),
        ({"nvext": {"guided_json": "{not json"}}, "not valid JSON"),
        ({"nvext": {"guided_choice": []}}, "non-empty list"),
        ({"nvext": {"guided_regex": "("}}, "invalid regular expression"),
        ({"nvext": "guided_json"}, "nvext: must be an object"),
        ({"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}}, "missing 'schema'"),
        ({"response_format": {"type": "yaml"}}, "unsupported value"),
        ({"grammar": "   "}, "non-empty GBNF"),
    ],
)
def test_bad_constraints_are_clear_errors(body: dict, message: str) -> None:
    with pytest.raises(ConstraintError, match=message):
        constraint_from_request(body)


class GrammarChecker:
    """Whether the engine's constraint engine (llguidance, through :class:`ai.nemotron.guidance.Guide`, with
    the llama.cpp engine's own tokenizer view) accepts a whole string: its tokens are fed one at a time,
    each must be allowed, then the end-of-generation token must be (allowed only where the grammar is
    complete). The same Guide the engine samples with."""

    def __init__(self, model_path: Path) -> None:
        self.engine = LlamaCppEngine(str(model_path), n_ctx=256)
        self.engine.load()
        self.eos = self.engine.main.token_eos()

    def compile(self, constraint: Constraint) -> str:
        return compile_grammar(constraint, self.engine.ll_tokenizer)

    def accepts(self, constraint: Constraint, text: str) -> bool:
        engine = self.engine
        guide = Guide(engine.ll_tokenizer, self.compile(constraint), engine.vocab_size, engine._end_ids)
        for token in engine.main.tokenize(text.encode(), add_bos=False, special=False):
            if not guide.allows(token):
                return False
            guide.accept(token)
        return guide.allows(self.eos)


@pytest.fixture(scope="module")
def checker(model_path: Path) -> GrammarChecker:
    return GrammarChecker(model_path)


def schema(value: dict) -> Constraint:
    return Constraint("json_schema", value)


def test_choices_with_quotes_and_spaces_are_matched_exactly(checker: GrammarChecker) -> None:
    choice = Constraint("choice", ['say "hi"', "a b"])
    assert checker.accepts(choice, 'say "hi"') and checker.accepts(choice, "a b")
    assert not checker.accepts(choice, "a") and not checker.accepts(choice, 'say "hi" a b')


@pytest.mark.parametrize(
    ("pattern", "good", "bad"),
    [
        ("[0-9]|[1-9][0-9]|100", ["7", "42", "100"], ["101", "007", ""]),
        (r"\d{2,}", ["12", "12345"], ["1", "1a"]),
        ("a.b?c*d+", ["axd", "a-bccdd"], ["ab", "a\nd"]),
        (r"[^\s]", ["x"], [" ", "xy"]),
        (r"[0-9]{3}-\d{2}", ["123-45"], ["12-345"]),
    ],
)
def test_regexes_match_whole_outputs(checker: GrammarChecker, pattern: str, good: list[str], bad: list[str]) -> None:
    regex = Constraint("regex", pattern)
    assert [t for t in good if not checker.accepts(regex, t)] == []
    assert [t for t in bad if checker.accepts(regex, t)] == []


@pytest.mark.parametrize(("pattern", "message"), [(r"(a)\1", "backreference"), ("a(?=b)", "look-around")])
def test_regex_features_no_grammar_can_enforce_are_refused(checker: GrammarChecker, pattern: str, message: str) -> None:
    with pytest.raises(ConstraintError, match=message):
        checker.compile(Constraint("regex", pattern))


def test_gbnf_grammars_are_enforced_and_bad_ones_refused(checker: GrammarChecker) -> None:
    yes_no = Constraint("grammar", 'root ::= "yes" | "no"')
    assert checker.accepts(yes_no, "yes") and not checker.accepts(yes_no, "maybe")
    with pytest.raises(ConstraintError, match="foo"):
        checker.compile(Constraint("grammar", "root ::= foo"))


BOUND_KEYWORDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
PLAIN_DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?")
# llguidance 1.9.1 can let zero through an exclusive bound at zero when the other bound is close to it
# (exclusiveMaximum 0 with minimum -0.001 admits "-0"; exclusiveMinimum 0 with maximum 0.001 admits "0"): the
# soundness holes this test found; documented in ai/nemotron/AGENTS.md (Field(gt=0) alone is sound)
ZERO = re.compile(r"-?0(\.0+)?")


def _fraction_digits(text: str) -> int:
    return len(text.partition(".")[2]) if "e" not in text.lower() else 99


def inside(schema_: dict, text: str) -> bool:
    """Whether ``text`` is a JSON number the schema's bounds admit, the bound read as written (Decimal of
    its repr) and the number as written (so 0.30000000000000004 is above 0.3)."""
    try:
        value = Decimal(text)
        json.loads(text)
    except (ArithmeticError, ValueError):
        return False
    if schema_["type"] == "integer" and value != value.to_integral_value():
        return False
    for key in BOUND_KEYWORDS:
        if key not in schema_:
            continue
        bound = Decimal(repr(schema_[key])) if isinstance(schema_[key], float) else Decimal(schema_[key])
        ok = {
            "minimum": value >= bound,
            "maximum": value <= bound,
            "exclusiveMinimum": value > bound,
            "exclusiveMaximum": value < bound,
        }[key]
        if not ok:
            return False
    return True


BOUND_VALUES = st.one_of(
    st.integers(-1000, 1000),
    st.decimals(-100, 100, places=3, allow_nan=False, allow_infinity=False).map(float),
    st.sampled_from([0, 0.0, 1, 1.0, 0.1, 0.3, -0.5, 1e-3, 100, 2.5]),
)


@st.composite
def bounded_schemas(draw: st.DrawFn) -> dict:
    schema_: dict = {"type": draw(st.sampled_from(["number", "integer"]))}
    for key in draw(st.sets(st.sampled_from(BOUND_KEYWORDS), min_size=1, max_size=4)):
        schema_[key] = draw(BOUND_VALUES)
    return schema_


def candidates(schema_: dict, extra: list[str]) -> list[str]:
    """Plain decimals at and around every bound, plus some spellings that are never plain numbers."""
    out = set(extra) | {"0", "-1", "1", "0.5", "-0.5", "00", "01", "1.", ".5", "-", "+1"}
    for key in BOUND_KEYWORDS:
        if key in schema_:
            b = Decimal(repr(schema_[key])) if isinstance(schema_[key], float) else Decimal(schema_[key])
            for delta in ("0", "1", "-1", "0.001", "-0.001", "0.5", "-0.5"):
                out.add(format(b + Decimal(delta), "f"))
    return sorted(out)


@settings(
    max_examples=150, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    schema_=bounded_schemas(),
    extra=st.lists(st.from_regex(r"-?(0|[1-9][0-9]{0,4})(\.[0-9]{1,6})?", fullmatch=True), max_size=10),
)
def test_number_bounds_admit_exactly_the_numbers_inside(
    checker: GrammarChecker, schema_: dict, extra: list[str]
) -> None:
    """Sound: nothing outside the bounds (or not a number) is accepted, but zero at an exclusive bound of zero.
    Complete for canonical decimals written with at least as many digits after the point as the bounds have:
    every such decimal inside the bounds is accepted. llguidance 1.9.1's ranges refuse some shorter spellings
    (minimum 0.5 with maximum 1.25 refuses 1.2 but takes 1.20 and 1.19; "0.0" where only 0 is allowed): the
    model can still write every value, with more digits. Bounds it cannot enforce are refused with a reason."""
    constraint = schema(schema_)
    try:
        checker.compile(constraint)
    except ConstraintError:
        return  # refused with a reason: nothing is enforced wrongly
    for text in candidates(schema_, extra):
        accepted = checker.accepts(constraint, text)
        if accepted and not (
            ZERO.fullmatch(text) and 0 in (schema_.get("exclusiveMinimum"), schema_.get("exclusiveMaximum"))
        ):
            assert inside(schema_, text), (schema_, text)
        elif (
            PLAIN_DECIMAL.fullmatch(text)
            and not text.startswith("-0")
            and not re.search(r"\.\d*0$", text)
            and _fraction_digits(text) >= max(_fraction_digits(repr(v)) for k, v in schema_.items() if k != "type")
        ):
            assert not inside(schema_, text), (schema_, text)  # a canonical decimal inside is never refused


def test_frigate_review_schema(checker: GrammarChecker) -> None:
    """The bounds Frigate's review schema puts on numbers hold in the whole document."""
    review = schema(
        {
            "type": "object",
            "properties": {
                "confidence": {"type": "number", "minimum": 0.0, "maximum": 1.0},
                "potential_threat_level": {"type": "integer", "minimum": 0, "maximum": 3},
            },
            "required": ["confidence", "potential_threat_level"],
            "additionalProperties": False,
        }
    )
    assert checker.accepts(review, '{"confidence": 0.85, "potential_threat_level": 1}')
    for bad in (
        '{"confidence": 1.5, "potential_threat_level": 1}',
        '{"confidence": 85, "potential_threat_level": 1}',
        '{"confidence": 0.5, "potential_threat_level": 4}',
        '{"confidence": -0.1, "potential_threat_level": 1}',
        '{"confidence": 0.5, "potential_threat_level": 1, "x": 1}',
    ):
        assert not checker.accepts(review, bad), bad


@pytest.mark.parametrize(
    ("schema_", "good", "bad"),
    [
        (
            {"type": "string", "minLength": 2, "maxLength": 3},
            ['"ab"', '"日本語"', '"a\\n"'],
            ['"a"', '"abcd"', '"\\ud83d\\ude00"'],
        ),
        ({"type": "array", "minItems": 1, "maxItems": 2}, ["[1]", '[{"a": null}, "x"]'], ["[]", "[1, 2, 3]"]),
        ({"type": ["integer", "null"], "minimum": 5}, ["5", "null"], ["4", '"5"']),
        (
            {"anyOf": [{"type": "number", "maximum": 0}, {"type": "string", "maxLength": 1}]},
            ["-1", '"x"'],
            ["1", '"xy"'],
        ),
        ({"type": ["string", "null"], "enum": ["a", "b", None]}, ['"a"', "null"], ['"c"']),
        ({"type": "string", "pattern": "^a+$", "maxLength": 2}, ['"aa"'], ['"aaa"', '"b"']),
        ({"type": "string", "pattern": "\\d+"}, ['"ab12cd"', '"7"'], ['"abc"']),
        ({"type": "string", "format": "email"}, ['"a@b.co"'], ['"nope"']),
        ({"type": "string", "format": "date"}, ['"2026-11-30"'], ['"30/11/2026"']),
        ({"type": "integer", "multipleOf": 5}, ["10"], ["7"]),
        ({"type": "number", "minimum": 0, "maximum": 1}, ["0.5", "1"], ["1.5", "-0.1"]),
        ({"type": "integer", "minimum": -3000}, ["-3000"], ["-3001"]),
        ({"type": "array", "items": [{"type": "integer"}, {"type": "string"}]}, ['[1, "a"]'], ['["a", 1]']),
        ({"type": "object", "properties": {"a": False}}, ["{}"], ['{"a": 1}']),
        ({}, ["1", '"x"', "[true]", "null"], ["nul"]),
        (
            {
                "$defs": {"Lvl": {"type": "integer", "minimum": 0, "maximum": 2}},
                "type": "array",
                "items": {"$ref": "#/$defs/Lvl"},
            },
            ["[0, 2]"],
            ["[3]"],
        ),
        ({"allOf": [{"type": "number", "exclusiveMaximum": 1}]}, ["0.5"], ["1"]),
        ({"$ref": "#/$defs/A", "maxLength": 1, "$defs": {"A": {"type": "string"}}}, ['"a"'], ['"ab"']),
        ({"anyOf": [{"type": "integer"}], "minimum": 1}, ["1"], ["0"]),
        ({"type": "object", "maxProperties": 1}, ['{"a": 1}'], ['{"a": 1, "b": 2}']),
        # an object that says nothing of other keys takes none (llama.cpp's converter, a subset), nested too
        ({"type": "object", "properties": {"a": {"type": "integer"}}}, ['{"a": 1}', "{}"], ['{"a": 1, "b": 2}']),
        (
            {"type": "array", "items": {"properties": {"a": {"type": "integer"}}, "required": ["a"]}},
            ['[{"a": 1}]'],
            ['[{"a": 1, "b": 2}]'],
        ),
        ({"type": "object", "properties": {"a": {}}, "additionalProperties": True}, ['{"a": 1, "b": 2}'], []),
        (
            {"allOf": [{"properties": {"a": {"type": "integer"}}}, {"properties": {"b": {"type": "integer"}}}]},
            ['{"a": 1, "b": 2}'],
            ['{"a": "x"}'],
        ),
        ({"type": "string", "format": "ipv4"}, ['"1.2.3.4"'], ['"1.2.3"']),
        # objects merged by llguidance stay open (found by review: closing them made these unsatisfiable)
        (
            {
                "properties": {"a": {"type": "integer"}},
                "allOf": [{"properties": {"b": {"type": "integer"}}}],
                "required": ["a", "b"],
            },
            ['{"a": 1, "b": 2}'],
            ['{"a": 1}'],
        ),
        (
            {
                "properties": {"kind": {"type": "string"}},
                "anyOf": [{"properties": {"n": {"type": "integer"}}, "required": ["n"]}],
                "required": ["kind"],
            },
            ['{"kind": "x", "n": 1}'],
            ['{"n": 1}'],
        ),
        (
            {
                "$defs": {"Base": {"properties": {"id": {"type": "integer"}}, "required": ["id"]}},
                "$ref": "#/$defs/Base",
                "properties": {"name": {"type": "string"}},
                "required": ["name"],
            },
            ['{"id": 1, "name": "x"}'],
            ['{"name": "x"}'],
        ),
    ],
)
def test_schema_keywords_are_enforced(checker: GrammarChecker, schema_: dict, good: list[str], bad: list[str]) -> None:
    constraint = schema(schema_)
    for text in good:
        if not isinstance(schema_.get("items"), list):  # list-form items: draft 4, which 2020-12 reads differently
            jsonschema.validate(json.loads(text), schema_)
        assert checker.accepts(constraint, text), text
    for text in bad:
        assert not checker.accepts(constraint, text), text


@pytest.mark.parametrize(
    ("schema_", "message"),
    [
        ({"type": "array", "uniqueItems": True}, "uniqueItems"),
        ({"type": "string", "not": {"const": "x"}}, '"not"'),
        ({"if": {"type": "string"}, "then": {"minLength": 2}}, '"if"'),
        ({"type": "array", "contains": {"type": "integer"}}, "contains"),
        ({"type": "object", "dependentRequired": {"a": ["b"]}}, "dependentRequired"),
        ({"type": "string", "format": "hostname-x"}, "format"),
        ({"enum": [1, 2], "minimum": 3}, "minimum"),
        ({"type": "number", "minimum": 1e60}, "range"),
    ],
)
def test_schema_keywords_no_engine_enforces_are_refused_by_name(
    checker: GrammarChecker, schema_: dict, message: str
) -> None:
    with pytest.raises(ConstraintError, match=re.escape(message)):
        checker.compile(schema(schema_))


@pytest.mark.parametrize(
    ("schema_", "good"),
    [
        ({"type": "string", "maxLength": 5_000_000}, '"a"'),
        ({"type": "array", "items": {"type": "integer"}, "maxItems": 10**12}, "[1, 2]"),
        (
            {"type": "object", "properties": {"s": {"type": "string", "maxLength": 10**8}}, "required": ["s"]},
            '{"s": "x"}',
        ),
    ],
)
def test_a_huge_count_stays_symbolic(checker: GrammarChecker, schema_: dict[str, object], good: str) -> None:
    """A length or item count used to be written out in a GBNF grammar, which blocked the server for minutes
    and grew it to gigabytes; llguidance keeps counts symbolic, so such a schema compiles and is enforced."""
    assert checker.accepts(schema(schema_), good)
