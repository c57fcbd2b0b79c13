"""Kubernetes resource quantities (``512Mi``, ``1G``, ``250m``, ``1e6``), pure.

What the kubelet reads from ``resources.limits``: it parses the text as apimachinery's
``resource.ParseQuantity`` does and asks for ``Value()`` (memory bytes) or ``MilliValue()`` (CPU
millicores), both rounded up.

Source: staging/src/k8s.io/apimachinery/pkg/api/resource/quantity.go (``parseQuantityString``:
sign, leading zeros, numerator, ``.`` denominator, a suffix of ``eEinumkKMGTP`` characters then an
optional signed exponent; ``ParseQuantity``: non-zero values round up to 1n, BinarySI values are
capped at 2^63-1; ``ScaledValue``: ceil), suffix.go (decimal ``n u m "" k M G T P E``, binary ``Ki
Mi Gi Ti Pi Ei``, ``e``/``E`` followed by an integer exponent) and the error texts
(``ErrFormatWrong``, ``ErrNumeric``, ``ErrSuffix``).

Values far outside int64 are clamped before any arithmetic, so a hostile ``1e999999999`` or a
million-digit numerator costs no more than a short one.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

MAX_INT64 = 2**63 - 1

SPLIT_RE = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
ERR_FORMAT = "quantities must match the regular expression '" + SPLIT_RE + "'"
ERR_NUMERIC = "unable to parse numeric part of quantity"
ERR_SUFFIX = "unable to parse quantity's suffix"

_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DIGITS = "0123456789"
_HUGE = Fraction(10) ** 30  # beyond any int64: what clamped values become
_MAX_DIGITS = 40  # digits kept of a numerator or denominator (Go keeps them all; int64 needs 19)


class QuantityError(ValueError):
    """The text is not a quantity; ``str(e)`` is apimachinery's error text."""


def _split(text: str) -> tuple[bool, str, str, str]:
    """parseQuantityString: (positive, numerator digits, denominator digits, suffix)."""
    pos, end, positive = 0, len(text), True
    if text[0] in "+-":
        positive, pos = text[0] != "-", 1
    while pos < end and text[pos] == "0":
        pos += 1
    start = pos
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    num = text[start:pos] or "0"
    denom = ""
    if pos < end and text[pos] == ".":
        pos += 1
        start = pos
        while pos < end and text[pos] in _DIGITS:
            pos += 1
        denom = text[start:pos]
    suffix_start = pos
    while pos < end and text[pos] in "eEinumkKMGTP":
        pos += 1
    if pos < end and text[pos] in "+-":
        pos += 1
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    if pos < end:
        raise QuantityError(ERR_FORMAT)
    return positive, num, denom, text[suffix_start:]


def _suffix(suffix: str) -> tuple[int, int]:
    """suffixHandler.interpret: (base, exponent)."""
    if suffix in _DECIMAL:
        return 10, _DECIMAL[suffix]
    if suffix in _BINARY:
        return 2, _BINARY[suffix]
    if len(suffix) > 1 and suffix[0] in "eE":
        exp = suffix[1:]
        digits = exp.lstrip("+-")
        significant = digits.lstrip("0")
        if len(exp) - len(digits) <= 1 and digits and all(c in _DIGITS for c in digits) and len(significant) <= 19:
            value = int(significant or "0") * (-1 if exp[0] == "-" else 1)
            if -MAX_INT64 - 1 <= value <= MAX_INT64:  # strconv.ParseInt(..., 10, 64), then Go's int32(...)
                return 10, (value + 2**31) % 2**32 - 2**31
    raise QuantityError(ERR_SUFFIX)


def parse_quantity(text: str) -> Fraction:
    """The exact value of a quantity (``ParseQuantity``), clamped to about 1e30 in magnitude."""
    if not text:
        raise QuantityError(ERR_FORMAT)
    if text == "0":
        return Fraction(0)
    positive, num, denom, suffix = _split(text)
    if num != "0" and len(num) > _MAX_DIGITS:
        return _HUGE if positive else -_HUGE
    base, exponent = _suffix(suffix)
    rounded_up = len(denom) > _MAX_DIGITS and denom[_MAX_DIGITS:].strip("0") != ""
    denom = denom[:_MAX_DIGITS]
    value = Fraction(int(num + denom), 10 ** len(denom))
    if rounded_up:
        value += Fraction(1, 10 ** _MAX_DIGITS)
    if value and base == 10:
        magnitude = len(num.lstrip("0")) + exponent if num != "0" else exponent
        if magnitude > 30:
            value = _HUGE
        elif exponent < -_MAX_DIGITS:
            value = Fraction(1, 10**9)  # rounds up to the smallest representable amount (1n)
        else:
            value *= Fraction(10) ** exponent
    elif base == 2:
        value *= 2**exponent
    if value and value < Fraction(1, 10**9):
        value = Fraction(1, 10**9)
    if base == 2 and value > MAX_INT64:
        value = Fraction(MAX_INT64)
    return value if positive else -value


def quantity_value(q: Fraction) -> int:
    """``Quantity.Value()``: rounded up away from zero, clamped to int64."""
    v = math.ceil(q) if q >= 0 else math.floor(q)
    return max(-MAX_INT64 - 1, min(MAX_INT64, v))


def quantity_milli_value(q: Fraction) -> int:
    """``Quantity.MilliValue()``: ceil(q * 1000), clamped to int64."""
    return quantity_value(q * 1000)


def as_text(value: Any) -> str | None:
    """The text of a quantity as a client may send it: a JSON string, or a bare JSON number
    (``Quantity.UnmarshalJSON`` parses a number's raw text the same way); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else None
    return value if isinstance(value, str) else None
