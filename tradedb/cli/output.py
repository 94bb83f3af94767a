"""What the command prints: exact text for values, aligned tables, JSON, and progress on a terminal."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import shutil
import sys
import time
import unicodedata
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum
from pathlib import PurePath
from typing import Any, TextIO


def iso_time(moment: datetime, *, fixed: bool = False) -> str:
    """ISO-8601 in UTC with a Z: 2024-03-01T12:00:00Z for people; `fixed`: always to the microsecond, as in JSON."""
    if moment.tzinfo is None:
        # Never happens with tradedb's records (they are aware); kept honest for anything else.
        return moment.isoformat()
    spec = "microseconds" if fixed else "auto"
    return moment.astimezone(timezone.utc).isoformat(timespec=spec).replace("+00:00", "Z")


def plain(value: Any) -> Any:
    """A value JSON can carry without loss: Decimals as exact strings, times as ISO-8601 UTC."""
    try:
        return _plain(value)
    except RecursionError:  # extra_metadata written in the sqlite3 shell may nest 2000 deep
        return _plain_deep(value)


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, Decimal):
        # A JSON number would be read back as a float by most readers; a string stays exact.
        return format(value, "f")
    if isinstance(value, float):
        return value
    if isinstance(value, datetime):
        # One fixed width in all JSON, so times sort as text and parse with one pattern.
        return iso_time(value, fixed=True)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Enum):
        return _plain(value.value)
    if isinstance(value, PurePath):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: _plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(item) for item in value]
    return str(value)


def _items(value: Any) -> list[tuple[Any, Any]] | None:
    """A container's (key, item) pairs (key None in a list), or None for a value that holds none."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [(field.name, getattr(value, field.name)) for field in dataclasses.fields(value)]
    if isinstance(value, Mapping):
        return [(str(key), item) for key, item in value.items()]
    if isinstance(value, (list, tuple, set, frozenset)):
        return [(None, item) for item in value]
    return None


def _plain_deep(value: Any) -> Any:
    """`plain` without recursion: each container is made, then filled from a list of work."""
    root: list[Any] = [None]
    work: list[tuple[Any, Any, Any]] = [(root, 0, value)]  # (made container, its key or index, value to put there)
    while work:
        into, key, item = work.pop()
        items = _items(item)
        if items is None:
            into[key] = _plain(item)
            continue
        made: Any = [None] * len(items) if isinstance(item, (list, tuple, set, frozenset)) else dict.fromkeys(k for k, _ in items)
        into[key] = made
        # Pushed last first, so a later duplicate key wins, as in `plain`.
        work.extend((made, index if k is None else k, child) for index, (k, child) in reversed(list(enumerate(items))))
    return root[0]


def _json_deep(data: Any, indent: int | None) -> str:
    """json.dumps(data, indent=indent, ensure_ascii=False) of plain data, without recursion."""
    leaf = _LEAF_ENCODER.encode
    separator = "," if indent is not None else ", "
    parts: list[str] = []
    open_: list[tuple[Iterator[tuple[Any, Any]], str, list[bool]]] = []  # (items left, closing bracket, [first?])
    item = data
    while True:
        if isinstance(item, dict) and item:
            parts.append("{")
            open_.append((iter(item.items()), "}", [True]))
        elif isinstance(item, list) and item:
            parts.append("[")
            open_.append((((None, child) for child in item), "]", [True]))
        else:
            parts.append(leaf(item))
        while open_:
            items, closing, first = open_[-1]
            key, item = next(items, (_END, None))
            if key is _END:
                open_.pop()
                parts.append(_newline(indent, len(open_)) + closing)
                continue
            parts.append(("" if first[0] else separator) + _newline(indent, len(open_)))
            first[0] = False
            if key is not None:
                parts.append(leaf(key) + ": ")
            break
        else:
            return "".join(parts)


def _newline(indent: int | None, depth: int) -> str:
    return "" if indent is None else "\n" + " " * (indent * depth)


_LEAF_ENCODER = json.JSONEncoder(ensure_ascii=False)
_END = object()


def json_text(value: Any, *, indent: int | None = 2) -> str:
    """JSON of `value` after `plain`; no float ever stands for a Decimal."""
    data = plain(value)
    try:
        return json.dumps(data, indent=indent, ensure_ascii=False)
    except RecursionError:
        return _json_deep(data, indent)


def text(value: Any) -> str:
    """How one value reads in a table cell."""
    try:
        return _text(value)
    except RecursionError:
        return json_text(value, indent=None)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return iso_time(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(item) for item in value) or "-"
    if isinstance(value, Mapping):
        return ", ".join(f"{key}={_text(item)}" for key, item in value.items()) or "-"
    if dataclasses.is_dataclass(value) or isinstance(value, (dict, list)):
        return json_text(value, indent=None)
    return str(value)


def plural(count: int, noun: str) -> str:
    """`1 trade`, `2 trades`: the count and the noun, with an s unless the count is 1."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _numeric(value: Any) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


# A table cell shows at most this many columns of text: a 1 MB symbol must
# not pad every row to 1 MB. Whole values are in --json and exports.
MAX_CELL = 40
_CUT = "…"


def _char_width(char: str) -> int:
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def width_of(cell: str) -> int:
    """Terminal columns `cell` takes (wide characters count 2, combining ones 0)."""
    return sum(_char_width(char) for char in cell)


def fit(value: str, limit: int) -> str:
    """`value` as a table cell at most `limit` columns wide: control characters escaped, cut with … when longer."""
    pieces: list[str] = []
    used = 0
    for char in value:  # stops past the limit: a 1 MB value costs no more than a short one
        # Escaped, so a newline or a terminal escape in a bot's text cannot break the table or the terminal.
        piece = char if char.isprintable() else repr(char)[1:-1]
        used += width_of(piece)
        pieces.append(piece)
        if used > limit:
            break
    else:
        return "".join(pieces)
    while pieces and used + 1 > limit:
        used -= width_of(pieces.pop())
    return "".join(pieces) + _CUT


def table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    out: TextIO | None = None,
    *,
    width: int | None = None,
    shrink: Mapping[str, int] | None = None,
    drop: Sequence[str] = (),
) -> list[str]:
    """Print rows as an aligned table with a header (numbers right-aligned); the columns left out to fit `width`.

    Text is capped at MAX_CELL columns. To fit `width`, the `shrink` columns
    are cut (widest first, each down to its given width), then the `drop`
    columns are left out, first first. Numbers and times are never cut.
    """
    out = out or sys.stdout
    shrink = shrink or {}
    raw = [[text(row.get(column)) for column in columns] for row in rows]
    # Only free text is cut: a number or a time shown must be whole, or not shown.
    cuttable = [not any(_numeric(row.get(column)) or isinstance(row.get(column), datetime) for row in rows)
                for column in columns]
    limits = [MAX_CELL if cut else None for cut in cuttable]

    def cells(i: int) -> list[str]:
        limit = limits[i]
        return [line[i] if limit is None else fit(line[i], limit) for line in raw]

    widths = [max([width_of(column)] + [width_of(cell) for cell in cells(i)]) for i, column in enumerate(columns)]
    shown = list(range(len(columns)))

    def total() -> int:
        return sum(widths[i] for i in shown) + 2 * (len(shown) - 1)

    if width is not None:
        floors = {columns.index(name): least for name, least in shrink.items() if name in columns}
        while total() > width:
            # The widest column that may still give way loses one.
            candidates = [i for i, least in floors.items() if cuttable[i] and widths[i] > max(least, len(columns[i]))]
            if not candidates:
                break
            widest = max(candidates, key=lambda i: widths[i])
            widths[widest] -= 1
            limits[widest] = widths[widest]
        for name in drop:
            if total() <= width:
                break
            if name in columns and columns.index(name) in shown and len(shown) > 1:
                shown.remove(columns.index(name))
    right = [any(_numeric(row.get(column)) for row in rows) for column in columns]
    body = list(zip(*(cells(i) for i in shown))) if rows else []

    def line(values: Sequence[str]) -> str:
        """One row, padded to the column widths."""
        padded = []
        for i, value in zip(shown, values):
            pad = " " * max(0, widths[i] - width_of(value))
            padded.append(pad + value if right[i] else value + pad)
        return "  ".join(padded).rstrip()

    print(line([columns[i] for i in shown]), file=out)
    print("  ".join("-" * widths[i] for i in shown), file=out)
    for values in body:
        print(line(values), file=out)
    return [columns[i] for i in range(len(columns)) if i not in shown]


def terminal_width() -> int:
    """The terminal's width: $COLUMNS, else the terminal's own, else 120 (not a terminal)."""
    return shutil.get_terminal_size((120, 24)).columns


def pairs(items: Iterable[tuple[str, Any]], out: TextIO | None = None) -> None:
    """Print `name  value` lines, the names aligned."""
    out = out or sys.stdout
    items = list(items)
    width = max((len(name) for name, _ in items), default=0)
    for name, value in items:
        print(f"{name.ljust(width)}  {text(value)}".rstrip(), file=out)


def interactive() -> bool:
    """True when both output streams are a terminal: only then is progress shown."""
    return sys.stdout.isatty() and sys.stderr.isatty()


class Progress:
    """A one-line status on stderr, redrawn at most ten times a second; silent unless `enabled`."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._last = 0.0
        self._shown = False

    def update(self, message: str, *, force: bool = False) -> None:
        """Redraw the status line (throttled, so a tight loop pays almost nothing)."""
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        self._shown = True
        sys.stderr.write(f"\r{message}\x1b[K")
        sys.stderr.flush()

    def clear(self) -> None:
        """Erase the status line, so what follows starts on a clean line."""
        if self.enabled and self._shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
            self._shown = False

    @asynccontextmanager
    async def activity(self, message: str) -> AsyncIterator[None]:
        """Show `message` with the seconds elapsed while the body runs (for calls that report no progress)."""
        if not self.enabled:
            yield
            return
        started = time.monotonic()

        async def tick() -> None:
            """Redraw twice a second until cancelled."""
            while True:
                self.update(f"{message}... {time.monotonic() - started:.0f}s", force=True)
                await asyncio.sleep(0.5)

        ticker = asyncio.create_task(tick())
        try:
            yield
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            self.clear()
