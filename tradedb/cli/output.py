"""What the command prints: exact text for values, aligned tables, JSON, and progress on a terminal."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import sys
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
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
        return plain(value.value)
    if isinstance(value, PurePath):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(item) for item in value]
    return str(value)


def json_text(value: Any, *, indent: int | None = 2) -> str:
    """JSON of `value` after `plain`; no float ever stands for a Decimal."""
    return json.dumps(plain(value), indent=indent, ensure_ascii=False)


def text(value: Any) -> str:
    """How one value reads in a table cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return iso_time(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(text(item) for item in value) or "-"
    if isinstance(value, Mapping):
        return ", ".join(f"{key}={text(item)}" for key, item in value.items()) or "-"
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
