"""Reading constraints from every request form; turning regexes, choices and JSON schemas (numeric
bounds included) into GBNF, checked with llama.cpp's own grammar engine."""

from __future__ import annotations

import ctypes
import json
import math
import re
from decimal import Decimal
from pathlib import Path

import jsonschema
import llama_cpp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ai.nemotron.constraints import Constraint, constraint_from_request
from ai.nemotron.engines.llamacpp_schema import schema_grammar
from ai.nemotron.errors import ConstraintError
from ai.nemotron.gbnf import choice_grammar, regex_grammar
from ai.nemotron.number_grammar import BOUND_KEYWORDS, FRACTION_DIGITS, number_range, range_rules

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


def test_choice_grammar_escapes_quotes_and_spaces() -> None:
    assert choice_grammar(['say "hi"', "b"]) == 'root ::= "say\\x20\\x22hi\\x22" | "b"\n'


@pytest.mark.parametrize(
    ("pattern", "grammar"),
    [
        ("[0-9]|[1-9][0-9]|100", 'root ::= ([0-9] | [1-9] [0-9] | "1" "0" "0")\n'),
        (r"^\d{2,}$", "root ::= ([0-9]){2,}\n"),
        ("a.b?c*d+", 'root ::= "a" [^\\x0A] ("b")? ("c")* ("d")+\n'),
        (r"[^\s]", "root ::= [^ \\t\\n\\r\\x0B\\x0C]\n"),
    ],
)
def test_regex_to_gbnf(pattern: str, grammar: str) -> None:
    assert regex_grammar(pattern) == grammar


@pytest.mark.parametrize("pattern", [r"(a)\1", "a(?=b)", "a^b", "(?i)abc", r"(?<!x)y"])
def test_regex_features_without_grammar_equivalent_are_rejected(pattern: str) -> None:
    with pytest.raises(ConstraintError, match="guided_regex"):
        regex_grammar(pattern)


class GrammarChecker:
    """Whether llama.cpp's own grammar engine accepts a whole string: the string is fed one
    character's tokens at a time to a grammar sampler, then the end-of-generation token must be
    allowed (llama.cpp allows it only where the grammar is complete)."""

    def __init__(self, model_path: Path) -> None:
        self.llm = llama_cpp.Llama(str(model_path), vocab_only=True, verbose=False)
        self.vocab = self.llm._model.vocab
        self.eos = self.llm.token_eos()
        self.tokens: dict[str, list[int]] = {}

    def _tokens(self, ch: str) -> list[int]:
        """The tokens of one character (several for a character the vocabulary spells in bytes)."""
        if ch not in self.tokens:
            self.tokens[ch] = self.llm.tokenize(ch.encode(), add_bos=False, special=False)
        return self.tokens[ch]

    @staticmethod
    def _allowed(sampler: llama_cpp.llama_sampler_p, token: int) -> bool:
        data = (llama_cpp.llama_token_data * 1)(llama_cpp.llama_token_data(token, 0.0, 0.0))
        candidates = llama_cpp.llama_token_data_array(data, 1, -1, False)
        llama_cpp.llama_sampler_apply(sampler, ctypes.byref(candidates))
        return bool(math.isfinite(data[0].logit))

    def accepts(self, gbnf: str, text: str) -> bool:
        sampler = llama_cpp.llama_sampler_init_grammar(self.vocab, gbnf.encode(), b"root")
        assert sampler, "llama.cpp could not parse the grammar"
        try:
            for token in (t for ch in text for t in self._tokens(ch)):
                if not self._allowed(sampler, token):
                    return False
                llama_cpp.llama_sampler_accept(sampler, token)
            return self._allowed(sampler, self.eos)
        finally:
            llama_cpp.llama_sampler_free(sampler)


@pytest.fixture(scope="module")
def checker(model_path: Path) -> GrammarChecker:
    return GrammarChecker(model_path)


def number_grammar(schema: dict) -> str:
    """A grammar whose sentences are the numbers the schema's bounds allow (no JSON whitespace)."""
    bounds = number_range(schema, "#")
    assert bounds is not None
    rules = range_rules(bounds, "num")
    return "".join(f"{name} ::= {body}\n" for name, body in rules.items()) + "root ::= num\n"


PLAIN_DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?")
NEGATIVE_ZERO = re.compile(r"-0(\.0+)?")


def documented(schema: dict, text: str, fraction_digits: int | None) -> bool:
    """What the grammar should admit (ai/nemotron/number_grammar.py): a plain decimal, never "-0",
    at most ``fraction_digits`` digits after the point, inside the bounds both as read by a JSON parser
    (json.loads, then jsonschema) and as a decimal against the bound as written (repr of a double)."""
    if not PLAIN_DECIMAL.fullmatch(text) or NEGATIVE_ZERO.fullmatch(text):
        return False
    if fraction_digits is not None and len(text.partition(".")[2]) > fraction_digits:
        return False
    if not jsonschema.Draft202012Validator(schema).is_valid(json.loads(text)):
        return False
    value = Decimal(text)
    for key, above in (("minimum", True), ("exclusiveMinimum", True), ("maximum", False), ("exclusiveMaximum", False)):
        if key in schema:
            bound = Decimal(repr(schema[key])) if isinstance(schema[key], float) else Decimal(schema[key])
            strict = key.startswith("exclusive")
            inside = (
                (value > bound if strict else value >= bound)
                if above
                else (value < bound if strict else value <= bound)
            )
            if not inside:
                return False
    return True


BOUND_VALUES = st.one_of(
    st.integers(-1000, 1000),
    st.floats(-1000, 1000, allow_nan=False, allow_infinity=False),
    st.decimals(-100, 100, places=3, allow_nan=False, allow_infinity=False).map(float),
    st.sampled_from([0, 0.0, 1, 1.0, 0.1, 0.3, -0.5, 1e-3, 100, 2.5e-7, 1e10, -1e-300]),
)


@st.composite
def bounded_schemas(draw: st.DrawFn) -> dict:
    schema: dict = {"type": draw(st.sampled_from(["number", "integer"]))}
    for key in draw(st.sets(st.sampled_from(BOUND_KEYWORDS), min_size=1, max_size=4)):
        schema[key] = draw(BOUND_VALUES)
    return schema


def candidates(schema: dict, extra: list[str]) -> list[str]:
    """Strings at and around every bound, in several spellings, plus some that are never numbers."""
    out = set(extra) | {"0", "-0", "-0.0", "00", "01", "1.", ".5", "-", "1e3", "1E-2", "+1", "0.0", "-1"}
    for key in BOUND_KEYWORDS:
        if key not in schema:
            continue
        b = float(schema[key])
        for v in (b, math.nextafter(b, math.inf), math.nextafter(b, -math.inf), b + 1, b - 1, b + 0.001, b - 0.001):
            out |= {repr(v), f"{v:.0f}", f"{v:.1f}", f"{v:.3f}", f"{v:.15f}", f"{v:.16f}", f"{v:.17f}"}
            out.add(format(Decimal(v), "f")[:40])
        for tiny in ("1e-15", "1e-9", "1e-5"):  # just past a bound as written, which may read as the bound
            out |= {format(Decimal(repr(b)) + d, "f") for d in (Decimal(tiny), -Decimal(tiny))}
    return [c for c in out if len(c.lstrip("-").partition(".")[0]) <= 15]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    schema=bounded_schemas(),
    extra=st.lists(st.from_regex(r"-?(0|[1-9][0-9]{0,4})(\.[0-9]{1,18})?", fullmatch=True), max_size=10),
)
def test_bounded_number_grammar_admits_exactly_the_documented_numbers(
    checker: GrammarChecker, schema: dict, extra: list[str]
) -> None:
    try:
        grammar = number_grammar(schema)
    except ConstraintError:  # an empty range: then no plain decimal may satisfy the schema
        assert not any(documented(schema, c, FRACTION_DIGITS) for c in candidates(schema, extra))
        return
    bounds = number_range(schema, "#")
    assert bounds is not None
    for text in candidates(schema, extra):
        accepted = checker.accepts(grammar, text)
        assert accepted == documented(schema, text, bounds.fraction_digits), (schema, text, accepted)
        if accepted:  # the property that matters: whatever the grammar lets out is valid
            jsonschema.validate(json.loads(text), schema)


@pytest.mark.parametrize(
    ("schema", "inside", "outside"),
    [
        (
            {"type": "number", "minimum": 0, "maximum": 1},
            ["0", "1", "1.0", "0.5", "0.999999999999999", "0.000000000000001"],
            ["-0", "1.01", "2", "-0.1", "0.5e1", "1.0000000000000001", "00.5"],
        ),
        (
            {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
            ["0.5", "0.999999999999999", "0.000000000000001"],
            ["0", "0.0", "1", "0.99999999999999999"],
        ),
        ({"type": "number", "minimum": 0}, ["0", "12.5", "9999999999999999"], ["-1", "-0.5"]),
        ({"type": "number", "maximum": -2.5}, ["-2.5", "-3", "-1000.25"], ["-2.4", "0", "2.5"]),
        (  # a decimal just above 1e10 reads as 1e10 itself: not above it
            {"type": "number", "exclusiveMinimum": 1e10},
            ["10000000000.00001", "20000000000"],
            ["10000000000", "10000000000.000000000000001", "9999999999.999999999999999"],
        ),
        ({"type": "number", "minimum": 1e10}, ["10000000000"], ["9999999999.999999999999999"]),
        ({"type": "integer", "minimum": 3}, ["3", "40", "123456789"], ["2", "3.0", "-3"]),
        ({"type": "integer", "maximum": 10}, ["10", "0", "-5", "-123456"], ["11", "100"]),
        ({"type": "integer", "exclusiveMinimum": -3, "exclusiveMaximum": 3}, ["-2", "0", "2"], ["-3", "3", "-0"]),
        ({"type": "integer", "minimum": 0.5, "maximum": 2.5}, ["1", "2"], ["0", "3"]),
    ],
)
def test_bounded_numbers(checker: GrammarChecker, schema: dict, inside: list[str], outside: list[str]) -> None:
    grammar = number_grammar(schema)
    assert [t for t in inside if not checker.accepts(grammar, t)] == []
    assert [t for t in outside if checker.accepts(grammar, t)] == []


def test_frigate_review_schema_grammar(checker: GrammarChecker) -> None:
    """The bounds Frigate's review schema puts on numbers hold in the whole-document grammar too."""
    schema = {
        "type": "object",
        "properties": {
            "confidence": {"type": "number", "minimum": 0.0, "maximum": 1.0},
            "potential_threat_level": {"type": "integer", "minimum": 0, "maximum": 3},
        },
        "required": ["confidence", "potential_threat_level"],
        "additionalProperties": False,
    }
    grammar = schema_grammar(schema)
    assert checker.accepts(grammar, '{"confidence": 0.85, "potential_threat_level": 1}')
    assert checker.accepts(grammar, '{"confidence":1,"potential_threat_level":0}')
    for bad in (
        '{"confidence": 1.5, "potential_threat_level": 1}',
        '{"confidence": 85, "potential_threat_level": 1}',
        '{"confidence": 0.5, "potential_threat_level": 4}',
        '{"confidence": -0.1, "potential_threat_level": 1}',
        '{"confidence": 0.5, "potential_threat_level": 1, "x": 1}',
    ):
        assert not checker.accepts(grammar, bad), bad


@pytest.mark.parametrize(
    ("schema", "good", "bad"),
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
        ({"enum": [1, 5, "a"], "minimum": 2}, ["5", '"a"'], ["1"]),
        ({"minimum": 1}, ["1", "2.5"], ["0"]),
        ({}, ["1", '"x"', "[true]", "null"], ["nul"]),
        ({"type": "array", "items": True, "maxItems": 1}, ["[]", '["x"]'], ["[1, 2]"]),
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
    ],
)
def test_schema_keywords_are_enforced(checker: GrammarChecker, schema: dict, good: list[str], bad: list[str]) -> None:
    grammar = schema_grammar(schema)
    for text in good:
        jsonschema.validate(json.loads(text), schema)
        assert checker.accepts(grammar, text), text
    for text in bad:
        assert not checker.accepts(grammar, text), text


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"type": "integer", "minimum": 5, "maximum": 4}, "range is empty"),
        ({"type": "number", "exclusiveMinimum": 1, "exclusiveMaximum": 1}, "range is empty"),
        ({"type": "number", "minimum": 1e60}, "40 or more digits"),
        ({"type": "array", "uniqueItems": True}, "uniqueItems"),
        ({"type": "object", "properties": {"a": {"type": "integer", "multipleOf": 5}}}, "#/properties/a: keyword"),
        ({"type": "string", "minLength": 3, "maxLength": 2}, "minLength 3 is greater"),
        ({"type": "string", "pattern": "^a+$", "maxLength": 2}, "pattern or format"),
        ({"allOf": [{"type": "integer"}, {"minimum": 1}]}, "allOf with more than one"),
        ({"anyOf": [{"type": "integer"}], "minimum": 1}, "sibling keyword"),
        ({"$ref": "#/$defs/A", "maxLength": 1, "$defs": {"A": {"type": "string"}}}, "sibling keyword"),
        ({"type": "object", "required": ["a"]}, "required propert"),
        ({"type": "array", "prefixItems": [{"type": "integer"}], "minItems": 2}, "prefixItems"),
        ({"minLength": 1, "minimum": 1}, 'need a "type"'),
        ({"type": "string", "not": {"const": "x"}}, "keyword(s) not"),
        ({"enum": [1, 2], "minimum": 3}, "no enum/const value"),
        ({"type": "object", "properties": {"a": False}}, "false matches nothing"),
    ],
)
def test_schema_keywords_llama_cpp_would_drop_are_refused(schema: dict, message: str) -> None:
    with pytest.raises(ConstraintError, match=re.escape(message)):
        schema_grammar(schema)


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"s": {"type": "string", "minLength": 100_000_000}}, "required": ["s"]},
        {"type": "string", "maxLength": 5_000_000},
        {"type": "array", "items": {"type": "integer"}, "minItems": 1_000_000},
        {"type": "array", "items": {"type": "integer"}, "maxItems": 10**12},
    ],
)
def test_a_count_too_large_to_write_out_is_refused_at_once(schema: dict[str, object]) -> None:
    """A length or item count is written out in the grammar: a huge one used to block the server for minutes
    (and grow it to gigabytes) before anything could answer; it is a 400 naming the keyword instead."""
    from ai.nemotron.engines.llamacpp_schema import schema_grammar
    from ai.nemotron.errors import ConstraintError

    with pytest.raises(ConstraintError, match="over this server's limit"):
        schema_grammar(schema)
