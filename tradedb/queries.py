"""The named-query loader: parses each dialect's query files once, at import, and fails loudly.

A dialect's queries are those of sql/queries/ (written once: the same text
runs on every backend) and of sql/<dialect>/queries/ (written in that
dialect's words). A name is in one of the two places, never both, and every
dialect has every name, with the same kind and parameters.

A query file holds blocks like this one:

    -- name: get_trade_by_id(id) :one
    -- One trade by its id.
    SELECT id, bot_id, ... FROM trades WHERE id = :id;

The header names the query, declares its parameters and says what it
returns: `:one` (a row or None), `:many` (a list of rows) or `:exec`
(nothing; the row count). The comment lines after it say what the query is
for. Parameters are `:named` ones, so the body can be pasted into the
sqlite3 shell after `.parameter set :id '...'`. The SQL sent numbers them
instead, in the driver's own style (`?1` for SQLite, `$1` for PostgreSQL; the
first declared is 1), because a tuple of values binds faster than a dict is
looked up (4 us less per trade inserted on SQLite), and PostgreSQL's own
numbered parameters need no rewriting of `%` by the driver.

A duplicate name, an unknown kind, or a parameter used but not declared (or
declared but not used) raises QueryFileError naming file:line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from pathlib import Path

from .errors import QueryFileError
from .resources import resource_dir

KINDS = ("one", "many", "exec")

_HEADER = re.compile(r"^--\s*name:\s*(?P<name>\w+)\s*(?:\((?P<params>[^)]*)\))?\s*(?P<kind>:\w+)?\s*$")
_NAME_LINE = re.compile(r"^--\s*name\b")
# Strings, quoted identifiers and comments, which may contain text that looks like a :param.
_NOT_CODE = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/", re.S)
_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


@dataclass(frozen=True, slots=True)
class Query:
    """One named query: its SQL as sent (name and origin leading), and its contract."""

    name: str
    kind: str
    params: frozenset[str]
    sql: str
    origin: str
    doc: str
    declared: tuple[str, ...] = ()

    def check(self, kind: str, params: Mapping[str, Any]) -> None:
        """TypeError unless this is a `kind` query and `params` names exactly its parameters (a caller's bug)."""
        if self.kind != kind:
            raise TypeError(f"{self.name} is a :{self.kind} query, not :{kind}")
        if params.keys() != self.params:
            raise TypeError(f"{self.name} ({self.origin}) takes {sorted(self.params)}, was given {sorted(params)}")

    def bind(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        """The values of `params` in the order the SQL sent numbers them."""
        return tuple(map(params.__getitem__, self.declared))


def parse_query_file(path: Path, label: str | None = None, placeholder: str = "?") -> list[Query]:
    """Parse one query file; `label` is how errors and SQL comments name it, `placeholder` + N a parameter in the SQL sent."""
    label = label or path.name
    lines = path.read_text(encoding="utf-8").splitlines()
    queries: list[Query] = []
    header_at: list[int] = [i for i, line in enumerate(lines) if _NAME_LINE.match(line)]
    for i, line in enumerate(lines[: header_at[0] if header_at else len(lines)]):
        if line.strip() and not line.lstrip().startswith("--"):
            raise QueryFileError(f"{label}:{i + 1}: SQL before the first '-- name:' line")
    for n, start in enumerate(header_at):
        end = header_at[n + 1] if n + 1 < len(header_at) else len(lines)
        queries.append(_parse_block(lines, start, end, label, placeholder))
    return queries


def _parse_block(lines: list[str], start: int, end: int, label: str, placeholder: str) -> Query:
    where = f"{label}:{start + 1}"
    header = _HEADER.match(lines[start].strip())
    if header is None:
        raise QueryFileError(f"{where}: malformed header; write '-- name: query_name(param, ...) :kind'")
    name = header["name"]
    kind = (header["kind"] or "")[1:]
    if kind not in KINDS:
        raise QueryFileError(f"{where}: query {name!r} has kind {kind or 'none'!r}; use one of :one, :many, :exec")
    declared = [p.strip().lstrip(":") for p in (header["params"] or "").split(",") if p.strip()]
    if len(set(declared)) != len(declared):
        raise QueryFileError(f"{where}: query {name!r} declares a parameter twice")
    body_start = start + 1
    doc: list[str] = []
    while body_start < end and lines[body_start].lstrip().startswith("--"):
        doc.append(lines[body_start].lstrip()[2:].strip())
        body_start += 1
    body = "\n".join(lines[body_start:end]).strip().rstrip(";").strip()
    if not body:
        raise QueryFileError(f"{where}: query {name!r} has no SQL")
    used = set(_PARAM.findall(_NOT_CODE.sub(" ", body)))
    undeclared = used - set(declared)
    if undeclared:
        raise QueryFileError(
            f"{where}: query {name!r} uses {', '.join(sorted(':' + p for p in undeclared))} "
            f"but does not declare it; add it to the parentheses after the name"
        )
    unused = set(declared) - used
    if unused:
        raise QueryFileError(f"{where}: query {name!r} declares {', '.join(sorted(unused))} but never uses it")
    sql = f"-- name: {name} ({where})\n{_number_params(body, declared, placeholder)}"
    return Query(name, kind, frozenset(declared), sql, where, " ".join(doc), tuple(declared))


def _number_params(body: str, declared: list[str], placeholder: str) -> str:
    """The body with each :name in its code (not in strings or comments) replaced by ?N or $N, N its declared place."""
    number = {name: f"{placeholder}{place}" for place, name in enumerate(declared, start=1)}
    parts, code_from = [], 0
    for not_code in _NOT_CODE.finditer(body):
        parts.append(_PARAM.sub(lambda m: number[m[1]], body[code_from : not_code.start()]))
        parts.append(not_code[0])
        code_from = not_code.end()
    parts.append(_PARAM.sub(lambda m: number[m[1]], body[code_from:]))
    return "".join(parts)


class QuerySet(Mapping[str, Query]):
    """Every named query of a folder, by name."""

    def __init__(self, queries: list[Query], where: str = "sql/queries/") -> None:
        self._where = where
        self._queries: dict[str, Query] = {}
        for query in queries:
            if query.name in self._queries:
                first = self._queries[query.name].origin
                raise QueryFileError(f"{query.origin}: duplicate query name {query.name!r} (first defined at {first})")
            self._queries[query.name] = query

    def __getitem__(self, name: str) -> Query:
        try:
            return self._queries[name]
        except KeyError:
            raise QueryFileError(f"no query named {name!r} in {self._where}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._queries

    def __iter__(self) -> Iterator[str]:
        return iter(self._queries)

    def __len__(self) -> int:
        return len(self._queries)


def load_queries(folder: Path, label: str = "sql/queries", placeholder: str = "?") -> QuerySet:
    """Load every *.sql file of `folder`, in name order."""
    queries: list[Query] = []
    for path in sorted(folder.glob("*.sql")):
        queries.extend(parse_query_file(path, f"{label}/{path.name}", placeholder))
    return QuerySet(queries, f"{label}/")


# Each dialect and how its driver numbers parameters.
PLACEHOLDERS = {"sqlite": "?", "postgresql": "$"}


def load_dialect(dialect: str) -> QuerySet:
    """Every query of `dialect`: the shared ones of sql/queries/ and its own of sql/<dialect>/queries/."""
    placeholder = PLACEHOLDERS[dialect]
    sql = resource_dir("sql")
    shared = load_queries(sql / "queries", "sql/queries", placeholder)
    own = load_queries(sql / dialect / "queries", f"sql/{dialect}/queries", placeholder)
    for name in own:
        if name in shared:
            raise QueryFileError(
                f"{own[name].origin}: query {name!r} is also in {shared[name].origin}; "
                "keep it in sql/queries/ when its text suits every dialect, else only in each dialect's folder"
            )
    return QuerySet([*shared.values(), *own.values()], f"sql/queries/ or sql/{dialect}/queries/")


DIALECTS = {dialect: load_dialect(dialect) for dialect in PLACEHOLDERS}
# The units of work name their queries through these; a session runs its own dialect's query of the same name.
QUERIES = DIALECTS["sqlite"]
