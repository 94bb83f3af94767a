"""Column kinds: how each kind of value is checked on the way in and read on the way out.

The stored forms are described at the top of sql/schema.sql: canonical
decimal text with the column's scale, fixed-width UTC text, JSON text.
Every kind has `to_db(field, value)`, which validates what a caller gave
and returns the stored form, and `from_db(stored)`, which returns the Python
value. Errors name the field and say what would be accepted.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timezone
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from collections.abc import Callable
from typing import Any, Protocol

from .errors import ValidationError

# Enough digits that no product or quotient of column values is rounded
# before the final, deliberate rounding to the column's scale.
EXACT = Context(prec=100, rounding=ROUND_HALF_EVEN, Emin=-999999, Emax=999999, traps=[InvalidOperation])
UTC = timezone.utc
_QUANTUM = {scale: Decimal(1).scaleb(-scale) for scale in (2, 4, 8)}
# Built once: json.dumps with options builds an encoder on every call.
_JSON_ENCODER = json.JSONEncoder(allow_nan=False, ensure_ascii=False, separators=(",", ":"))
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class Kind(Protocol):
    """What every column kind provides."""

    @property
    def read(self) -> Callable[[Any], Any] | None:
        """What turns a non-NULL stored value into its Python value (None: it is one already)."""

    def to_db(self, field: str, value: Any) -> Any:
        """Validate a caller's value and return its stored form."""

    def from_db(self, stored: Any) -> Any:
        """The Python value of a stored one."""


def to_decimal(field: str, value: Any) -> Decimal:
    """Read a caller's number exactly: Decimal, int, str, or float by its shortest repr."""
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, bool):
        raise ValidationError(field, f"expected a number, got the bool {value!r}")
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        # repr is the shortest text that reads back as the same float: 0.1 is 0.1.
        number = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise ValidationError(field, f"{value!r} is not a number") from None
    else:
        raise ValidationError(field, f"expected a Decimal, int, str or float, got {type(value).__name__}")
    if not number.is_finite():
        raise ValidationError(field, f"{value!r} is not a finite number")
    return number


def round_to_scale(number: Decimal, scale: int) -> Decimal:
    """Round half-even to `scale` places, with zero always positive."""
    rounded = number.quantize(_QUANTUM[scale], context=EXACT)
    return rounded if rounded else rounded.copy_abs()


def decimal_to_text(number: Decimal) -> str:
    """The stored form of a number already rounded to its scale."""
    return format(number, "f")


class DecimalKind:
    """DECIMAL(precision, scale) stored as canonical text."""

    read = Decimal

    def __init__(self, precision: int, scale: int, *, signed: bool = True, maximum: Decimal | None = None) -> None:
        self.precision = precision
        self.scale = scale
        self.signed = signed
        self.maximum = maximum
        self._quantum = _QUANTUM[scale]
        # Rounding to the scale in this context fails when the result needs
        # more than `precision` digits: the size check and the rounding in one step.
        self._fits = Context(prec=precision, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation])

    def round(self, field: str, value: Any) -> Decimal:
        """Validate a caller's value and round it to the scale; refuse what does not fit."""
        number = to_decimal(field, value)
        try:
            rounded = number.quantize(self._quantum, context=self._fits)
        except InvalidOperation:
            raise self._too_large(field, value) from None
        if not rounded:
            return rounded.copy_abs()  # zero is stored without a sign
        if not self.signed and rounded.is_signed():
            raise ValidationError(field, f"must not be negative, got {value!r}")
        if self.maximum is not None and rounded > self.maximum:
            raise ValidationError(field, f"must be at most {self.maximum}, got {value!r}")
        return rounded

    def _too_large(self, field: str, value: Any) -> ValidationError:
        limit = "9" * (self.precision - self.scale) + "." + "9" * self.scale
        return ValidationError(
            field, f"{value!r} does not fit DECIMAL({self.precision},{self.scale}): at most {limit} in size"
        )

    def to_db(self, field: str, value: Any) -> str | None:
        """Stored form of a caller's value (None stays NULL)."""
        if value is None:
            return None
        return decimal_to_text(self.round(field, value))

    def computed(self, number: Decimal | None) -> str | None:
        """Stored form of a value tradedb computed: rounded to the scale, never refused."""
        if number is None:
            return None
        return decimal_to_text(round_to_scale(number, self.scale))

    @staticmethod
    def from_db(stored: str | None) -> Decimal | None:
        """The exact Decimal of a stored value."""
        return None if stored is None else Decimal(stored)


def time_to_text(moment: datetime) -> str:
    """Stored form of an aware datetime: 'YYYY-MM-DD HH:MM:SS.ffffffZ' in UTC."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.isoformat(" ", "microseconds")[:-6] + "Z"


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


class TimeKind:
    """An aware datetime stored as UTC text."""

    # The stored text ends in Z, so this gives an aware UTC datetime.
    read = datetime.fromisoformat

    def to_db(self, field: str, value: Any) -> str | None:
        """Stored form of an aware datetime or ISO-8601 text with an offset or Z."""
        if value is None:
            return None
        if isinstance(value, datetime) and value.tzinfo is UTC:  # the usual input, already in its final zone
            return time_to_text(value)
        return time_to_text(self.parse(field, value))

    @staticmethod
    def parse(field: str, value: Any) -> datetime:
        """An aware datetime from a caller's value; a naive one is refused, never guessed."""
        if isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value.strip())
            except ValueError:
                raise ValidationError(field, f"{value!r} is not an ISO-8601 date and time") from None
        elif isinstance(value, datetime):
            moment = value
        else:
            raise ValidationError(field, f"expected an aware datetime or ISO-8601 text, got {type(value).__name__}")
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValidationError(
                field,
                f"{value!r} has no time zone; give an aware datetime such as datetime.now(timezone.utc)"
                " or text ending in Z or +00:00",
            )
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            raise ValidationError(field, f"{value!r} falls outside years 1 to 9999 in UTC") from None

    @staticmethod
    def from_db(stored: str | None) -> datetime | None:
        """The aware UTC datetime of a stored value."""
        return None if stored is None else datetime.fromisoformat(stored)


class JsonKind:
    """Any value json.dumps accepts (without NaN), stored as JSON text; None is NULL."""

    read = staticmethod(json.loads)

    def to_db(self, field: str, value: Any) -> str | None:
        """JSON text for a caller's value."""
        if value is None:
            return None
        try:
            return _JSON_ENCODER.encode(value)
        except (TypeError, ValueError) as error:
            raise ValidationError(field, f"cannot be stored as JSON ({error}); convert it to str, int or float first") from None

    @staticmethod
    def from_db(stored: str | None) -> Any:
        """The decoded JSON value."""
        return None if stored is None else json.loads(stored)


class TextKind:
    """Text; `required` columns refuse None and the empty string."""

    read = None

    def __init__(self, *, required: bool, max_length: int | None = None) -> None:
        self.required = required
        self.max_length = max_length

    def to_db(self, field: str, value: Any) -> str | None:
        """The text itself, checked."""
        if value is None:
            if self.required:
                raise ValidationError(field, "is required")
            return None
        if not isinstance(value, str):
            raise ValidationError(field, f"expected text, got {type(value).__name__}")
        if self.required and not value:
            raise ValidationError(field, "must not be empty")
        if self.max_length is not None and len(value) > self.max_length:
            raise ValidationError(field, f"is {len(value)} characters long; at most {self.max_length} are allowed")
        return value

    @staticmethod
    def from_db(stored: Any) -> Any:
        """The stored text as it is."""
        return stored


class ChoiceKind(TextKind):
    """One of a fixed set of words."""

    def __init__(self, *choices: str) -> None:
        super().__init__(required=True)
        self.choices = choices

    def to_db(self, field: str, value: Any) -> str | None:
        """The word, if it is one of the choices."""
        if value not in self.choices:
            allowed = ", ".join(repr(choice) for choice in self.choices)
            raise ValidationError(field, f"{value!r} is not one of {allowed}")
        return str(value)


class UuidKind(TextKind):
    """A UUID stored as lowercase hyphenated text."""

    def __init__(self) -> None:
        super().__init__(required=True)

    def to_db(self, field: str, value: Any) -> str:
        """Canonical text of a uuid.UUID or UUID text."""
        if isinstance(value, str) and _CANONICAL_UUID.fullmatch(value):  # stored form already
            return value
        if isinstance(value, uuid.UUID):
            return str(value)
        try:
            return str(uuid.UUID(value))
        except (TypeError, ValueError, AttributeError):
            raise ValidationError(field, f"{value!r} is not a UUID") from None


class CountKind:
    """A non-negative integer."""

    read = None

    def to_db(self, field: str, value: Any) -> int | None:
        """The count, checked."""
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError(field, f"expected a whole number, got {value!r}")
        if value < 0:
            raise ValidationError(field, f"must not be negative, got {value!r}")
        return value

    @staticmethod
    def from_db(stored: Any) -> Any:
        """The stored integer as it is."""
        return stored


def new_uuid() -> str:
    """A fresh random UUID as stored text."""
    return str(uuid.uuid4())
