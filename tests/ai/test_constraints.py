"""Reading constraints from every request form, and turning regexes and choices into GBNF."""

from __future__ import annotations

import pytest

from ai.nemotron.constraints import Constraint, constraint_from_request
from ai.nemotron.errors import ConstraintError
from ai.nemotron.gbnf import choice_grammar, regex_grammar

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


def test_integer_bounds_become_an_enforced_enum() -> None:
    from ai.nemotron.engines.llamacpp_schema import schema_grammar

    grammar = schema_grammar(
        {"type": "object", "properties": {"s": {"type": "integer", "minimum": 98, "maximum": 100}}}
    )
    assert 's ::= "98" | "99" | "100"' in grammar


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"type": "number", "minimum": 0}, "integers only"),
        ({"type": "integer", "minimum": 0}, "both ends"),
        ({"type": "integer", "minimum": 5, "maximum": 4}, "empty"),
        ({"type": "array", "uniqueItems": True}, "uniqueItems"),
        ({"type": "object", "properties": {"a": {"type": "integer", "multipleOf": 5}}}, "#/properties/a"),
    ],
)
def test_schema_keywords_llama_cpp_would_drop_are_refused(schema: dict, message: str) -> None:
    from ai.nemotron.engines.llamacpp_schema import schema_grammar

    with pytest.raises(ConstraintError, match=message):
        schema_grammar(schema)
