"""Column kinds: how each kind of value is checked on the way in and read on the way out.

The stored forms are described at the top of sql/sqlite/schema.sql: canonical
decimal text with the column's scale, fixed-width UTC text, JSON text.
Every kind has `to_db(field, value)`, which validates what a caller gave
and returns the stored form, and `from_db(stored)`, which returns the Python
value. Errors name the field and say what would be accepted.
"""

from __future__ import annotations

import json
import re
import reprlib
import uuid
from datetime import datetime, timezone
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation, localcontext
from collections.abc import Callable
from json.decoder import JSONDecodeError, scanstring  # type: ignore[attr-defined]
from json.scanner import NUMBER_RE
from typing import Any, Protocol

from .errors import ValidationError

# Enough digits that no product or quotient of column values is rounded
# before the final, deliberate rounding to the column's scale.
EXACT = Context(prec=100, rounding=ROUND_HALF_EVEN, Emin=-999999, Emax=999999, traps=[InvalidOperation])


def from_units(units: Any) -> Decimal:
    """An amount from its count of 10^-8 units (an SQL sum; None is 0), exact at any size (scaleb rounds to the
    context's precision: 28 digits by default)."""
    with localcontext(EXACT):
        return Decimal(units or 0).scaleb(-8)
UTC = timezone.utc
_QUANTUM = {scale: Decimal(1).scaleb(-scale) for scale in (2, 4, 8)}
# Built once: json.dumps with options builds an encoder on every call.
_JSON_ENCODER = json.JSONEncoder(allow_nan=False, ensure_ascii=False, separators=(",", ":"))
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

# JSON values (extra_metadata) are refused deeper or longer than this; a
# migration's trigger holds the database to the same byte limit.
JSON_MAX_DEPTH = 32
JSON_MAX_BYTES = 1_048_576
# \u0000 escaped in JSON text: after an even number of backslashes (an odd one would escape the escape).
_JSON_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")
_JSON_STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_INNERMOST = re.compile(r"\[\]|\{\}")
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_LITERALS = {"null": None, "true": True, "false": False, "NaN": float("nan"), "Infinity": float("inf"),
             "-Infinity": float("-inf")}

# Bounded in depth and length: a message never grows with, or recurses
# into, what a caller sent.
_SHOW = reprlib.Repr()
_SHOW.maxlevel, _SHOW.maxstring, _SHOW.maxother, _SHOW.maxlong = 3, 60, 60, 40
SHOWN_LENGTH = 100
MAX_INTEGER = 2**63 - 1  # SQLite's largest integer


def shown(value: Any) -> str:
    """A caller's value as an error message shows it: its repr cut short in depth and length, never raising."""
    try:
        text = _SHOW.repr(value)
    except Exception:  # noqa: BLE001 - a repr that raises, recurses, or is an int too long to print
        if isinstance(value, int):
            return f"<an int of {int.bit_length(value)} bits>"
        return f"<a {type(value).__name__} that cannot be shown>"
    return text if len(text) <= SHOWN_LENGTH else text[: SHOWN_LENGTH - 3] + "..."


def exact_text(value: str) -> str:
    """A str subclass's text as a plain str (its own methods are never called)."""
    return value if type(value) is str else str.__str__(value)


def storable_text_problem(text: str) -> str | None:
    """Why SQLite could not store `text` faithfully (a NUL, a lone surrogate), or None."""
    if "\x00" in text:
        return "contains a NUL character (SQLite's text functions and the sqlite3 shell stop at it); remove it"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as error:
            return f"contains a lone surrogate at position {error.start}, which is not UTF-8 text; remove it"
    return None


class Kind(Protocol):
    """What every column kind provides."""

    @property
    def read(self) -> Callable[[Any], Any] | None:
        """What turns a non-NULL stored value into its Python value (None: it is one already)."""

    def to_db(self, field: str, value: Any) -> Any:
        """Validate a caller's value and return its stored form."""

    def from_db(self, stored: Any) -> Any:
        """The Python value of a stored one."""

    def convert(self, field: str, value: Any) -> tuple[Any, Any]:
        """to_db(field, value) of a value that is not None, and the Python value a record of the stored form holds."""


def to_decimal(field: str, value: Any) -> Decimal:
    """Read a caller's number exactly: Decimal, int, str, or float by its shortest repr."""
    # Subclasses are read through the base type's own code: their
    # overridden methods are never called.
    if type(value) is Decimal:
        number = value
    elif isinstance(value, Decimal):
        number = Decimal(value)
    elif isinstance(value, bool):
        raise ValidationError(field, f"expected a number, got the bool {value!r}")
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        # repr is the shortest text that reads back as the same float: 0.1 is 0.1.
        number = Decimal(float.__repr__(value))
    elif isinstance(value, str):
        try:
            number = Decimal(exact_text(value).strip())
        except (InvalidOperation, ValueError):
            raise ValidationError(field, f"{shown(value)} is not a number") from None
    else:
        raise ValidationError(field, f"expected a Decimal, int, str or float, got {type(value).__name__}")
    if not number.is_finite():
        raise ValidationError(field, f"{shown(value)} is not a finite number")
    return number


def round_to_scale(number: Decimal, scale: int) -> Decimal:
    """Round half-even to `scale` places, with zero always positive."""
    if not number.is_finite():  # computed from a stored NaN: damage, which the backend reports as DatabaseDamaged
        raise InvalidOperation(f"{number} is not a finite amount")
    rounded = number.quantize(_QUANTUM[scale], None, EXACT)  # positional: a keyword costs _decimal 1 us
    return rounded if rounded else rounded.copy_abs()


def decimal_to_text(number: Decimal) -> str:
    """The stored form of a number already rounded to its scale."""
    # str() writes the same text three times faster, except where it would
    # switch to exponent notation (below 10^-6, and zero's 0E-8).
    return str(number) if number.adjusted() >= -6 else format(number, "f")


def stored_decimal(stored: str) -> Decimal:
    """The exact Decimal of a stored amount; a NaN or infinity (only a hand edit past the schema's checks) is refused."""
    number = Decimal(stored)
    if not number.is_finite():
        raise InvalidOperation(f"{stored!r} is not a finite number")
    return number


class DecimalKind:
    """DECIMAL(precision, scale) stored as canonical text."""

    read = staticmethod(stored_decimal)

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
            rounded = number.quantize(self._quantum, None, self._fits)
        except InvalidOperation:
            raise self._too_large(field, value) from None
        if not rounded:
            return rounded.copy_abs()  # zero is stored without a sign
        if not self.signed and rounded.is_signed():
            raise ValidationError(field, f"must not be negative, got {shown(value)}")
        if self.maximum is not None and rounded > self.maximum:
            raise ValidationError(field, f"must be at most {self.maximum}, got {shown(value)}")
        return rounded

    def _too_large(self, field: str, value: Any) -> ValidationError:
        limit = "9" * (self.precision - self.scale) + "." + "9" * self.scale
        return ValidationError(
            field, f"{shown(value)} does not fit DECIMAL({self.precision},{self.scale}): at most {limit} in size"
        )

    def to_db(self, field: str, value: Any) -> str | None:
        """Stored form of a caller's value (None stays NULL)."""
        if value is None:
            return None
        # The usual input, a finite Decimal that fits, not zero, of an allowed
        # sign and under no maximum, in one step: the checks of round() in
        # its own words, without its calls (bulk loads convert millions).
        if type(value) is Decimal and value.is_finite() and self.maximum is None:
            try:
                rounded = value.quantize(self._quantum, None, self._fits)  # positional: a keyword costs 1 us
            except InvalidOperation:
                raise self._too_large(field, value) from None
            if rounded and (self.signed or not rounded.is_signed()):
                return str(rounded) if rounded.adjusted() >= -6 else format(rounded, "f")  # decimal_to_text
        return decimal_to_text(self.round(field, value))

    def convert(self, field: str, value: Any) -> tuple[str, Decimal]:
        """to_db(field, value) of a value that is not None, and the Decimal a record of the stored text holds."""
        if type(value) is Decimal and value.is_finite() and self.maximum is None:
            try:
                rounded = value.quantize(self._quantum, None, self._fits)
            except InvalidOperation:
                raise self._too_large(field, value) from None
            if rounded and (self.signed or not rounded.is_signed()):
                # Quantized, its digits and exponent are those Decimal(text) reads back.
                return (str(rounded) if rounded.adjusted() >= -6 else format(rounded, "f")), rounded
        rounded = self.round(field, value)
        return decimal_to_text(rounded), rounded

    def computed(self, number: Decimal | None) -> str | None:
        """Stored form of a value tradedb computed: rounded to the scale, never refused."""
        if number is None:
            return None
        return decimal_to_text(round_to_scale(number, self.scale))

    @staticmethod
    def from_db(stored: str | None) -> Decimal | None:
        """The exact Decimal of a stored value."""
        return None if stored is None else stored_decimal(stored)


def time_to_text(moment: datetime) -> str:
    """Stored form of an aware datetime: 'YYYY-MM-DD HH:MM:SS.ffffffZ' in UTC."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return utc_text(moment)


# Dates already written, by day number: most times of a batch share a few
# days, and isoformat() of an aware datetime costs twice what this does.
_DATES: dict[int, str] = {}
_TWO_DIGITS = tuple(f"{number:02d}" for number in range(100))


def utc_text(moment: datetime) -> str:
    """time_to_text of a datetime whose tzinfo is UTC already."""
    day = moment.toordinal()
    date = _DATES.get(day)
    if date is None:
        if len(_DATES) >= 10_000:
            _DATES.clear()
        date = _DATES[day] = datetime.date(moment).isoformat() + " "
    two = _TWO_DIGITS
    return f"{date}{two[moment.hour]}:{two[moment.minute]}:{two[moment.second]}.{moment.microsecond:06d}Z"


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
        if type(value) is datetime and value.tzinfo is UTC:  # the usual input, already in its final zone
            return utc_text(value)
        return time_to_text(self.parse(field, value))

    def convert(self, field: str, value: Any) -> tuple[str, datetime]:
        """to_db(field, value) of a value that is not None, and the datetime a record of the stored text holds."""
        if type(value) is datetime and value.tzinfo is UTC and not value.fold:
            return utc_text(value), value  # the caller's own (immutable) datetime: what reading the text gives
        text = time_to_text(self.parse(field, value))
        return text, datetime.fromisoformat(text)

    @staticmethod
    def parse(field: str, value: Any) -> datetime:
        """An aware datetime from a caller's value; a naive one is refused, never guessed."""
        if isinstance(value, str):
            try:
                moment = datetime.fromisoformat(exact_text(value).strip())
            except ValueError:
                raise ValidationError(field, f"{shown(value)} is not an ISO-8601 date and time") from None
        elif isinstance(value, datetime):
            # A subclass's own methods (isoformat, astimezone) are never called.
            moment = value if type(value) is datetime else datetime.combine(datetime.date(value), datetime.timetz(value))
        else:
            raise ValidationError(field, f"expected an aware datetime or ISO-8601 text, got {type(value).__name__}")
        try:
            offset = None if moment.tzinfo is None else moment.utcoffset()
        except Exception as error:  # noqa: BLE001 - the caller's tzinfo: a float, a day or more, or its own error
            raise ValidationError(
                field, f"{shown(value)} has a time zone whose utcoffset() fails ({type(error).__name__}); "
                "give a datetime in UTC or with a fixed offset (datetime.timezone)"
            ) from None
        if offset is None:
            raise ValidationError(
                field,
                f"{shown(value)} has no time zone; give an aware datetime such as datetime.now(timezone.utc)"
                " or text ending in Z or +00:00",
            )
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            raise ValidationError(field, f"{shown(value)} falls outside years 1 to 9999 in UTC") from None
        except Exception as error:  # noqa: BLE001 - the tzinfo answered differently the second time
            raise ValidationError(
                field, f"{shown(value)} cannot be converted to UTC ({type(error).__name__}); give a datetime in UTC"
            ) from None

    @staticmethod
    def from_db(stored: str | None) -> datetime | None:
        """The aware UTC datetime of a stored value."""
        return None if stored is None else datetime.fromisoformat(stored)


def json_to_text(field: str, value: Any) -> str:
    """Compact JSON text of a caller's value, refused past JSON_MAX_DEPTH levels or JSON_MAX_BYTES bytes."""
    try:
        text = _JSON_ENCODER.encode(value)
    except RecursionError:
        raise _too_deep(field) from None
    except (TypeError, ValueError) as error:
        raise ValidationError(
            field, f"cannot be stored as JSON ({_reason(error)}); convert it to str, int or float first"
        ) from None
    except Exception as error:  # noqa: BLE001 - a mapping or value whose own methods raise
        raise ValidationError(field, f"cannot be stored as JSON: reading it raised {type(error).__name__}") from None
    if "\\u0000" in text and _JSON_NUL.search(text):
        # PostgreSQL's JSONB cannot hold it, and SQLite's text functions stop at it: refused on every backend.
        raise ValidationError(field, "contains a NUL character (\\u0000) in a string or key; remove it")
    # Fewer brackets than levels allowed cannot nest too deep: the usual case, told in two counts.
    if text.count("[") + text.count("{") > JSON_MAX_DEPTH and _nested_deeper(text, JSON_MAX_DEPTH):
        raise _too_deep(field)
    size = len(text)
    if not text.isascii():
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError as error:
            raise ValidationError(
                field, f"contains a lone surrogate (position {error.start} of its JSON text), which is not UTF-8 text"
            ) from None
    if size > JSON_MAX_BYTES:
        raise ValidationError(
            field, f"is {size} bytes of JSON text; at most {JSON_MAX_BYTES} (JSON_MAX_BYTES) are allowed: "
            "store large data elsewhere and keep a reference here"
        )
    return text


def _too_deep(field: str) -> ValidationError:
    return ValidationError(
        field, f"is nested more than {JSON_MAX_DEPTH} levels deep (JSON_MAX_DEPTH); flatten it"
    )


def _reason(error: Exception) -> str:
    try:
        return shown_text(str(error))
    except Exception:  # noqa: BLE001 - an exception whose own str() fails
        return type(error).__name__


def shown_text(text: str) -> str:
    """Text for a message, cut to SHOWN_LENGTH characters."""
    return text if len(text) <= SHOWN_LENGTH else text[: SHOWN_LENGTH - 3] + "..."


def _nested_deeper(text: str, limit: int) -> bool:
    """Whether JSON text nests containers more than `limit` deep (strings may hold any brackets)."""
    skeleton = _NOT_BRACKETS.sub("", _JSON_STRINGS.sub("", text))
    for _ in range(limit):  # each pass removes the innermost level
        skeleton = _INNERMOST.sub("", skeleton)
        if not skeleton:
            return False
    return True


def json_from_text(stored: str) -> Any:
    """The value of stored JSON text, however deeply nested (json.loads stops at Python's recursion limit)."""
    try:
        return json.loads(stored)
    except RecursionError:
        return _loads_deep(stored)


def _loads_deep(text: str) -> Any:
    """json.loads without recursion: containers being filled are kept on a list."""
    containers: list[Any] = []
    keys: list[str] = []  # for each open object, the key whose value comes next
    position = _WHITESPACE.match(text, 0).end()  # type: ignore[union-attr]
    while True:
        char = text[position : position + 1]
        value: Any
        if char in ("[", "{"):
            position = _WHITESPACE.match(text, position + 1).end()  # type: ignore[union-attr]
            if text[position : position + 1] == ("]" if char == "[" else "}"):
                value, position = ([] if char == "[" else {}), position + 1
            else:
                containers.append([] if char == "[" else {})
                if char == "{":
                    key, position = _object_key(text, position)
                    keys.append(key)
                continue
        elif char == '"':
            value, position = scanstring(text, position + 1)
        else:
            value, position = _scalar(text, position)
        while True:  # add the value to its container, closing those that end here
            if not containers:
                end = _WHITESPACE.match(text, position).end()  # type: ignore[union-attr]
                if end != len(text):
                    raise JSONDecodeError("Extra data", text, end)
                return value
            container = containers[-1]
            if type(container) is list:
                container.append(value)
            else:
                container[keys[-1]] = value
            position = _WHITESPACE.match(text, position).end()  # type: ignore[union-attr]
            char = text[position : position + 1]
            if char == ",":
                position = _WHITESPACE.match(text, position + 1).end()  # type: ignore[union-attr]
                if type(container) is dict:
                    keys[-1], position = _object_key(text, position)
                break
            if char != ("]" if type(container) is list else "}"):
                raise JSONDecodeError("Expecting ',' delimiter", text, position)
            position += 1
            value = containers.pop()
            if type(value) is dict:
                keys.pop()


def _object_key(text: str, position: int) -> tuple[str, int]:
    if text[position : position + 1] != '"':
        raise JSONDecodeError("Expecting property name enclosed in double quotes", text, position)
    key, position = scanstring(text, position + 1)
    position = _WHITESPACE.match(text, position).end()  # type: ignore[union-attr]
    if text[position : position + 1] != ":":
        raise JSONDecodeError("Expecting ':' delimiter", text, position)
    return key, _WHITESPACE.match(text, position + 1).end()  # type: ignore[union-attr]


def _scalar(text: str, position: int) -> tuple[Any, int]:
    number = NUMBER_RE.match(text, position)
    if number:
        integer, fraction, exponent = number.groups()
        if fraction or exponent:
            return float(integer + (fraction or "") + (exponent or "")), number.end()
        return int(integer), number.end()
    for word, value in _LITERALS.items():
        if text.startswith(word, position):
            return value, position + len(word)
    raise JSONDecodeError("Expecting value", text, position)


_PLAIN_SCALARS = frozenset({str, int, float, bool, type(None)})


def json_read_back(value: Any, text: str) -> Any:
    """What json.loads(text) gives, `text` being the JSON of `value`: for a flat dict of text keys and plain
    values (the usual metadata), a copy, without parsing; else the parsed text."""
    if (
        type(value) is dict
        and all(type(key) is str for key in value)
        and all(type(item) in _PLAIN_SCALARS for item in value.values())
    ):
        return value.copy()  # floats round-trip exactly through their repr; bool, None and int as themselves
    return json.loads(text)


class JsonKind:
    """Any value json.dumps accepts (without NaN), up to the JSON limits, stored as JSON text; None is NULL."""

    read = staticmethod(json_from_text)

    def to_db(self, field: str, value: Any) -> str | None:
        """JSON text for a caller's value."""
        if value is None:
            return None
        return json_to_text(field, value)

    def convert(self, field: str, value: Any) -> tuple[str, Any]:
        """to_db(field, value) of a value that is not None, and the value a record of the stored text holds."""
        text = json_to_text(field, value)
        return text, json_read_back(value, text)

    @staticmethod
    def from_db(stored: str | None) -> Any:
        """The decoded JSON value."""
        return None if stored is None else json_from_text(stored)


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
        if type(value) is not str:
            if not isinstance(value, str):
                raise ValidationError(field, f"expected text, got {type(value).__name__}")
            value = exact_text(value)
        text: str = value
        if self.required and not text:
            raise ValidationError(field, "must not be empty")
        if self.max_length is not None and len(text) > self.max_length:
            raise ValidationError(field, f"is {len(text)} characters long; at most {self.max_length} are allowed")
        if "\x00" in text or not text.isascii():
            problem = storable_text_problem(text)
            if problem:
                raise ValidationError(field, problem)
        return text

    def convert(self, field: str, value: Any) -> tuple[Any, Any]:
        """to_db(field, value), and the value a record of it holds: the text itself."""
        # The usual text, told in one step: plain ASCII (so no lone surrogate), no NUL, not empty, short enough.
        if (
            type(value) is str and value and value.isascii() and "\x00" not in value
            and (self.max_length is None or len(value) <= self.max_length)
        ):
            return value, value
        text = self.to_db(field, value)
        return text, text

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
        # Compared as plain text: a caller's __eq__ is never called.
        if type(value) is str and value in self.choices:
            return value
        if isinstance(value, str) and exact_text(value) in self.choices:
            return exact_text(value)
        allowed = ", ".join(repr(choice) for choice in self.choices)
        raise ValidationError(field, f"{shown(value)} is not one of {allowed}")

    def convert(self, field: str, value: Any) -> tuple[Any, Any]:
        """to_db(field, value), and the value a record of it holds: the word itself."""
        if type(value) is str and value in self.choices:
            return value, value
        word = self.to_db(field, value)
        return word, word


class UuidKind(TextKind):
    """A UUID stored as lowercase hyphenated text."""

    def __init__(self) -> None:
        super().__init__(required=True)

    def to_db(self, field: str, value: Any) -> str:
        """Canonical text of a uuid.UUID or UUID text."""
        if type(value) is str:
            if _CANONICAL_UUID.fullmatch(value):  # stored form already
                return value
            text = value
        elif type(value) is uuid.UUID:
            return str(value)
        elif isinstance(value, (str, uuid.UUID)):  # a subclass: read as its base type, its methods never called
            text = exact_text(value) if isinstance(value, str) else uuid.UUID.__str__(value)
        else:
            raise ValidationError(field, f"{shown(value)} is not a UUID (expected uuid.UUID or text)")
        try:
            return str(uuid.UUID(text))
        except (TypeError, ValueError):
            raise ValidationError(field, f"{shown(value)} is not a UUID") from None

    def convert(self, field: str, value: Any) -> tuple[Any, Any]:
        """to_db(field, value), and the value a record of it holds: the text itself."""
        if type(value) is str and _CANONICAL_UUID.fullmatch(value):
            return value, value
        text = self.to_db(field, value)
        return text, text


class CountKind:
    """A non-negative integer."""

    read = None

    def to_db(self, field: str, value: Any) -> int | None:
        """The count, checked."""
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError(field, f"expected a whole number, got {shown(value)}")
        count: int = int.__int__(value)  # a subclass's own comparisons are never called
        if count < 0:
            raise ValidationError(field, f"must not be negative, got {shown(count)}")
        if count > MAX_INTEGER:
            raise ValidationError(field, f"must be at most {MAX_INTEGER} (a 64-bit integer), got {shown(count)}")
        return count

    def convert(self, field: str, value: Any) -> tuple[int | None, int | None]:
        """to_db(field, value), and the value a record of it holds: the count itself."""
        count = self.to_db(field, value)
        return count, count

    @staticmethod
    def from_db(stored: Any) -> Any:
        """The stored integer as it is."""
        return stored


def new_uuid() -> str:
    """A fresh random UUID as stored text."""
    return str(uuid.uuid4())
