"""Validation of notebook parameters.

Every chapter has one cell tagged ``parameters`` (papermill injects overrides after it) followed by a
cell that calls these helpers, so that an invalid value fails at once with a message naming the valid
ones, before any data is loaded or any model is trained.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


class ParameterError(ValueError):
    """A notebook parameter has an invalid value. The message names the valid values."""


def _fmt(v: Any) -> str:
    return repr(v)


def check_choice(name: str, value: Any, valid: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``valid``; otherwise raise :class:`ParameterError`.

    Floats are compared with a relative tolerance of 1e-9 so that ``0.14`` passed on a command line
    matches the table entry ``0.14``.
    """
    valid = list(valid)
    for v in valid:
        if isinstance(v, float) and isinstance(value, (int, float)) and not isinstance(value, bool):
            if abs(float(value) - v) <= 1e-9 * max(1.0, abs(v)):
                return v
        elif value == v and type(value) is type(v):
            return v
        elif isinstance(v, str) and value == v:
            return v
    raise ParameterError(
        f"{name}={_fmt(value)} is not valid; valid values are: " + ", ".join(_fmt(v) for v in valid)
    )


def check_range(
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    integer: bool = False,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> Any:
    """Check that ``value`` is a number (an ``int`` if ``integer``) inside [low, high]."""
    kind = "an integer" if integer else "a number"
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type:
        raise ParameterError(f"{name}={_fmt(value)} is not valid; it must be {kind}{_range_text(low, high, low_inclusive, high_inclusive)}")
    bad_low = low is not None and (value < low if low_inclusive else value <= low)
    bad_high = high is not None and (value > high if high_inclusive else value >= high)
    if bad_low or bad_high:
        raise ParameterError(f"{name}={_fmt(value)} is not valid; it must be {kind}{_range_text(low, high, low_inclusive, high_inclusive)}")
    return value


def _range_text(low, high, li, hi) -> str:
    if low is None and high is None:
        return ""
    lo = "-inf" if low is None else repr(low)
    up = "inf" if high is None else repr(high)
    return f" in {'[' if li else '('}{lo}, {up}{']' if hi else ')'}"


def check_subset(name: str, values: Sequence[Any], valid: Iterable[Any]) -> list[Any]:
    """Check that every element of ``values`` is one of ``valid``."""
    valid = list(valid)
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise ParameterError(f"{name}={_fmt(values)} is not valid; it must be a list drawn from: " + ", ".join(_fmt(v) for v in valid))
    return [check_choice(f"{name}[{i}]", v, valid) for i, v in enumerate(values)]
