"""Copying: one tradedb database into another, exactly, and archiving old rows into one.

`copy_database(source, dest)` copies every bot, trade and metrics row (SQLite
to PostgreSQL, PostgreSQL to SQLite, SQLite to a new file): the stored rows
themselves, every column in its stored form, through named queries
(sql/*/queries/copying.sql, insert_trade, insert_performance_metrics), never
through create_trade, which would book PnL again. Bots go first (trades
refer to them), then trades, then metrics, a batch at a time, each batch one
transaction in DEST (or a group of batches, where DEST builds a table's
indexes once after them); so a copy that is interrupted leaves DEST as it was
or resumable with skip_existing. The end compares both databases: rows per
table, and per bot the exact sum of its closed trades' net_pnl and its books.

Archiving (`Repository.cleanup_old_data(..., archive=...)`) moves retention's
batches into another tradedb database: each batch is committed there before
it is deleted here (see archive_old_data).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal, localcontext
from typing import Any

from . import upkeep
from .database import Deferred, Session
from .errors import ConflictError, StoredMeanwhile, TradeDBError, ValidationError
from .paths import path_text, resolve
from .queries import QUERIES, Query
from .records import BOT_COLUMNS, JSON, METRICS_COLUMNS, MONEY, TRADE_COLUMNS
from .repository import POSTGRESQL_SCHEMES, Repository, connect, resolve_database
from .trades import PAGE_BYTES
from .values import EXACT, CountKind, DecimalKind, Kind, shown, time_to_text, utc_now

INSERT_BOT = QUERIES["insert_bot_copy"]
BOTS_AFTER = QUERIES["copy_bots_after"]
BOTS_BY_IDS = QUERIES["bots_by_ids"]
TRADES_FIRST = QUERIES["copy_trades_first"]
TRADES_AFTER = QUERIES["copy_trades_after"]
TRADES_BY_IDS = QUERIES["get_trades_by_ids"]
INSERT_TRADE = QUERIES["insert_trade"]
METRICS_FIRST = QUERIES["copy_metrics_first"]
METRICS_AFTER = QUERIES["copy_metrics_after"]
METRICS_BY_IDS = QUERIES["metrics_by_ids"]
INSERT_METRICS = QUERIES["insert_performance_metrics"]
UPDATE_BOT = QUERIES["update_bot_instance"]
ROW_COUNTS = QUERIES["row_counts"]
CLOSED_BY_BOT = QUERIES["closed_trades_by_bot"]
IDENTITY = QUERIES["database_identity"]

# A bot as copied: its record's columns, and archived_pnl (migration 0004) last.
BOT_COPY_COLUMNS: dict[str, Kind] = {**BOT_COLUMNS, "archived_pnl": MONEY}

DEFAULT_BATCH = 10_000
MAX_BATCH = 100_000
# At most this many rows in one transaction where DEST builds a table's indexes after the rows (_copy), and
# this many bytes of their text a row (metadata may make a row far longer): the write-ahead log holds them all
# until the commit, about twice their text with the indexes (SQLite checks it has room: BYTES_PER_LOADED_ROW).
GROUP_ROWS = 250_000
GROUP_TEXT_PER_ROW = 1024

# Tests set this to stop a process between an archive batch's commit and its
# deletion from the live database (a crash there must lose nothing).
after_archive_commit: Callable[[], None] | None = None


@dataclass(frozen=True)
class Table:
    """How one table is read, looked up and written."""

    name: str
    noun: str
    columns: dict[str, Kind]
    first: Query | None
    after: Query
    after_param: str  # the after-query's parameter: the page_cursor of the page before
    by_ids: Query
    insert: Query


TABLES = (
    Table("bot_instances", "bot", BOT_COPY_COLUMNS, None, BOTS_AFTER, "bot_id", BOTS_BY_IDS, INSERT_BOT),
    Table("trades", "trade", TRADE_COLUMNS, TRADES_FIRST, TRADES_AFTER, "page_after", TRADES_BY_IDS, INSERT_TRADE),
    Table("performance_metrics", "metrics row", METRICS_COLUMNS, METRICS_FIRST, METRICS_AFTER, "page_after",
          METRICS_BY_IDS, INSERT_METRICS),
)
TABLE = {table.name: table for table in TABLES}


# What the copy found --------------------------------------------------------


@dataclass(frozen=True)
class TableCheck:
    """One table's rows in both databases; `expected` is what DEST should hold."""

    table: str
    source: int
    dest: int
    expected: int

    @property
    def ok(self) -> bool:
        """Whether DEST holds the rows it should."""
        return self.dest == self.expected


@dataclass(frozen=True)
class BotCheck:
    """One bot in both databases: closed trades, their exact net_pnl sum, and its books (None: not in that database)."""

    bot_id: str
    source: dict[str, Any]
    dest: dict[str, Any] | None

    @property
    def differences(self) -> list[str]:
        """The figures that differ between the two databases ('missing' when DEST lacks the bot)."""
        if self.dest is None:
            return ["missing"]
        return [name for name in BOT_FIGURES if self.source[name] != self.dest[name]]

    @property
    def ok(self) -> bool:
        """Whether both databases have the same figures for this bot."""
        return not self.differences


# Per bot, what is compared: its closed trades, their exact net_pnl sum, and its books.
BOT_FIGURES = ("closed_trades", "net_pnl", "total_pnl", "current_balance", "archived_pnl")


@dataclass(frozen=True)
class CopyReport:
    """What copy_database (or verify_copy) did and found."""

    source: str
    dest: str
    copied: dict[str, int]
    skipped: dict[str, int]
    tables: list[TableCheck]
    bots: list[BotCheck]
    seconds: float
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether DEST holds exactly what SOURCE does (every check passed)."""
        return not self.problems


class CopyMismatch(TradeDBError):
    """The copy's verification found a difference between SOURCE and DEST; `report` has every figure."""

    def __init__(self, report: CopyReport) -> None:
        self.report = report
        super().__init__(
            f"{report.dest} differs from {report.source} after the copy: {'; '.join(report.problems[:5])}"
            f"{' ...' if len(report.problems) > 5 else ''}. Nothing was rolled back; if a bot wrote to "
            "either database meanwhile, stop it and run the copy again with --skip-existing (skip_existing=True)"
        )


Progress = Callable[[str, int, int], None]


# Comparing stored values ------------------------------------------------------


def _json_value(text: Any) -> Any:
    # Exact: a number keeps every digit (JSONB rewrites 1e16 as 10000000000000000, 1.50 as 1.50).
    return json.loads(text, parse_float=Decimal) if isinstance(text, str) else text


def same_value(kind: Kind, a: Any, b: Any) -> bool:
    """Whether two stored values are the same value (JSON by parsed value: PostgreSQL's JSONB rewrites the text)."""
    if a is None or b is None:
        return a is None and b is None
    try:
        if kind is JSON:
            try:
                return bool(_json_value(a) == _json_value(b))
            except RecursionError:  # deeper than json.loads goes (the sqlite3 shell's): the text, then
                return bool(a == b)
        if isinstance(kind, DecimalKind):
            return Decimal(str(a)) == Decimal(str(b))
        if isinstance(kind, CountKind):
            return int(a) == int(b)
    except (ArithmeticError, ValueError, TypeError):
        pass
    return bool(a == b)


def first_difference(columns: Mapping[str, Kind], a: Mapping[str, Any], b: Mapping[str, Any]) -> str | None:
    """The first column whose values differ, or None when the rows are the same."""
    for name, kind in columns.items():
        if not same_value(kind, a[name], b[name]):
            return name
    return None


def _different(table: Table, row_id: Any, column: str, here: Any, there: Any, where: str) -> ConflictError:
    return ConflictError(
        f"{table.name} {shown(row_id)} is in {where} already with another {column} ({shown(there)}, not {shown(here)}); "
        "nothing of this batch was written"
    )


# Units of work -------------------------------------------------------------------


def read_page(session: Session, table: Table, after: Any, size: int) -> tuple[list[dict[str, Any]], Any, int]:
    """The next rows of `table` after the cursor `after` (None: from the start), at most `size` or PAGE_BYTES of
    text; the cursor of the next page (each page query's last column, page_cursor); and the rows' bytes of text."""
    params: dict[str, Any]
    if after is None and table.first is not None:
        query, params = table.first, {"page_size": size}
    else:
        query, params = table.after, {table.after_param: "" if after is None else after, "page_size": size}
    rows: list[dict[str, Any]] = []
    held, cursor = 0, after
    for row in session.each(query, params):
        rows.append(dict(zip(table.columns, row)))  # page_cursor, one past the columns, is left out
        cursor = row[len(table.columns)]
        held += sum(len(value) for value in row if isinstance(value, str))
        if held >= PAGE_BYTES:
            break
    return rows, cursor, held


def stored_rows(session: Session, table: Table, ids: Sequence[Any]) -> dict[Any, dict[str, Any]]:
    """The rows of `table` among these ids, by id."""
    if not ids:
        return {}
    return {row[0]: dict(zip(table.columns, row)) for row in session.many(table.by_ids, {"ids": json.dumps(list(ids))})}


def existing(session: Session, table: Table, rows: list[dict[str, Any]]) -> tuple[int, str | None, str | None]:
    """Of `rows`, how many are here already; the first one's description; and the first difference's, if any differs."""
    found = stored_rows(session, table, [row["id"] for row in rows])
    held, first, differs = 0, None, None
    for row in rows:
        there = found.get(row["id"])
        if there is None:
            continue
        held += 1
        first = first or f"{table.noun} {shown(row['id'])}"
        column = first_difference(table.columns, row, there)
        if column is not None and differs is None:
            differs = (f"{table.noun} {shown(row['id'])} has another {column} there "
                       f"({shown(there[column])}, not {shown(row[column])})")
    return held, first, differs


def store_batch(session: Session, table: Table, rows: list[dict[str, Any]], skip_existing: bool, where: str) -> tuple[int, int]:
    """Insert the rows of one batch that DEST lacks; (inserted, skipped as identical). A differing one refuses the batch."""
    found = stored_rows(session, table, [row["id"] for row in rows])
    new = []
    for row in rows:
        there = found.get(row["id"])
        if there is None:
            new.append(row)
            continue
        if not skip_existing:
            raise ConflictError(
                f"{where} already holds {table.noun} {shown(row['id'])} (written there meanwhile); nothing of this "
                "batch was written: run the copy again with --skip-existing (skip_existing=True)"
            )
        column = first_difference(table.columns, row, there)
        if column is not None:
            raise _different(table, row["id"], column, row[column], there[column], where)
    if new:
        inserted = session.exec_many(table.insert, new)
        if inserted != len(new):
            raise StoredMeanwhile(f"some of these {table.name} rows were stored meanwhile; the batch is run again")
    return len(new), len(rows) - len(new)


def row_counts(session: Session) -> dict[str, int]:
    """Rows in each of tradedb's tables."""
    return dict(zip(("bot_instances", "trades", "performance_metrics"), session.one(ROW_COUNTS, {})))


def identity(session: Session) -> str | None:
    """What tells this database from every other: its file, or the server's system identifier and the database's name."""
    try:
        row = session.one(IDENTITY, {})
    except Exception:  # noqa: BLE001 - a server that does not let this user read it: the URLs are compared instead
        return None
    return None if row is None or row[0] is None else str(row[0])


def closed_figures(session: Session) -> tuple[dict[str, int], dict[str, Decimal]]:
    """Each bot's closed trades, counted, and their net_pnl summed exactly: one pass over the trades for all bots."""
    return dict(session.many(CLOSED_BY_BOT, {})), upkeep.closed_net_pnl_sums(session)


def all_bots(session: Session) -> list[dict[str, Any]]:
    """Every bot's stored row (archived_pnl too), by id."""
    bots: list[dict[str, Any]] = []
    after = ""
    while True:
        page = [dict(zip(BOT_COPY_COLUMNS, row)) for row in session.many(BOTS_AFTER, {"bot_id": after, "page_size": 1000})]
        bots += page
        if len(page) < 1000:
            return bots
        after = page[-1]["id"]


# Opening both databases ----------------------------------------------------------


def _location_key(field: str, target: str | os.PathLike[str]) -> tuple[str, str]:
    """('file', its resolved path) or ('postgresql', host:port/dbname as libpq reads the URL), to refuse the same database twice."""
    text = path_text(field, target)
    if text.startswith(POSTGRESQL_SCHEMES):
        try:
            from psycopg.conninfo import conninfo_to_dict
        except ImportError:
            return "postgresql", text
        try:
            info = conninfo_to_dict(text)
        except Exception:  # noqa: BLE001 - connect() says what is wrong with it
            return "postgresql", text
        host = str(info.get("host") or os.environ.get("PGHOST") or "localhost")
        if host in ("127.0.0.1", "::1", "") or host.startswith("/"):
            host = "localhost"
        port = str(info.get("port") or os.environ.get("PGPORT") or "5432")
        user = str(info.get("user") or os.environ.get("PGUSER") or "")
        dbname = str(info.get("dbname") or os.environ.get("PGDATABASE") or user)
        return "postgresql", f"{host}:{port}/{dbname}"
    path = resolve_database(text)
    return "file", str(resolve(path))


def _refuse_same(source: str | os.PathLike[str], dest: str | os.PathLike[str], what: str) -> None:
    first, second = _location_key("source", source), _location_key(what, dest)
    same = first == second
    if not same and first[0] == second[0] == "file":
        try:
            same = os.path.samefile(first[1], second[1])  # a hard link to the same file
        except OSError:
            same = False
    if same:
        raise ValidationError(what, f"is the same database as the {'source' if what == 'dest' else 'live one'} ({second[1]}); give another one")


async def _refuse_same_identity(first: Repository, second: Repository, what: str) -> None:
    mine = await first._db.read(identity)
    theirs = await second._db.read(identity)
    if mine is not None and mine == theirs:
        raise ValidationError(what, f"{second.location} is the same database as {first.location}; give another one")


async def _open_source(source: str | os.PathLike[str]) -> Repository:
    text = path_text("source", source)
    if not text.startswith(POSTGRESQL_SCHEMES):
        path = resolve_database(text)
        if not path.exists():
            raise ValidationError("source", f"no database at {path}; give the database to copy from")
    return await connect(source, migrate=False)


def _batch_size(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= int.__int__(value) <= MAX_BATCH:
        raise ValidationError("batch_size", f"expected a whole number from 1 to {MAX_BATCH}, got {shown(value)}")
    return int.__int__(value)


# Copying -----------------------------------------------------------------------------


async def copy_database(
    source: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    *,
    skip_existing: bool = False,
    batch_size: int = DEFAULT_BATCH,
    progress: Progress | None = None,
) -> CopyReport:
    """Copy every bot, trade and metrics row of SOURCE into DEST exactly, then verify; the report.

    DEST (a path, sqlite:/// or postgresql:// URL) is created or migrated first;
    SOURCE is opened without migrating. A DEST that holds any of SOURCE's ids is
    refused before anything is written, unless `skip_existing`: then rows
    identical to SOURCE's are skipped and one that differs is refused (naming
    its table, id and first differing column). Each batch of `batch_size` rows
    is one transaction in DEST, or up to GROUP_ROWS rows where DEST builds the
    table's indexes after them (_copy). `progress(table, done, total)` is called after
    each batch (written, and committed unless a group goes on). Raises CopyMismatch (with the report) when the verification
    finds any difference.
    """
    if not isinstance(skip_existing, bool):
        raise ValidationError("skip_existing", f"expected True or False, got {shown(skip_existing)}")
    size = _batch_size(batch_size)
    started = time.monotonic()
    _refuse_same(source, dest, "dest")
    from_db = await _open_source(source)
    try:
        async with connect(dest, migrate=True) as to_db:
            await _refuse_same_identity(from_db, to_db, "dest")
            copied, skipped, before = await _copy(from_db, to_db, skip_existing, size, progress)
            report = await _verify(from_db, to_db, copied, skipped, before, time.monotonic() - started)
    finally:
        await from_db.close()
    if not report.ok:
        raise CopyMismatch(report)
    return report


async def verify_copy(source: str | os.PathLike[str], dest: str | os.PathLike[str]) -> CopyReport:
    """Compare a copy with its source (neither is written): rows per table, and per bot its closed trades' net_pnl and books."""
    started = time.monotonic()
    _refuse_same(source, dest, "dest")
    from_db = await _open_source(source)
    try:
        text = path_text("dest", dest)
        if not text.startswith(POSTGRESQL_SCHEMES) and not resolve_database(text).exists():
            raise ValidationError("dest", f"no database at {resolve_database(text)}; give the copy to verify")
        async with connect(dest, migrate=False) as to_db:
            await _refuse_same_identity(from_db, to_db, "dest")
            empty = dict.fromkeys(TABLE, 0)
            report = await _verify(from_db, to_db, empty, empty, None, time.monotonic() - started)
    finally:
        await from_db.close()
    if not report.ok:
        raise CopyMismatch(report)
    return report


async def _copy(
    from_db: Repository, to_db: Repository, skip_existing: bool, size: int, progress: Progress | None
) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    totals = await from_db._db.read(row_counts)
    before = await to_db._db.read(row_counts)
    where = to_db.location
    if any(before.values()):
        # Before anything is written: which of SOURCE's rows DEST has already, and whether they differ.
        await _check_overlap(from_db, to_db, skip_existing, size, where, progress, totals)
    copied, skipped = dict.fromkeys(TABLE, 0), dict.fromkeys(TABLE, 0)
    async with to_db._db.bulk():
        for table in TABLES:
            page = await from_db._db.read(read_page, table, None, size)
            while page[0]:
                # Where DEST builds a table's indexes faster once after many rows than row by row (Session.bulk_load:
                # a SQLite table holding no more rows than the group brings, an empty PostgreSQL one), a group of
                # pages is one transaction and the indexes are built at its end (on SQLite, its row triggers on insert
                # do their work there too); otherwise each page is one.
                left = totals[table.name] - copied[table.name] - skipped[table.name]
                group = Group(table, min(max(left, len(page[0])), GROUP_ROWS), copied, skipped, totals, progress)
                if await to_db._db.read(_deferrable_indexes, table, group.rows):
                    async with to_db._db.transaction():
                        # Decided again in the transaction: what it drops, it builds again before the commit.
                        deferred = await to_db._db.write(_defer, table, group.rows)
                        if deferred:
                            page = await group.store(from_db, to_db, page, size, skip_existing, where)
                            await to_db._db.write(_catch_up, deferred)
                    if deferred:
                        continue
                # One page, one transaction: a unit that PostgreSQL may run again (a deadlock, a row stored meanwhile).
                page = await replace(group, rows=0).store(from_db, to_db, page, size, skip_existing, where)
    return copied, skipped, before


Page = tuple[list[dict[str, Any]], Any, int]  # read_page's rows, cursor of the next page, and bytes of text


@dataclass(frozen=True)
class Group:
    """Pages of one table that _copy writes in one transaction, and the counts and progress it keeps."""

    table: Table
    rows: int  # at most this many rows, and GROUP_TEXT_PER_ROW bytes of text a row; 0: one page
    copied: dict[str, int]
    skipped: dict[str, int]
    totals: dict[str, int]
    progress: Progress | None

    async def store(
        self, from_db: Repository, to_db: Repository, page: Page, size: int, skip_existing: bool, where: str
    ) -> Page:
        """Store `page` and the pages after it that the group holds; the next page, not stored."""
        name = self.table.name
        rows = held = 0
        while True:
            # SOURCE's next page is read while DEST writes this one (each in its own connection's thread); DEST's
            # write stays in this task, which may own DEST's transaction.
            reading = asyncio.ensure_future(from_db._db.read(read_page, self.table, page[1], size))
            try:
                inserted, same = await to_db._db.write(store_batch, self.table, page[0], skip_existing, where)
            except BaseException:
                await asyncio.wait([reading])  # not left running; its own error, if any, is second to this one
                if not reading.cancelled():
                    reading.exception()
                raise
            self.copied[name] += inserted
            self.skipped[name] += same
            rows, held = rows + len(page[0]), held + page[2]
            if self.progress is not None:  # inside a group, rows not committed yet
                self.progress(name, self.copied[name] + self.skipped[name], self.totals[name])
            page = await reading
            if not page[0] or rows + len(page[0]) > self.rows or held + page[2] > self.rows * GROUP_TEXT_PER_ROW:
                return page


def _deferrable_indexes(session: Session, table: Table, rows: int) -> list[tuple[str, str]]:
    return session.deferrable_indexes(table.name, rows)


def _defer(session: Session, table: Table, rows: int) -> Deferred:
    return session.defer(table.name, rows)


def _catch_up(session: Session, deferred: Deferred) -> None:
    session.catch_up(deferred)


async def _check_overlap(
    from_db: Repository, to_db: Repository, skip_existing: bool, size: int, where: str,
    progress: Progress | None, totals: dict[str, int],
) -> None:
    held: dict[str, int] = {}
    first: str | None = None
    for table in TABLES:
        after: Any = None
        read = 0
        while True:
            page, after, _ = await from_db._db.read(read_page, table, after, size)
            if not page:
                break
            count, found, differs = await to_db._db.read(existing, table, page)
            if differs is not None and skip_existing:
                raise ConflictError(
                    f"{where} already holds {table.name} rows with SOURCE's ids, and {differs}; nothing was written: "
                    "copy into another database, or remove that row there first"
                )
            if count:
                held[table.name] = held.get(table.name, 0) + count
                first = first or found
            read += len(page)
            if progress is not None:
                progress(f"checking {table.name}", read, totals[table.name])
    if held and not skip_existing:
        counts = ", ".join(f"{count} {name}" for name, count in held.items())
        raise ConflictError(
            f"{where} already holds rows with SOURCE's ids ({counts}; {first} for one); nothing was written. "
            "To finish an interrupted copy, run it again with --skip-existing (skip_existing=True): identical rows "
            "are skipped, differing ones refused"
        )


async def _bot_figures(repo: Repository, bots: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    closed, sums = await repo._db.read(closed_figures)
    figures = {}
    for bot in bots:
        figures[bot["id"]] = {
            "closed_trades": closed.get(bot["id"], 0),
            "net_pnl": Decimal(MONEY.computed(sums.get(bot["id"], Decimal(0))) or 0),
            "total_pnl": Decimal(str(bot["total_pnl"])),
            "current_balance": None if bot["current_balance"] is None else Decimal(str(bot["current_balance"])),
            "archived_pnl": Decimal(str(bot["archived_pnl"])),
        }
    return figures


async def _verify(
    from_db: Repository, to_db: Repository, copied: dict[str, int], skipped: dict[str, int],
    before: dict[str, int] | None, seconds: float,
) -> CopyReport:
    counts, there = await asyncio.gather(from_db._db.read(row_counts), to_db._db.read(row_counts))
    tables = []
    for name in TABLE:
        # A DEST that held rows of its own before the copy keeps them: it should hold those and the new ones.
        expected = counts[name] if before is None else before[name] + copied[name]
        tables.append(TableCheck(name, counts[name], there[name], expected))
    problems = [
        f"{check.table}: {check.dest} rows, {check.expected} expected" for check in tables if not check.ok
    ]
    if before is not None:
        problems += [f"{name}: {copied[name]} copied and {skipped[name]} skipped of {counts[name]}"
                     for name in TABLE if copied[name] + skipped[name] != counts[name]]
    source_bots, dest_rows = await asyncio.gather(from_db._db.read(all_bots), to_db._db.read(all_bots))
    dest_bots = {bot["id"]: bot for bot in dest_rows}
    # Both databases summed at once, each by its own connections.
    mine, theirs = await asyncio.gather(
        _bot_figures(from_db, source_bots),
        _bot_figures(to_db, [dest_bots[bot["id"]] for bot in source_bots if bot["id"] in dest_bots]),
    )
    checks = [BotCheck(bot["id"], mine[bot["id"]], theirs.get(bot["id"])) for bot in source_bots]
    problems += [f"bot {shown(check.bot_id)}: {', '.join(check.differences)} differ" for check in checks if not check.ok]
    return CopyReport(from_db.location, to_db.location, copied, skipped, tables, checks, seconds, problems)


# Archiving ------------------------------------------------------------------------------


def _opening_balance(bot: Mapping[str, Any]) -> Decimal | None:
    """What a bot's current_balance - total_pnl is (what metrics measure returns against); None without a balance."""
    if bot["current_balance"] is None:
        return None
    with localcontext(EXACT):
        return Decimal(str(bot["current_balance"])) - Decimal(str(bot["total_pnl"]))


def _archive_bots(session: Session, live_bots: Mapping[str, Mapping[str, Any]], added: Mapping[str, Decimal], now: str) -> None:
    """Copy (or update) the bots an archive batch refers to; their books become the archive's own.

    An archive bot's total_pnl is the sum of the net_pnl of its closed trades
    in the archive (plus the archive's own archived_pnl), moved here by
    exactly what each batch adds; its current_balance is the live bot's
    opening balance (current_balance - total_pnl there) plus that total, so
    that metrics computed in the archive start from the balance the bot
    opened with. Its other columns are the live bot's, as of this run.
    """
    stored = stored_rows(session, TABLE["bot_instances"], sorted(live_bots))
    for bot_id in sorted(live_bots):
        live = live_bots[bot_id]
        opening = _opening_balance(live)
        here = stored.get(bot_id)
        with localcontext(EXACT):
            summed = Decimal(str(here["total_pnl"] if here else 0)) + added.get(bot_id, Decimal(0))
            total = MONEY.computed(summed)
            balance = None if opening is None else MONEY.computed(opening + summed)
        if here is not None and bot_id not in added:
            continue  # no new trade of it in this batch: nothing to move
        if here is None:
            row = {**live, "total_pnl": total, "current_balance": balance, "archived_pnl": MONEY.computed(Decimal(0)),
                   "updated_at": now}
            session.exec(INSERT_BOT, row)
            continue
        if here["type"] != live["type"]:
            raise ConflictError(
                f"the archive holds bot {shown(bot_id)} as a {here['type']} bot, but it is a {live['type']} bot here: "
                "archive into another database"
            )
        row = {name: live[name] for name in UPDATE_BOT.params}
        row.update(total_pnl=total, current_balance=balance, updated_at=now)
        session.exec(UPDATE_BOT, row)


def archive_trades(session: Session, rows: list[dict[str, Any]], live_bots: Mapping[str, Mapping[str, Any]], where: str) -> int:
    """Store a batch of finished trades in the archive (identical ones there already skipped); how many were new."""
    table = TABLE["trades"]
    found = stored_rows(session, table, [row["id"] for row in rows])
    new = []
    for row in rows:
        there = found.get(row["id"])
        if there is None:
            new.append(row)
            continue
        column = first_difference(table.columns, row, there)
        if column is not None:
            raise ConflictError(
                f"trade {shown(row['id'])} is in the archive {where} already with another {column} "
                f"({shown(there[column])}, here {shown(row[column])}): it changed here after it was archived. "
                "Nothing more was moved; it stays here. Compare the two, and delete the archive's copy (correcting "
                "that bot's total_pnl there) to archive it again"
            )
    added: dict[str, Decimal] = defaultdict(Decimal)
    with localcontext(EXACT):
        for row in new:
            if row["status"] == "closed" and row["net_pnl"] is not None:
                added[row["bot_id"]] += Decimal(str(row["net_pnl"]))
        for row in new:
            added[row["bot_id"]] += 0  # a new cancelled trade updates its bot's row too
    _archive_bots(session, live_bots, added, time_to_text(utc_now()))
    if new and session.exec_many(INSERT_TRADE, new) != len(new):
        raise StoredMeanwhile("some of these trades were stored in the archive meanwhile; the batch is run again")
    return len(new)


def archive_metrics(session: Session, rows: list[dict[str, Any]], live_bots: Mapping[str, Mapping[str, Any]], where: str) -> int:
    """Store a batch of metrics rows in the archive (identical ones there already skipped); how many were new."""
    table = TABLE["performance_metrics"]
    found = stored_rows(session, table, [row["id"] for row in rows])
    new = []
    for row in rows:
        there = found.get(row["id"])
        if there is None:
            new.append(row)
            continue
        column = first_difference(table.columns, row, there)
        if column is not None:
            raise ConflictError(
                f"metrics row {shown(row['id'])} is in the archive {where} already with another {column} "
                f"({shown(there[column])}, here {shown(row[column])}); nothing more was moved: compare the two"
            )
    _archive_bots(session, live_bots, {}, time_to_text(utc_now()))  # only those the archive lacks
    if new and session.exec_many(INSERT_METRICS, new) != len(new):
        raise StoredMeanwhile("some of these metrics rows were stored in the archive meanwhile; the batch is run again")
    return len(new)


def delete_archived_trades(session: Session, rows: list[dict[str, Any]]) -> int:
    """Delete from the live database the archived trades still as they were archived; how many went.

    Their net_pnl goes to their bots' archived_pnl in the same transaction. A
    trade changed since it was read stays (the next run finds the archive's
    copy different and says so).
    """
    table = TABLE["trades"]
    now_rows = {row[0]: dict(zip(TRADE_COLUMNS, row))
                for row in session.many(upkeep.FINISHED_BY_IDS, {"ids": json.dumps([row["id"] for row in rows])})}
    taken = []
    for row in rows:
        current = now_rows.get(row["id"])
        if current is None or first_difference(table.columns, row, current) is not None:
            continue
        taken.append((row["id"], row["bot_id"], row["net_pnl"] if row["status"] == "closed" else None))
    upkeep.take_out_trades(session, taken)
    return len(taken)


def _live_bots(session: Session, bot_ids: list[str]) -> dict[str, dict[str, Any]]:
    return stored_rows(session, TABLE["bot_instances"], bot_ids)


def _old_trade_rows(session: Session, cutoff: str, size: int) -> list[dict[str, Any]]:
    return [dict(zip(TRADE_COLUMNS, row)) for row in upkeep.old_trades(session, cutoff, size)]


def _old_metrics_rows(session: Session, cutoff: str, size: int) -> list[dict[str, Any]]:
    return [dict(zip(METRICS_COLUMNS, row)) for row in upkeep.old_metrics(session, cutoff, size)]


def check_archive(live: Repository, archive: str | os.PathLike[str]) -> None:
    """Refuse an archive that is the live database itself (by path or URL), before anything is opened."""
    _refuse_same(live.path if live.path is not None else live_url(live), archive, "archive")


def live_url(live: Repository) -> str:
    """The live database's URL (with its password, never shown), to compare an archive's with."""
    url = getattr(live._db, "_url", None)
    return str(url) if url is not None else live.location


async def archive_old_data(
    live: Repository, archive: str | os.PathLike[str], trades_cutoff: str, metrics_cutoff: str, batch_size: int
) -> dict[str, int]:
    """Move finished trades and metrics older than the cutoffs from `live` to the database `archive`; how many moved.

    Each batch is committed in the archive, then deleted here (its closed
    trades' net_pnl added to their bots' archived_pnl, in that transaction):
    a crash between the two leaves the batch in both, and the next run skips
    the identical copies and deletes them here. The live bots' books do not
    change.
    """
    check_archive(live, archive)
    moved = {"trades": 0, "performance_metrics": 0}
    async with connect(archive, migrate=True) as store:
        await _refuse_same_identity(live, store, "archive")
        where = store.location
        while True:
            rows = await live._db.read(_old_trade_rows, trades_cutoff, batch_size)
            if not rows:
                break
            bots = await live._db.read(_live_bots, sorted({row["bot_id"] for row in rows}))
            await store._db.write(archive_trades, rows, bots, where)
            if after_archive_commit is not None:
                after_archive_commit()
            moved["trades"] += await live._db.write(delete_archived_trades, rows)
            if len(rows) < batch_size:
                break
            await asyncio.sleep(upkeep.CLEANUP_PAUSE)
        while True:
            rows = await live._db.read(_old_metrics_rows, metrics_cutoff, batch_size)
            if not rows:
                break
            bots = await live._db.read(_live_bots, sorted({row["bot_id"] for row in rows}))
            await store._db.write(archive_metrics, rows, bots, where)
            if after_archive_commit is not None:
                after_archive_commit()
            moved["performance_metrics"] += await live._db.write(upkeep.delete_metrics, [row["id"] for row in rows])
            if len(rows) < batch_size:
                break
            await asyncio.sleep(upkeep.CLEANUP_PAUSE)
    return moved
