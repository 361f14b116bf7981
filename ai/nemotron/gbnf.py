"""GBNF (llama.cpp grammar) text for constraints llama.cpp has no native form for: choices and regexes.

A regex is parsed with Python's own regex parser and rewritten rule by rule; the output must match the
whole regex (vLLM/NIM ``guided_regex`` semantics). Constructs a grammar cannot express (look-around,
back-references, anchors inside the pattern) raise ConstraintError instead of being dropped.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # typeshed has stubs for the private modules under their deprecated public names only
    import sre_constants as sre_c
    import sre_parse
else:
    import re._constants as sre_c
    import re._parser as sre_parse

from ai.nemotron.errors import ConstraintError

_CATEGORIES = {
    sre_c.CATEGORY_DIGIT: "0-9",
    sre_c.CATEGORY_WORD: "a-zA-Z0-9_",
    sre_c.CATEGORY_SPACE: " \\t\\n\\r\\x0B\\x0C",
}
_NEGATED_CATEGORIES = {
    sre_c.CATEGORY_NOT_DIGIT: sre_c.CATEGORY_DIGIT,
    sre_c.CATEGORY_NOT_WORD: sre_c.CATEGORY_WORD,
    sre_c.CATEGORY_NOT_SPACE: sre_c.CATEGORY_SPACE,
}


def _char(code: int) -> str:
    """One code point written safely for a GBNF string or character class."""
    ch = chr(code)
    if ch.isascii() and ch.isalnum():
        return ch
    if code < 0x100:
        return f"\\x{code:02X}"
    if code < 0x10000:
        return f"\\u{code:04X}"
    return f"\\U{code:08X}"


def literal(text: str) -> str:
    """A GBNF string literal matching ``text`` exactly."""
    return '"' + "".join(_char(ord(c)) for c in text) + '"'


MAX_NESTING = 4096  # parentheses inside parentheses; llama.cpp's recursive parser overflows its stack near 20,000,
# and a maxLength of n is n nested optional groups in llama.cpp's schema converter (the risk schema: 600)


def check_nesting(gbnf: str, what: str = "the grammar") -> None:
    """Refuse a grammar whose groups nest deeper than :data:`MAX_NESTING` (outside literals and classes).

    llama.cpp parses groups recursively in C++: tens of thousands of ``(`` overflow the stack and kill
    the process, which no exception handler can catch.
    """
    depth, i, n = 0, 0, len(gbnf)
    while i < n:
        c = gbnf[i]
        if c in '"[':
            close = '"' if c == '"' else "]"
            i += 1
            while i < n and gbnf[i] != close:
                i += 2 if gbnf[i] == "\\" else 1
        elif c == "#":
            while i < n and gbnf[i] != "\n":
                i += 1
        elif c == "(":
            depth += 1
            if depth > MAX_NESTING:
                raise ConstraintError(f"{what} nests groups deeper than {MAX_NESTING} levels")
        elif c == ")":
            depth = max(0, depth - 1)
        i += 1


def choice_grammar(choices: list[str]) -> str:
    """A grammar whose only sentences are the given strings."""
    return "root ::= " + " | ".join(literal(c) for c in choices) + "\n"


def _class(items: list[tuple[Any, Any]]) -> str:
    negate = False
    parts: list[str] = []
    for op, arg in items:
        if op is sre_c.NEGATE:
            negate = True
        elif op is sre_c.LITERAL:
            parts.append(_char(arg))
        elif op is sre_c.RANGE:
            parts.append(f"{_char(arg[0])}-{_char(arg[1])}")
        elif op is sre_c.CATEGORY and arg in _CATEGORIES:
            parts.append(_CATEGORIES[arg])
        elif op is sre_c.CATEGORY and arg in _NEGATED_CATEGORIES and len(items) == 1:
            return f"[^{_CATEGORIES[_NEGATED_CATEGORIES[arg]]}]"
        else:
            raise ConstraintError(f"guided_regex: character class item {op} {arg} has no grammar equivalent")
    return "[" + ("^" if negate else "") + "".join(parts) + "]"


def _repeat(body: str, low: int, high: int) -> str:
    if (low, high) == (0, sre_c.MAXREPEAT):
        return f"({body})*"
    if (low, high) == (1, sre_c.MAXREPEAT):
        return f"({body})+"
    if (low, high) == (0, 1):
        return f"({body})?"
    if high == sre_c.MAXREPEAT:
        return f"({body}){{{low},}}"
    return f"({body}){{{low},{high}}}"


def _sequence(pattern: Any, top: bool) -> str:
    items = list(pattern)
    out: list[str] = []
    for i, (op, arg) in enumerate(items):
        if op is sre_c.AT:
            at_edge = top and (
                (i == 0 and arg in (sre_c.AT_BEGINNING, sre_c.AT_BEGINNING_STRING))
                or (i == len(items) - 1 and arg in (sre_c.AT_END, sre_c.AT_END_STRING))
            )
            if not at_edge:
                raise ConstraintError("guided_regex: anchors are only allowed at the start or end")
            continue
        out.append(_node(op, arg))
    return " ".join(out) if out else '""'


def _node(op: Any, arg: Any) -> str:
    if op is sre_c.LITERAL:
        return literal(chr(arg))
    if op is sre_c.NOT_LITERAL:
        return f"[^{_char(arg)}]"
    if op is sre_c.ANY:
        return "[^\\x0A]"
    if op is sre_c.IN:
        return _class(arg)
    if op is sre_c.BRANCH:
        return "(" + " | ".join(_sequence(alt, False) for alt in arg[1]) + ")"
    if op is sre_c.SUBPATTERN:
        return "(" + _sequence(arg[-1], False) + ")"
    if op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, sre_c.POSSESSIVE_REPEAT):
        low, high, body = arg
        return _repeat(_sequence(body, False), low, high)
    if op is sre_c.ATOMIC_GROUP:
        return "(" + _sequence(arg, False) + ")"
    raise ConstraintError(f"guided_regex: {str(op).lower()} has no grammar equivalent")


def regex_grammar(pattern: str) -> str:
    """A grammar whose sentences are exactly the strings that fully match ``pattern``."""
    try:
        parsed = sre_parse.parse(pattern)
    except re.error as exc:
        raise ConstraintError(f"guided_regex: invalid regular expression: {exc}") from exc
    except RecursionError as exc:  # Python's regex parser recurses once per nested group
        raise ConstraintError("guided_regex: groups nest too deeply") from exc
    if parsed.state.flags & (re.IGNORECASE | re.DOTALL | re.MULTILINE):
        raise ConstraintError("guided_regex: inline flags (?i), (?s), (?m) are not supported")
    try:
        return f"root ::= {_sequence(parsed, True)}\n"
    except RecursionError as exc:
        raise ConstraintError("guided_regex: groups nest too deeply") from exc
