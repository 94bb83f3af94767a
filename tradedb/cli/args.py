"""Command-line values: dates, durations, amounts and counts, read strictly with messages that say what would do."""

from __future__ import annotations

import argparse
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


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
    return moment.astimezone(timezone.utc)


def duration(text: str) -> timedelta:
    """A duration such as 90s, 5m, 2h, 3d or 1w (a bare number is seconds)."""
    match = _DURATION.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration; use e.g. 90s, 5m, 2h or 3d")
    seconds = float(match[1]) * _UNIT_SECONDS[match[2].lower()]
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be longer than zero")
    return timedelta(seconds=seconds)


def amount(text: str) -> Decimal:
    """An exact decimal amount, as typed (never through a float)."""
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; use e.g. 10000 or 2500.50") from None
    if not number.is_finite():
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return number


def _whole(text: str, minimum: int) -> int:
    try:
        number = int(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if number < minimum:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least {minimum}")
    return number


def count(text: str) -> int:
    """A whole number of at least 0."""
    return _whole(text, 0)


def positive(text: str) -> int:
    """A whole number of at least 1."""
    return _whole(text, 1)


def format_age(age: timedelta) -> str:
    """A short human age: 45s, 12m, 12m30s, 3h05m, 2d04h."""
    seconds = max(0, int(age.total_seconds()))
    for big, small, big_unit, small_unit in ((86400, 3600, "d", "h"), (3600, 60, "h", "m"), (60, 1, "m", "s")):
        if seconds >= big:
            rest = seconds % big // small
            return f"{seconds // big}{big_unit}" + (f"{rest:02d}{small_unit}" if rest else "")
    return f"{seconds}s"
