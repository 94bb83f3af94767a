"""A database's schema against the one its applied migrations produce: for health, and for repairing interrupted runs."""

from __future__ import annotations

import functools
import re
import sqlite3
from dataclasses import dataclass
from typing import Any

from .queries import QUERIES
from .resources import resource_dir
from .sqlite import Session

SCHEMA_OBJECTS = QUERIES["schema_objects"]
TABLE_COLUMNS = QUERIES["table_columns"]
_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
_TRIGGER = re.compile(r"^CREATE TRIGGER (?P<name>\w+)\b.*?^END\b", re.DOTALL | re.MULTILINE)


@dataclass(frozen=True)
class SchemaObject:
    """One table, index, trigger or view: its SQL without comments or extra spaces, and a table's columns."""

    kind: str
    name: str
    table: str
    sql: str
    columns: tuple[tuple[Any, ...], ...]


Schema = dict[tuple[str, str], SchemaObject]


@dataclass(frozen=True)
class Difference:
    """How a database's object differs from the expected schema: 'missing', 'differs' or 'extra'."""

    how: str
    kind: str
    name: str
    text: str


def normalized(sql: str | None) -> str:
    """SQL text without comments, its whitespace collapsed (how it was laid out does not matter)."""
    return " ".join(_COMMENT.sub(" ", sql or "").split())


@functools.cache
def shipped_triggers() -> dict[str, str]:
    """Each trigger of sql/sqlite/schema.sql (what the migrations make), by name: its text, normalized."""
    text = (resource_dir("sql") / "sqlite" / "schema.sql").read_text(encoding="utf-8")
    return {match["name"]: normalized(match[0]) for match in _TRIGGER.finditer(text)}


def read_schema(connection: sqlite3.Connection) -> Schema:
    """The schema objects of the database on `connection` (SQLite's and yoyo's own left out)."""
    session = Session(connection, 0.0)
    schema: Schema = {}
    for kind, name, table, sql in session.many(SCHEMA_OBJECTS, {}):
        columns = tuple(tuple(row) for row in session.many(TABLE_COLUMNS, {"table_name": name})) if kind == "table" else ()
        schema[kind, name] = SchemaObject(kind, name, table, normalized(sql), columns)
    return schema


def _how_table_differs(have: SchemaObject, want: SchemaObject) -> str:
    had = {column[0]: column for column in have.columns}
    wanted = {column[0]: column for column in want.columns}
    notes = [f"column {name} is missing" for name in wanted if name not in had]
    notes += [f"column {name} is not in the migrations" for name in had if name not in wanted]
    notes += [f"column {name} is defined differently" for name in wanted if name in had and had[name] != wanted[name]]
    if not notes and [c[0] for c in have.columns] != [c[0] for c in want.columns]:
        notes.append("its columns are in another order")
    return ", ".join(notes) or "its constraints or other definitions differ"


def differences(live: Schema, expected: Schema) -> list[Difference]:
    """Every object missing from `live`, defined differently, or not in `expected`."""
    found = []
    for key, want in expected.items():
        have = live.get(key)
        if have is None:
            found.append(Difference("missing", want.kind, want.name, f"{want.kind} {want.name} is missing"))
        elif have != want:
            if want.kind == "table":
                how = _how_table_differs(have, want)
            elif have.table != want.table:
                how = f"it is on {have.table}, not {want.table}"
            else:
                how = "its definition differs"
            found.append(Difference("differs", want.kind, want.name, f"{want.kind} {want.name} differs from the migrations ({how})"))
    for key, have in live.items():
        if key not in expected:
            found.append(Difference("extra", have.kind, have.name, f"{have.kind} {have.name} is not made by the migrations"))
    return found
