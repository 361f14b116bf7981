"""The one constraint engine of both engines: llguidance (https://github.com/guidance-ai/llguidance).

Every :class:`~ai.nemotron.constraints.Constraint` becomes an llguidance grammar here (JSON Schema, GBNF,
regular expressions, choices) and is enforced token by token with an ``LLMatcher`` (:class:`Guide`): each
step's token mask (``compute_bitmask``, ~0.1 ms for a 49k vocabulary on this VM) checks the token the llama.cpp
engine's sampler chain drew, and masks the vocabulary only when that token is refused; the HF engine masks
the logits every step. Measured against llama.cpp's own grammar sampler (BENCHMARKS.md, "Constraint
engine"): several times cheaper per token, ~90x per whole-vocabulary mask, and more keywords.

Why llguidance and not llama.cpp's GBNF converter for both: it implements JSON Schema's own semantics
(``pattern`` unanchored, ``format`` email/date/time/date-time/uuid/uri/ipv4/..., ``minimum``/``maximum``
and ``exclusive*`` on integers and numbers, ``multipleOf``, ``minProperties``, ``patternProperties``,
list-form ``items``, type unions with ``enum`` or ``maxLength``), it refuses what it cannot enforce
(``not``, ``if``/``then``, ``contains``, ``uniqueItems``, an unknown ``format``) with an error naming the
keyword, which becomes a 400, and it is a maintained library (it is what llama.cpp itself links with
``LLAMA_LLGUIDANCE``); llama.cpp's converter drops numeric bounds and several keywords silently.

Output spacing follows llama-server's JSON: ``", "`` between items, ``": "`` after keys, no free
whitespace (a model that may emit whitespace anywhere can fill its budget with it).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import numpy as np
from llguidance import LLMatcher, LLTokenizer
from llguidance.gbnf_to_lark import any_to_lark

from ai.nemotron.constraints import Constraint
from ai.nemotron.errors import ConstraintError

if TYPE_CHECKING:  # a TypedDict of llguidance's stubs only, not there at run time
    from llguidance._lib import JsonCompileOptions

JSON_GRAMMAR_DEFAULTS: JsonCompileOptions = {
    "whitespace_flexible": False,
    "item_separator": ", ",
    "key_separator": ": ",
}


MESSAGE_CHARS = 400  # llguidance quotes the whole regex or grammar in its errors: a 400 names the fault, briefly
_RUNS = re.compile(r"(.)\1{15,}", re.DOTALL)


def brief(message: str) -> str:
    """An llguidance error for a 400: runs of one character shortened ("((((...(x5000)"), at most
    MESSAGE_CHARS characters, the start and the end kept (the end says what is wrong)."""
    text = _RUNS.sub(lambda m: f"{m.group(1) * 3}...(x{len(m.group(0))})", message.strip())
    if len(text) <= MESSAGE_CHARS:
        return text
    half = MESSAGE_CHARS // 2
    return f"{text[:half]} ... {text[-half:]}"


_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_LISTS = ("anyOf", "oneOf", "prefixItems")  # not allOf: its members' keys combine
_SCHEMAS = ("items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames")
_OPEN_KEYS = ("additionalProperties", "patternProperties", "unevaluatedProperties")


_MIXES = ("allOf", "anyOf", "oneOf", "$ref")  # keys whose members llguidance merges with the object's own


def _merged_refs(schema: Any, found: set[str]) -> set[str]:
    """Names of ``$defs``/``definitions`` entries that a ``$ref`` beside other keys points to (they merge)."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and len(schema) > 1:
            found.add(ref.rsplit("/", 1)[-1])
        for value in schema.values():
            _merged_refs(value, found)
    elif isinstance(schema, list):
        for value in schema:
            _merged_refs(value, found)
    return found


def closed_objects(schema: Any) -> Any:
    """A copy of ``schema`` in which every object schema with ``properties`` and nothing said about other keys
    takes no other keys, as llama.cpp's JSON-schema converter (and so llama-server) writes it: a subset of what
    the schema allows, so every answer still validates, and a small model cannot pad an answer with keys of its
    own (llguidance alone follows JSON Schema, where other keys are allowed). An object that llguidance merges
    with others (beside ``allOf``/``anyOf``/``oneOf``/``$ref``, a member of such a list under an object, a
    definition a ``$ref`` with siblings points to) stays open: closing one side would forbid the other's keys."""
    return _close(schema, _merged_refs(schema, set()), close_self=True)


def _close(schema: Any, merged: set[str], *, close_self: bool) -> Any:
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    has_properties = isinstance(out.get("properties"), dict)
    for key in _SCHEMA_MAPS:
        if isinstance(out.get(key), dict):
            defs = key in ("$defs", "definitions")
            out[key] = {
                name: _close(sub, merged, close_self=not (defs and name in merged)) for name, sub in out[key].items()
            }
    for key in _SCHEMA_LISTS:
        if isinstance(out.get(key), list):
            out[key] = [_close(sub, merged, close_self=not has_properties) for sub in out[key]]
    for key in _SCHEMAS:
        if key in out:
            value = out[key]
            out[key] = (
                [_close(v, merged, close_self=True) for v in value]
                if isinstance(value, list)
                else _close(value, merged, close_self=True)
            )
    mixed = any(key in out for key in _MIXES)
    if close_self and has_properties and not mixed and not any(key in out for key in _OPEN_KEYS):
        out["additionalProperties"] = False
    return out


def grammar_of(constraint: Constraint) -> str:
    """The llguidance grammar of ``constraint`` (not yet checked against a tokenizer); a ConstraintError
    (HTTP 400) when it cannot be written."""
    value, where = constraint.value, constraint.source or constraint.kind
    try:
        if constraint.kind == "json_schema":
            return LLMatcher.grammar_from_json_schema(closed_objects(value), defaults=JSON_GRAMMAR_DEFAULTS)
        if constraint.kind == "json_object":
            return LLMatcher.grammar_from_json_schema({"type": "object"}, defaults=JSON_GRAMMAR_DEFAULTS)
        if constraint.kind == "regex":
            return LLMatcher.grammar_from_regex(value)
        if constraint.kind == "choice":
            return LLMatcher.grammar_from_lark("start: " + " | ".join(json.dumps(c) for c in value))
        if constraint.kind == "grammar":
            return LLMatcher.grammar_from_lark(any_to_lark(value))
    except RecursionError as exc:  # the GBNF-to-Lark converter recurses once per nested group
        raise ConstraintError(
            f"{where}: the {constraint.kind} nests too deeply (a few hundred nested groups at most)"
        ) from exc
    except Exception as exc:  # the GBNF converter raises plain Exception for unknown rules
        raise ConstraintError(
            f"{where}: the {constraint.kind} constraint cannot be compiled: {brief(str(exc))}"
        ) from exc
    raise ConstraintError(f"unsupported constraint kind {constraint.kind!r}")


def compile_grammar(constraint: Constraint, tokenizer: LLTokenizer) -> str:
    """:func:`grammar_of`, checked against ``tokenizer``: a ConstraintError naming what cannot be enforced
    ("Unimplemented keys: ["not"]", "Unknown format: ...", a GBNF syntax error)."""
    grammar = grammar_of(constraint)
    is_error, messages = LLMatcher.validate_grammar_with_warnings(grammar, tokenizer)
    if is_error:
        where = constraint.source or constraint.kind
        raise ConstraintError(f"{where}: the {constraint.kind} constraint cannot be enforced: {brief(messages[0])}")
    return grammar


class Guide:
    """One request's grammar state over a vocabulary of ``n_vocab`` tokens whose end-of-generation tokens
    are ``end_ids``. Once the grammar is complete only an end-of-generation token may follow.

    Each step's allowed set is llguidance's token mask, computed once per step (~0.1 ms for 49k tokens) and
    used both to check a drawn token and to mask the vocabulary: the same set either way. (llguidance's
    ``validate_tokens`` accepts any spelling of forced text, while its mask keeps the canonical tokenization;
    mixing the two gave different greedy answers for the same grammar, and non-canonical tokens read worse to
    the model. llama.cpp's own llguidance sampler uses the mask too.)"""

    def __init__(self, tokenizer: LLTokenizer, grammar: str, n_vocab: int, end_ids: frozenset[int]) -> None:
        self._matcher = LLMatcher(tokenizer, grammar, log_level=0)
        if self._matcher.is_error():
            raise ConstraintError(f"the constraint cannot be enforced: {brief(self._matcher.get_error())}")
        self._n_vocab = n_vocab
        self._end_ids = end_ids
        self._mask: np.ndarray | None = None  # this step's allowed tokens, once computed

    def allows(self, token: int) -> bool:
        """Whether ``token`` may come next."""
        return 0 <= token < self._n_vocab and bool(self.allowed()[token])

    def allowed(self) -> np.ndarray:
        """Which tokens may come next: a bool array of ``n_vocab``; a ConstraintError when none may."""
        if self._mask is not None:
            return self._mask
        if self._matcher.is_stopped():
            mask = np.zeros(self._n_vocab, dtype=bool)
            mask[sorted(t for t in self._end_ids if t < self._n_vocab)] = True
        else:
            bits = np.frombuffer(self._matcher.compute_bitmask(), dtype=np.uint8)
            mask = np.unpackbits(bits, bitorder="little")[: self._n_vocab].astype(bool)
            if mask.size < self._n_vocab:
                mask = np.concatenate([mask, np.zeros(self._n_vocab - mask.size, dtype=bool)])
        if not mask.any():
            error = (self._matcher.get_error() or "it needs text no token spells, or it has no end").strip()
            raise ConstraintError(f"the grammar allows no token this model can produce next ({brief(error)})")
        self._mask = mask
        return mask

    def accept(self, token: int) -> None:
        """Advance past ``token`` (a token :meth:`allows` let through)."""
        self._mask = None
        if self._matcher.is_stopped():
            return
        if not self._matcher.consume_token(token):
            # the token was allowed, so the grammar itself is past the engine's limits: a grammar that forces
            # the same text forever ('root ::= "tick " root') makes llguidance compute an endless forced run
            error = (self._matcher.get_error() or "no reason given").strip().splitlines()[0]
            raise ConstraintError(f"the grammar cannot be followed further: {brief(error)}")
