"""What the command prints: exact text for values, aligned tables, JSON, and progress on a terminal."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import sys
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum
from pathlib import PurePath
from typing import Any, TextIO


def iso_time(moment: datetime) -> str:
    """ISO-8601 in UTC with a Z: 2024-03-01T12:00:00Z (microseconds only when there are some)."""
    if moment.tzinfo is None:
        # Never happens with tradedb's records (they are aware); kept honest for anything else.
        return moment.isoformat()
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


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
        return iso_time(value)
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


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], out: TextIO | None = None) -> None:
    """Print rows as an aligned table with a header (numbers right-aligned), like `sqlite-utils --table`."""
    out = out or sys.stdout
    cells = [[text(row.get(column)) for column in columns] for row in rows]
    widths = [max([len(column)] + [len(line[i]) for line in cells]) for i, column in enumerate(columns)]
    right = [any(_numeric(row.get(column)) for row in rows) for column in columns]

    def line(values: Sequence[str]) -> str:
        """One row, padded to the column widths."""
        padded = [v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right)]
        return "  ".join(padded).rstrip()

    print(line(list(columns)), file=out)
    print("  ".join("-" * width for width in widths), file=out)
    for values in cells:
        print(line(values), file=out)


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
