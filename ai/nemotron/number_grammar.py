"""GBNF for JSON numbers and integers inside bounds (JSON Schema ``minimum``, ``maximum``,
``exclusiveMinimum``, ``exclusiveMaximum``), enforced while decoding, never checked afterwards.

llama.cpp's own schema converter drops these keywords; this module writes the grammar instead. It is
exact for what it admits: a sentence of the grammar is a plain decimal (``-``? integer part without
leading zeros, then optionally ``.`` and digits; no exponent) whose value lies inside the bounds, and
every plain decimal inside the bounds is a sentence, up to two caps that keep grammars small: at most
:data:`FRACTION_DIGITS` digits after the point (more when a bound itself has more) and, with no upper
bound, at most :data:`INTEGER_DIGITS` digits before it.

How the bounds are read (the rule, and why):

* ``integer``: exact. ``minimum: 0.5`` means at least 1, ``exclusiveMaximum: 10`` at most 9.
* ``number``: a value is inside a bound when it is inside both as a decimal compared with the bound as
  written in the schema (a double's shortest round-trip form, ``repr``: ``0.1``, ``1e10``), and as the
  IEEE double a JSON parser reads it as (Python's ``json``, pydantic, JavaScript) compared with the
  bound's double. The first alone would let ``10000000000.000000000000001`` through
  ``exclusiveMinimum: 1e10`` (it reads as ``1e10``); the second alone would let
  ``9999999999.9999999`` through ``minimum: 1e10`` for the same reason. Each bound becomes the extreme
  decimal (at the digit cap) inside both; reading decimals as doubles is monotonic, so every decimal
  between the two resulting bounds is inside too, and the grammar is a plain digit comparison.
* A negative number is never written ``-0``: the negative branch needs a nonzero digit.

Source of the decimal form: RFC 8259 section 6 (JSON numbers); of the keywords: JSON Schema 2020-12
validation, section 6.2. The construction is a digit-by-digit comparison with both bounds, the same
idea as llama.cpp's ``_generate_min_max_int`` (examples/json_schema_to_grammar.py), extended to
fractions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal, localcontext
from fractions import Fraction
from typing import Any

from ai.nemotron.errors import ConstraintError

FRACTION_DIGITS = 15  # digits after the point a number may have (more when a bound has more)
INTEGER_DIGITS = 16  # digits before the point when there is no upper bound
MAX_DIGITS = 40  # a bound needing more digits than this is refused (the grammar would be huge)
BOUND_KEYWORDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
_ZERO = '"0"'
_EXACT = Context(prec=400)  # every decimal here has at most 2 * MAX_DIGITS digits: arithmetic stays exact


@dataclass(frozen=True)
class NumberRange:
    """Inclusive decimal bounds (None: unbounded) and the digits a value may have after the point."""

    low: Decimal | None
    high: Decimal | None
    integer: bool
    fraction_digits: int

    def contains(self, value: Decimal) -> bool:
        """Whether ``value`` is inside the bounds (the grammar's caps aside)."""
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _reads_as(n: int, scale: int) -> Fraction:
    """The exact value of the double a JSON parser reads the decimal ``n / scale`` as."""
    return Fraction(float(Fraction(n, scale)))


def _decimal_bound(value: Fraction, strict: bool, lower: bool, digits: int) -> Decimal:
    """The extreme decimal with at most ``digits`` digits after the point that, read as a double, is
    inside the bound: the smallest one >= ``value`` (> when ``strict``) for a lower bound, the largest
    one <= (<) for an upper bound. Reading decimals as doubles is monotonic, so every decimal beyond it
    (of at most that many digits) is inside too, and every one before it is outside.
    """
    scale = 10**digits
    ulp = Fraction(math.ulp(float(value))) + Fraction(1, scale)

    def inside(n: int) -> bool:
        got = _reads_as(n, scale)
        if lower:
            return got > value if strict else got >= value
        return got < value if strict else got <= value

    # a bracket [outside, inside] around the bound, then bisection (the doubles can be far coarser
    # than the decimal step, so stepping one by one could take billions of steps)
    out_n = math.floor((value - 2 * ulp) * scale) - 1 if lower else math.ceil((value + 2 * ulp) * scale) + 1
    in_n = math.ceil((value + 2 * ulp) * scale) + 1 if lower else math.floor((value - 2 * ulp) * scale) - 1
    if not inside(in_n) or inside(out_n):  # cannot happen for finite bounds; refuse rather than guess
        raise ConstraintError(f"the bound {float(value)!r} cannot be written with {digits} digits after the point")
    while abs(in_n - out_n) > 1:
        mid = (in_n + out_n) // 2
        if inside(mid):
            in_n = mid
        else:
            out_n = mid
    return Decimal(in_n).scaleb(-digits, _EXACT)


def _written_bound(value: int | float, strict: bool, lower: bool, digits: int) -> Decimal:
    """The extreme decimal with at most ``digits`` digits after the point inside the bound as written
    in the schema (compared exactly, as decimals)."""
    written = _written(value)
    step = Decimal(1).scaleb(-digits, _EXACT)
    rounded = written.quantize(step, ROUND_CEILING if lower else ROUND_FLOOR, _EXACT)
    if strict and rounded == written:
        rounded = _EXACT.add(rounded, step) if lower else _EXACT.subtract(rounded, step)
    return rounded


Bound = tuple[int | float, bool]  # a bound as written in the schema, and whether it is exclusive


def _bounds(schema: dict[str, Any], path: str) -> tuple[list[Bound], list[Bound]]:
    """Lower and upper bounds as (value, exclusive) pairs; draft-4 boolean exclusives included."""
    lows: list[Bound] = []
    highs: list[Bound] = []
    for key, target, exclusive_key in (
        ("minimum", lows, "exclusiveMinimum"),
        ("maximum", highs, "exclusiveMaximum"),
    ):
        if key in schema:
            if not _is_number(schema[key]):
                raise ConstraintError(f"json_schema at {path}: {key} must be a number")
            target.append((schema[key], schema.get(exclusive_key) is True))
        exclusive = schema.get(exclusive_key)
        if exclusive is not None and not isinstance(exclusive, bool):
            if not _is_number(exclusive):
                raise ConstraintError(f"json_schema at {path}: {exclusive_key} must be a number")
            target.append((exclusive, True))
    for value, _ in lows + highs:
        if abs(value) >= 10**MAX_DIGITS:
            raise ConstraintError(f"json_schema at {path}: a bound of {MAX_DIGITS} or more digits cannot be enforced")
    return lows, highs


def _written(value: int | float) -> Decimal:
    """A bound as the decimal written in the schema (a double: its shortest round-trip form, ``repr``)."""
    return Decimal(value) if isinstance(value, int) else Decimal(repr(value))


def _decimal_digits(value: Decimal) -> tuple[str, str]:
    """Integer and fraction digits of a non-negative decimal (no leading / trailing zeros; "0" for zero)."""
    text = format(value.copy_abs(), "f")  # copy_abs: a "-0" bound is zero
    whole, _, fraction = text.partition(".")
    return whole.lstrip("0") or "0", fraction.rstrip("0")


def number_range(schema: dict[str, Any], path: str) -> NumberRange | None:
    """The bounds of an ``integer`` or ``number`` schema; None when it has none.

    Raises ConstraintError (HTTP 400) naming ``path`` for an empty range, a bound that is not a number,
    or a bound needing more than :data:`MAX_DIGITS` digits.
    """
    with localcontext(_EXACT):
        return _number_range(schema, path)


def _number_range(schema: dict[str, Any], path: str) -> NumberRange | None:
    if not any(key in schema for key in BOUND_KEYWORDS):
        return None
    integer = schema.get("type") == "integer"
    lows, highs = _bounds(schema, path)
    low: Decimal | None = None
    high: Decimal | None = None
    fraction_digits = 0
    if integer:
        if lows:
            low = Decimal(max(math.floor(Fraction(v)) + 1 if strict else math.ceil(Fraction(v)) for v, strict in lows))
        if highs:
            high = Decimal(
                min(math.ceil(Fraction(v)) - 1 if strict else math.floor(Fraction(v)) for v, strict in highs)
            )
    else:
        needed = [len(_decimal_digits(abs(_written(v)))[1]) + 1 for v, _ in lows + highs]
        fraction_digits = min(max([FRACTION_DIGITS, *needed]), MAX_DIGITS)
        if lows:  # inside both as written and as read: the larger of the two lower bounds
            low = max(
                max(
                    _written_bound(v, strict, True, fraction_digits),
                    _decimal_bound(Fraction(v), strict, True, fraction_digits),
                )
                for v, strict in lows
            )
        if highs:
            high = min(
                min(
                    _written_bound(v, strict, False, fraction_digits),
                    _decimal_bound(Fraction(v), strict, False, fraction_digits),
                )
                for v, strict in highs
            )
    if low is not None and high is not None and low > high:
        raise ConstraintError(
            f"json_schema at {path}: the {schema.get('type', 'number')} range is empty"
            + ("" if integer else f" (with at most {fraction_digits} digits after the point)")
        )
    return NumberRange(low, high, integer, fraction_digits)


def _repeat(item: str, low: int, high: int) -> str:
    """``item`` repeated low..high times ('' when it can only be empty)."""
    if high == 0:
        return ""
    if low == high:
        return f"{item}{{{low}}}" if low > 1 else item
    return f"{item}{{{low},{high}}}"


def _digit_class(low: int, high: int) -> str:
    return f'"{low}"' if low == high else f"[{low}-{high}]"


class _Magnitudes:
    """Rules for the non-negative decimals m with a <= m <= b (b None: no upper bound)."""

    def __init__(self, name: str, rules: dict[str, str], a: Decimal, b: Decimal | None, fraction_digits: int) -> None:
        self.name = name
        self.rules = rules
        self.low_int, self.low_frac = _decimal_digits(a)
        self.high_int, self.high_frac = _decimal_digits(b) if b is not None else ("", "")
        self.bounded = b is not None
        self.cap = fraction_digits
        self.memo: dict[tuple[Any, ...], str | None] = {}

    def _rule(self, key: tuple[Any, ...], body: str) -> str:
        """A named rule for a non-trivial body (so shared states are written once)."""
        if " " not in body and "|" not in body:
            return body
        name = f"{self.name}-{len(self.rules)}"
        self.rules[name] = body
        return name

    @staticmethod
    def _seq(*parts: str) -> str:
        return " ".join(p for p in parts if p)

    def _free_fraction(self, j: int) -> str:
        """Any fraction digits after ``j`` already written (none yet: the point comes first)."""
        if j == 0:
            return f'("." {_repeat("[0-9]", 1, self.cap)})?' if self.cap else ""
        return _repeat("[0-9]", 0, self.cap - j)

    def _zero_fraction(self, j: int) -> str:
        """Only zeros may follow (the value equals the upper bound so far)."""
        if j == 0:
            return f'("." {_repeat(_ZERO, 1, self.cap)})?' if self.cap else ""
        return _repeat(_ZERO, 0, self.cap - j)

    def fraction(self, j: int, tight_low: bool, tight_high: bool) -> str | None:
        """What may follow once the integer part and ``j`` fraction digits are written.

        ``tight_low``/``tight_high``: the digits so far equal the bound's. None: no way to finish.
        """
        if tight_low and j >= len(self.low_frac):
            tight_low = False  # the lower bound's remaining digits are zeros: anything from here is >= it
        if tight_high and j >= len(self.high_frac):
            return None if tight_low else self._zero_fraction(j)
        if not tight_low and not tight_high:
            return self._free_fraction(j)
        key = ("f", j, tight_low, tight_high)
        if key in self.memo:
            return self.memo[key]
        alternatives: list[str] = []
        if j < self.cap:
            lo = int(self.low_frac[j]) if tight_low else 0
            hi = int(self.high_frac[j]) if tight_high else 9
            alternatives = self._digits(lo, hi, tight_low, tight_high, lambda tl, th: self.fraction(j + 1, tl, th))
        can_end = not tight_low  # ending means zeros follow: below the lower bound while still tight to it
        result: str | None
        if not alternatives:
            result = "" if can_end else None
        else:
            body = " | ".join(alternatives)
            if j == 0:
                body = f'"." ({body})'
            result = self._rule(key, f"({body})?" if can_end else body)
        self.memo[key] = result
        return result

    def _digits(self, lo: int, hi: int, tight_low: bool, tight_high: bool, follow: Any) -> list[str]:
        """Alternatives for one digit in lo..hi and what follows it, split by which bounds stay tight."""
        if lo > hi:
            return []
        groups: list[tuple[int, int, bool, bool]] = []
        if tight_low and tight_high and lo == hi:
            groups.append((lo, hi, True, True))
        else:
            start, end = lo, hi
            if tight_low:
                groups.append((lo, lo, True, False))
                start = lo + 1
            if tight_high:
                groups.append((hi, hi, False, True))
                end = hi - 1
            if start <= end:
                groups.append((start, end, False, False))
        out = []
        for d_lo, d_hi, tl, th in groups:
            rest = follow(tl, th)
            if rest is not None:
                out.append(self._seq(_digit_class(d_lo, d_hi), rest))
        return out

    def integer(self, k: int, i: int, tight_low: bool, tight_high: bool) -> str | None:
        """What may follow the first ``i`` of ``k`` integer digits."""
        if i == k:
            return self.fraction(0, tight_low, tight_high)
        if not tight_low and not tight_high:
            return self._seq(_repeat("[0-9]", k - i, k - i), self._free_fraction(0))
        key = ("i", k, i, tight_low, tight_high)
        if key in self.memo:
            return self.memo[key]
        lo = int(self.low_int[i]) if tight_low else (1 if i == 0 and k > 1 else 0)
        hi = int(self.high_int[i]) if tight_high else 9
        alternatives = self._digits(lo, hi, tight_low, tight_high, lambda tl, th: self.integer(k, i + 1, tl, th))
        result = self._rule(key, " | ".join(alternatives)) if alternatives else None
        self.memo[key] = result
        return result

    def alternatives(self) -> list[str]:
        """One alternative per length of the integer part (free lengths together)."""
        k_low = len(self.low_int)
        k_high = len(self.high_int) if self.bounded else max(INTEGER_DIGITS, k_low)
        out: list[str] = []
        for k in sorted({k_low, k_high}):
            tight_low = k == k_low
            tight_high = self.bounded and k == k_high
            if not tight_low and not tight_high:
                continue  # the unbounded top length is free: written with the free lengths below
            rest = self.integer(k, 0, tight_low, tight_high)
            if rest is not None:
                out.append(rest)
        first_free = k_low + 1
        last_free = k_high - 1 if self.bounded else k_high
        if first_free <= last_free:
            digits = _repeat("[0-9]", first_free - 1, last_free - 1)
            out.append(self._seq("[1-9]", digits, self._free_fraction(0)))
        return out


def range_rules(r: NumberRange, name: str) -> dict[str, str]:
    """GBNF rules for the numbers in ``r``: ``name`` is the whole number, helper rules are ``name-N``.

    The number rule has no trailing whitespace. Raises ConstraintError when no number in the range can
    be written within the digit caps.
    """
    with localcontext(_EXACT):
        return _range_rules(r, name)


def _range_rules(r: NumberRange, name: str) -> dict[str, str]:
    rules: dict[str, str] = {}
    alternatives: list[str] = []
    smallest_positive = Decimal(1) if r.integer else Decimal(1).scaleb(-r.fraction_digits)
    # zero and up
    if r.high is None or r.high >= 0:
        low = max(r.low, Decimal(0)) if r.low is not None else Decimal(0)
        alternatives += _Magnitudes(f"{name}-p", rules, low, r.high, r.fraction_digits).alternatives()
    # below zero: "-" and a magnitude of at least the smallest positive value (never "-0")
    if r.low is None or r.low < 0:
        low = max(-r.high, smallest_positive) if r.high is not None and r.high < 0 else smallest_positive
        high = -r.low if r.low is not None else None
        if high is None or low <= high:
            negative = _Magnitudes(f"{name}-n", rules, low, high, r.fraction_digits).alternatives()
            if negative:
                body = negative[0] if len(negative) == 1 else "(" + " | ".join(negative) + ")"
                alternatives.append(f'"-" {body}')
    if not alternatives:
        raise ConstraintError(f"no number between {r.low} and {r.high} can be written with the digits allowed")
    rules[name] = " | ".join(alternatives)
    return rules
