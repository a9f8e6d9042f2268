"""Kubernetes resource quantities (`500m`, `1Gi`, `1e3`), parsed exactly so they can be compared.

The grammar is Kubernetes' own: a signed decimal number followed by a binary suffix (Ki..Ei),
a decimal SI suffix (n, u, m, "", k, M, G, T, P, E) or a decimal exponent (e3, E-2).
"""

from __future__ import annotations

import sys
from math import gcd

_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}  # powers of two
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}  # powers of ten
# The text grammar, read by `split_quantity` with string methods: compiling it was 1.6 M
# instructions at every start-up (docs/performance.md, round 4); tests/test_startup_helpers.py
# holds the two to the same answers.
GRAMMAR = r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$"
_DIGITS = "0123456789"

# The same grammar as a JSON-schema pattern, for the CRDs.
PATTERN = (r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
           r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$")

# Bounds that keep the arithmetic small whatever the text says (`1e99999999` was minutes of
# exact arithmetic, a 5,000-digit number an internal error):
MAX_EXPONENT_DIGITS = 19  # Kubernetes parses the exponent as an int64 and refuses a longer one
MAX_MAGNITUDE = 30  # powers of ten: far above any resource (int64 is 9.2e18), far below any cost
MIN_MAGNITUDE = -30  # a non-zero amount this small is 1n to Kubernetes, which rounds up to nano units
_HASH_MODULUS = sys.hash_info.modulus


class Exact:
    """An exact rational number: what `fractions.Fraction` gave here (equal to, comparable and
    hashable with Fractions and ints), without importing `fractions` and `decimal`, which were
    about 3 % of every render's start-up (docs/performance.md). Only what the callers use:
    comparisons, negation, int()."""

    __slots__ = ("numerator", "denominator")

    def __init__(self, numerator: int, denominator: int = 1) -> None:
        common = gcd(numerator, denominator)  # denominator > 0 always (a power of ten here)
        self.numerator = numerator // common
        self.denominator = denominator // common

    def _pair(self, other: object) -> tuple[int, int] | None:
        """(self scaled, other scaled) over a common denominator; None for another kind of number."""
        if isinstance(other, int):
            return self.numerator, other * self.denominator
        num, den = getattr(other, "numerator", None), getattr(other, "denominator", None)
        if isinstance(num, int) and isinstance(den, int) and den > 0:
            return self.numerator * den, num * self.denominator
        return None

    def __eq__(self, other: object) -> bool:
        pair = self._pair(other)
        return NotImplemented if pair is None else pair[0] == pair[1]

    def __lt__(self, other: object) -> bool:
        pair = self._pair(other)
        return NotImplemented if pair is None else pair[0] < pair[1]

    def __le__(self, other: object) -> bool:
        pair = self._pair(other)
        return NotImplemented if pair is None else pair[0] <= pair[1]

    def __gt__(self, other: object) -> bool:
        pair = self._pair(other)
        return NotImplemented if pair is None else pair[0] > pair[1]

    def __ge__(self, other: object) -> bool:
        pair = self._pair(other)
        return NotImplemented if pair is None else pair[0] >= pair[1]

    def __neg__(self) -> Exact:
        return Exact(-self.numerator, self.denominator)

    def __int__(self) -> int:
        """Truncated toward zero, as int(Fraction) is."""
        whole = abs(self.numerator) // self.denominator
        return whole if self.numerator >= 0 else -whole

    def __hash__(self) -> int:
        """Python's numeric hash, so an Exact equal to an int or a Fraction hashes as it does."""
        if self.denominator == 1:
            return hash(self.numerator)
        inverse = pow(self.denominator, -1, _HASH_MODULUS)  # a power of ten: prime to the modulus
        value = hash(hash(abs(self.numerator)) * inverse)
        value = value if self.numerator >= 0 else -value
        return -2 if value == -1 else value

    def __repr__(self) -> str:
        return f"Exact({self.numerator}, {self.denominator})"


NANO = Exact(1, 10**9)
_KEEP_DIGITS = 80  # significant digits kept: down to 10^-50 for the largest value allowed


class QuantityError(ValueError):
    pass


def _shown(value: object) -> str:
    """The value as a message quotes it: at most 40 characters (an input may be megabytes)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:30] + "..." + text[-7:]


def parse_quantity(value: str | int | float) -> Exact:
    """Exact value of a quantity; raises QuantityError with a hint on bad input.

    Its size is checked on the text before any arithmetic: more than 10^30 is refused, a non-zero
    amount under 10^-30 counts as 1n (Kubernetes rounds any non-zero amount up to nano units).
    """
    if isinstance(value, bool):
        raise QuantityError(f"{_shown(value)} is not a quantity")
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise QuantityError(f"{_shown(value)} is not a Kubernetes quantity (examples: 500m, 2, 1Gi, 250Gi)")
        value = repr(value)
    text = str(value).strip()
    parts = split_quantity(text)
    if parts is None:
        raise QuantityError(f"{_shown(value)} is not a Kubernetes quantity (examples: 500m, 2, 1Gi, 250Gi)")
    number, suffix = parts
    negative = number.startswith("-")
    whole, _, frac = number.lstrip("+-").partition(".")
    digits = (whole + frac).lstrip("0")
    if not digits:
        return Exact(0)
    exp10, exp2 = _exponents(value, suffix, -len(frac))
    magnitude = len(digits) + exp10 + exp2 * 0.30103  # the value is below 10^magnitude
    if magnitude > MAX_MAGNITUDE:
        raise QuantityError(f"{_shown(value)} is more than 10^{MAX_MAGNITUDE}, far above any resource Kubernetes "
                            "schedules (its quantities hold at most 9.2e18); write the size you mean")
    if magnitude < MIN_MAGNITUDE:
        return -NANO if negative else NANO
    if len(digits) > _KEEP_DIGITS:  # only far below a nano unit: round the rest up, as Kubernetes does
        rest = digits[_KEEP_DIGITS:]
        exp10 += len(rest)
        digits = str(int(digits[:_KEEP_DIGITS]) + (1 if rest.strip("0") else 0))
    number_ = int(digits) << exp2
    amount = Exact(number_ * 10**exp10) if exp10 >= 0 else Exact(number_, 10**-exp10)
    return -amount if negative else amount


def split_quantity(text: str) -> tuple[str, str] | None:
    """(number, suffix) as GRAMMAR's two groups give them (suffix "" for none), None when it does
    not match. The longest number is the only one: no suffix starts with a digit or a dot."""
    if text.endswith("\n"):  # the pattern's `$` also matches before one final newline
        text = text[:-1]
    body = text[1:] if text[:1] in ("+", "-") else text
    rest = body.lstrip(_DIGITS)
    whole = len(body) - len(rest)
    if rest[:1] == ".":
        after = rest[1:]
        rest = after.lstrip(_DIGITS)
        if whole == 0 and len(after) == len(rest):
            return None
    elif whole == 0:
        return None
    if rest in _BINARY or rest in _DECIMAL:
        return text[:len(text) - len(rest)], rest
    if rest[:1] in ("e", "E"):
        exponent = rest[2:] if rest[1:2] in ("+", "-") else rest[1:]
        if exponent and not exponent.lstrip(_DIGITS):
            return text[:len(text) - len(rest)], rest
    return None


def _exponents(value: object, suffix: str, exp10: int) -> tuple[int, int]:
    """(power of ten, power of two) the suffix adds to `exp10`."""
    if suffix in _BINARY:
        return exp10, _BINARY[suffix]
    if suffix in _DECIMAL:
        return exp10 + _DECIMAL[suffix], 0
    if len(suffix[1:].lstrip("+-")) > MAX_EXPONENT_DIGITS:
        raise QuantityError(f"{_shown(value)} has an exponent of more than {MAX_EXPONENT_DIGITS} digits, which "
                            "Kubernetes refuses; write the size you mean")
    return exp10 + int(suffix[1:]), 0
