"""Command-line values: dates, durations, amounts and counts, read strictly with messages that say what would do."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# A century: far longer than any sensible staleness, and far from the end of what datetime can subtract.
MAX_DURATION_DAYS = 36500
# Larger counts mean nothing here, and SQLite's integers stop at 2**63 - 1.
MAX_COUNT = 1_000_000_000
# DECIMAL(20,8): 12 digits before the point, 8 after.
_MONEY_LIMIT = Decimal(10) ** 12
_MONEY_SCALE = Decimal("0.00000001")


def iso_date(text: str) -> datetime:
    """An ISO-8601 date or date and time; without an offset it means UTC (the library refuses naive times)."""
    candidate = text.strip()
    # Python 3.11 reads a trailing Z, but a lower-case z only as +00:00 spelled out.
    if candidate.endswith("z"):
        candidate = candidate[:-1] + "Z"
    try:
        moment = datetime.fromisoformat(candidate)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO-8601 date; use e.g. 2024-03-01, 2024-03-01T12:00 or 2024-03-01T12:00:00+02:00"
        ) from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:  # 9999-12-31T23:00-05:00 is in the year 10000 in UTC
        raise argparse.ArgumentTypeError(
            f"{text!r} is out of range: in UTC it must fall between 0001-01-01 and 9999-12-31"
        ) from None


def duration(text: str) -> timedelta:
    """A duration such as 90s, 5m, 2h, 3d or 1w (a bare number is seconds), above zero and at most a century."""
    match = _DURATION.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration; use e.g. 90s, 5m, 2h or 3d")
    # Decimal, not float: a long run of digits is a number too large, never an infinity or an overflow.
    seconds = Decimal(match[1]) * _UNIT_SECONDS[match[2].lower()]
    if seconds > MAX_DURATION_DAYS * 86400:
        raise argparse.ArgumentTypeError(f"{text!r} is too long; at most {MAX_DURATION_DAYS}d")
    microseconds = int((seconds * 1_000_000).to_integral_value(rounding=ROUND_HALF_EVEN))
    if microseconds <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be longer than zero")
    return timedelta(microseconds=microseconds)


def amount(text: str) -> Decimal:
    """An exact decimal amount, as typed (never through a float)."""
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; use e.g. 10000 or 2500.50") from None
    if not number.is_finite():
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return number


def balance(text: str) -> Decimal:
    """An amount above 0 that fits a DECIMAL(20,8) column once rounded to 8 places (a starting balance)."""
    number = amount(text)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be above 0")
    if number >= _MONEY_LIMIT:
        raise argparse.ArgumentTypeError(f"{text!r} is too large; at most 12 digits before the point")
    if number.quantize(_MONEY_SCALE, rounding=ROUND_HALF_EVEN) == 0:
        raise argparse.ArgumentTypeError(f"{text!r} rounds to 0 at 8 decimal places; use at least 0.00000001")
    return number


def _whole(text: str, minimum: int, maximum: int) -> int:
    try:
        number = int(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if number < minimum:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least {minimum}")
    if number > maximum:
        raise argparse.ArgumentTypeError(f"{text!r} must be at most {maximum}")
    return number


def count(text: str) -> int:
    """A whole number from 0 to MAX_COUNT."""
    return _whole(text, 0, MAX_COUNT)


def positive(text: str) -> int:
    """A whole number from 1 to MAX_COUNT."""
    return _whole(text, 1, MAX_COUNT)


def at_most(maximum: int) -> Callable[[str], int]:
    """A type for a whole number from 1 to `maximum`."""

    def parse(text: str) -> int:
        """A whole number from 1 to the maximum."""
        return _whole(text, 1, maximum)

    return parse


def port(text: str) -> int:
    """A TCP port, 0 (any free one) to 65535."""
    return _whole(text, 0, 65535)


def format_age(age: timedelta) -> str:
    """A short human age: 45s, 12m, 12m30s, 3h05m, 2d04h."""
    seconds = max(0, int(age.total_seconds()))
    for big, small, big_unit, small_unit in ((86400, 3600, "d", "h"), (3600, 60, "h", "m"), (60, 1, "m", "s")):
        if seconds >= big:
            rest = seconds % big // small
            return f"{seconds // big}{big_unit}" + (f"{rest:02d}{small_unit}" if rest else "")
    return f"{seconds}s"
