"""The async repository: the API bots await. Each method hands one unit of work to the database."""

from __future__ import annotations

import asyncio
import math
import re
import os
from collections.abc import AsyncIterator, Generator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import date, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from . import bots, metrics, trades
from . import analytics, reports, upkeep
from .errors import TradeDBError, ValidationError
from .migrations import prepare
from .paths import check_name_length, path_text, side_file_of
from .records import (
    BOT_COLUMNS,
    BOT_ID,
    OPTIONAL_TEXT,
    TIME,
    TRADE_COLUMNS,
    UUID,
    BotInstance,
    BotState,
    PerformanceMetrics,
    Trade,
    as_fields,
    check_fields,
)
from .database import Database
from .sqlite import Database as SQLiteDatabase, disk_full, is_disk_full, opening_failed_for_space, release_frames
from .values import MAX_INTEGER, exact_text, shown, utc_now

DEFAULT_DATABASE = "db/trading.db"
MAX_POOL_SIZE = 100
# SQLite counts its own busy timeout in milliseconds in a C int; a day is far more than any writer should wait.
MAX_BUSY_TIMEOUT = 86_400.0


def resolve_database(database: str | os.PathLike[str] | None) -> Path:
    """The file a `database` argument names: a path or sqlite:/// URL; None means $TRADEDB_DATABASE or db/trading.db."""
    if database is None:
        database = os.environ.get("TRADEDB_DATABASE") or DEFAULT_DATABASE
    text = path_text("database", database)
    if "://" in text:
        scheme, _, rest = text.partition("://")
        if scheme != "sqlite" or not rest.startswith("/"):
            raise ValidationError(
                "database", f"{_without_password(text)!r} is not a database tradedb can open; give a path, sqlite:///relative/path.db "
                "or postgresql://user@host:5432/dbname"
            )
        text = rest[1:]
    if text in ("", ":memory:") or text.startswith("file:"):
        raise ValidationError("database", f"{text!r} is not a file path; tradedb needs a database file")
    # SQLite and yoyo open files through URIs, where these characters mean something else.
    odd = sorted({c for c in "?#%" if c in text})
    if odd:
        raise ValidationError("database", f"{text!r} contains {' '.join(odd)}; use a path without ?, # or %")
    path = Path(text)
    try:
        return _checked_database(path, text)
    except OSError as error:
        # A name too long for the file system, a folder on the way that cannot be read...
        raise ValidationError("database", f"cannot use {text[:100]!r}: {error.strerror or error}") from None


def _without_password(url: str) -> str:
    """A URL as it may be shown: any password in it (user:password@) replaced by ***."""
    return re.sub(r"(://[^/@:]*:)[^/@]*@", r"\1***@", url)


def _checked_database(path: Path, text: str) -> Path:
    # Before anything is made: connect() creates the folders on the way.
    check_name_length("database", path.absolute())
    if path.is_dir():
        raise ValidationError("database", f"{text!r} is a folder; give the path of a database file inside it")
    if path.exists() and not path.is_file():
        raise ValidationError("database", f"{text!r} is not a regular file (a device, pipe or socket); give a database file")
    side = side_file_of(path)
    if side is not None:
        # Opened as a database, SQLite would write its own header into another database's log.
        raise ValidationError("database", f"{text!r} is the {side[1]} of the database {side[0]}; give {side[0]} itself")
    return path


def _text_filter(field: str, value: Any) -> str | None:
    # Checked as stored text is: plain str, no NUL, no lone surrogate.
    return OPTIONAL_TEXT.to_db(field, value)


def _whole_number(field: str, value: Any, minimum: int) -> int:
    """A caller's int of at least `minimum`; past SQLite's largest integer it means no limit, and is capped."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(field, f"expected a whole number of at least {minimum}, got {shown(value)}")
    number: int = int.__int__(value)  # a subclass's own comparisons are never called
    if number < minimum:
        raise ValidationError(field, f"expected a whole number of at least {minimum}, got {shown(value)}")
    return min(number, MAX_INTEGER)


def _window(since: Any, until: Any) -> tuple[str | None, str | None]:
    """`since` and `until` as stored; a since later than until is refused (it would match nothing, silently)."""
    start, end = TIME.to_db("since", since), TIME.to_db("until", until)
    # The stored form is fixed-width UTC text: it compares as the times do.
    if start is not None and end is not None and start > end:
        raise ValidationError(
            "since", f"{start.replace(' ', 'T')} is later than until ({end.replace(' ', 'T')}); give a since at or before until"
        )
    return start, end


def _duration(field: str, value: Any) -> timedelta:
    """A caller's timedelta of at least 0, as a plain timedelta (a subclass's own methods are never called)."""
    if not isinstance(value, timedelta):
        raise ValidationError(field, f"expected a timedelta of at least 0, got {shown(value)}")
    duration = timedelta.__add__(timedelta(0), value)
    if duration < timedelta(0):
        raise ValidationError(field, f"expected a timedelta of at least 0, got {shown(value)}")
    return duration


def _trade_type(value: Any) -> str | None:
    """A trade_type filter as the plain word (None: all)."""
    return None if value is None else TRADE_COLUMNS["trade_type"].to_db("trade_type", value)


def _seconds(field: str, value: Any) -> float:
    """A caller's number of seconds, from 0 to MAX_BUSY_TIMEOUT (NaN, infinity and booleans refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(field, f"expected seconds (a number from 0 to {MAX_BUSY_TIMEOUT:g}), got {shown(value)}")
    try:
        seconds = float(int.__int__(value)) if isinstance(value, int) else float.__float__(value)
    except OverflowError:
        seconds = math.inf
    if not 0 <= seconds <= MAX_BUSY_TIMEOUT:  # also false for NaN
        raise ValidationError(field, f"expected seconds (a number from 0 to {MAX_BUSY_TIMEOUT:g}), got {shown(value)}")
    return seconds


def _limit(value: int | None) -> int:
    return -1 if value is None else _whole_number("limit", value, 0)


def _day(field: str, value: Any) -> date | None:
    """A caller's UTC date: a datetime.date (not a datetime) or 'YYYY-MM-DD' text; None for no bound."""
    if value is None:
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        return date(value.year, value.month, value.day)
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValidationError(field, f"expected a date such as 2026-12-02 (YYYY-MM-DD, UTC), got {shown(value)}")


def _closed_filter(bot_id: Any, symbol: Any, trade_type: Any, since: Any, until: Any) -> reports.ClosedTradeFilter:
    """Report filters as checked values; a since after until is refused (it would match nothing, silently)."""
    where = reports.ClosedTradeFilter(
        _text_filter("bot_id", bot_id),
        _text_filter("symbol", symbol),
        analytics.trade_type_filter(_trade_type(trade_type)),
        _day("since", since),
        _day("until", until),
    )
    if where.since is not None and where.until is not None and where.since > where.until:
        raise ValidationError("since", f"{where.since} is after until ({where.until}); give a since at or before until")
    return where


class Repository:
    """Everything a bot stores: trades, its own instance, and performance metrics."""

    def __init__(self, database: Database) -> None:
        self._db = database

    @property
    def path(self) -> Path | None:
        """The database file (SQLite); None for a database on a server."""
        return self._db.path

    @property
    def location(self) -> str:
        """Where the database is: its file's path, or its URL without the password."""
        return self._db.location

    async def close(self) -> None:
        """Close the database connections."""
        await self._db.close()

    def transaction(self) -> AbstractAsyncContextManager[None]:
        """`async with repo.transaction():` groups calls atomically; an exception rolls all back."""
        return self._db.transaction()

    # Trades

    async def create_trade(self, data: Mapping[str, Any]) -> Trade:
        """Store a new trade (id generated when absent, status 'open' by default)."""
        created = await self._db.write(trades.create_trades, [as_fields("trade", data)])
        return created[0]

    async def create_trades(self, items: Sequence[Mapping[str, Any]]) -> list[Trade]:
        """Store many trades in one transaction, all or nothing."""
        if isinstance(items, Mapping) or not isinstance(items, Sequence):
            raise ValidationError("trades", "expected a list of trade dicts")
        try:
            listed = list(items)
        except Exception as error:  # noqa: BLE001 - a Sequence whose own methods raise
            raise ValidationError("trades", f"could not be read as a list: it raised {type(error).__name__}") from None
        return await self._db.write(trades.create_trades, [as_fields("trade", item) for item in listed])

    async def update_trade(self, trade_id: str, changes: Mapping[str, Any]) -> Trade:
        """Apply changes to a trade and return it as stored."""
        return await self._db.write(trades.update_trade, trade_id, as_fields("changes", changes))

    async def get_trade_by_id(self, trade_id: str) -> Trade | None:
        """One trade by id, or None."""
        return await self._db.read(trades.get_trade_by_id, UUID.to_db("trade_id", trade_id))

    async def get_open_trades(self, bot_id: str | None = None, symbol: str | None = None) -> list[Trade]:
        """Open trades, oldest entry first, of one bot and/or symbol or of all."""
        return await self._db.read(
            trades.get_open_trades, _text_filter("bot_id", bot_id), _text_filter("symbol", symbol)
        )

    async def get_closed_trades(
        self,
        bot_id: str | None = None,
        symbol: str | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        limit: int | None = None,
    ) -> list[Trade]:
        """Closed trades, newest exit first; since (inclusive) and until (exclusive) bound exit_time."""
        return await self._db.read(
            trades.get_closed_trades,
            _text_filter("bot_id", bot_id),
            _text_filter("symbol", symbol),
            *_window(since, until),
            _limit(limit),
        )

    async def iter_trades(
        self,
        *,
        bot_id: str | None = None,
        symbol: str | None = None,
        status: str | None = None,
        page_size: int = 1000,
    ) -> AsyncIterator[Trade]:
        """Every matching trade in storage order, read a page at a time so memory stays flat."""
        status = None if status is None else TRADE_COLUMNS["status"].to_db("status", status)
        size = _whole_number("page_size", page_size, 1)
        bot_id, symbol = _text_filter("bot_id", bot_id), _text_filter("symbol", symbol)
        after: int | str | None = 0  # the last position read: a rowid on SQLite, an id on PostgreSQL
        while after is not None:
            # A page ends at page_size trades or at trades.PAGE_BYTES of their text.
            page, after = await self._db.read(trades.get_trades_page, after, bot_id, symbol, status, size)
            for trade in page:
                yield trade
            page.clear()  # not held while the next page is read

    async def close_trade(
        self,
        trade_id: str,
        *,
        exit_price: Any,
        exit_time: datetime | str | None = None,
        commission: Any = None,
        exit_reason: str | None = None,
    ) -> Trade:
        """Close an open trade: exit values and PnL computed, the bot's books moved, in one transaction."""
        return await self._db.write(trades.close_trade, trade_id, exit_price, exit_time, commission, exit_reason)

    async def cancel_trade(self, trade_id: str, reason: str | None = None) -> Trade:
        """Cancel an open trade."""
        return await self._db.write(trades.cancel_trade, trade_id, reason)

    # Bots

    async def create_bot_instance(self, data: Mapping[str, Any]) -> BotInstance:
        """Store a new bot instance; an id that exists raises ConflictError."""
        return await self._db.write(bots.create_bot_instance, as_fields("bot instance", data))

    async def update_bot_instance(self, bot_id: str, changes: Mapping[str, Any]) -> BotInstance:
        """Apply changes to a bot instance and return it as stored."""
        return await self._db.write(
            bots.update_bot_instance, bot_id, as_fields("changes", changes)
        )

    async def get_bot_instance(self, bot_id: str) -> BotInstance | None:
        """One bot instance, or None."""
        return await self._db.read(bots.get_bot_instance, BOT_ID.to_db("bot_id", bot_id))

    async def list_bot_instances(self, status: str | None = None) -> list[BotInstance]:
        """Every bot instance, or those with one status, by id."""
        status = None if status is None else BOT_COLUMNS["status"].to_db("status", status)
        return await self._db.read(bots.list_bot_instances, status)

    async def start_bot(self, data: Mapping[str, Any]) -> BotState:
        """The call a bot makes at start: create or mark running, and get back its open positions."""
        fields = as_fields("bot instance", data)
        # start_bot compares a given status with 'running': it is checked first, as the plain word it must be.
        check_fields("bot instance", fields, BOT_COLUMNS)
        if fields.get("status") is not None:
            fields["status"] = BOT_COLUMNS["status"].to_db("status", fields["status"])
        return await self._db.write(bots.start_bot, fields)

    async def stop_bot(self, bot_id: str, status: str = "stopped") -> BotInstance:
        """Mark a bot 'stopped' (or 'error')."""
        if not isinstance(status, str):  # compared below as plain text only
            raise ValidationError("status", f"{shown(status)} is not a stopped status; use 'stopped' or 'error'")
        return await self._db.write(bots.stop_bot, bot_id, exact_text(status))

    async def heartbeat(self, bot_id: str, *, status: str | None = None) -> BotInstance:
        """Record that a bot is alive (last_heartbeat = now), with its status when given."""
        return await self._db.write(bots.heartbeat, bot_id, status)

    async def set_bot_balance(self, bot_id: str, current_balance: Any) -> BotInstance:
        """Set a bot's current_balance (a live bot syncing with its exchange); its total_pnl is unchanged."""
        return await self._db.write(bots.set_bot_balance, bot_id, current_balance)

    async def get_stale_bots(self, max_age: timedelta = timedelta(minutes=5)) -> list[BotInstance]:
        """Bots marked running whose last heartbeat (or start) is older than max_age: they crashed without stopping."""
        return await self._db.read(bots.get_stale_bots, _duration("max_age", max_age))

    # Analytics and upkeep

    async def get_trade_summary(
        self,
        bot_id: str | None = None,
        symbol: str | None = None,
        trade_type: str | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
    ) -> dict[str, Any]:
        """Counts and exact PnL totals of the matching trades; since (inclusive) and until (exclusive) bound entry_time."""
        return await self._db.read(
            analytics.get_trade_summary,
            _text_filter("bot_id", bot_id),
            _text_filter("symbol", symbol),
            analytics.trade_type_filter(_trade_type(trade_type)),
            *_window(since, until),
        )

    async def calculate_performance_metrics(
        self,
        bot_id: str,
        *,
        starting_balance: Any = None,
        trade_type: str | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        store: bool = True,
    ) -> PerformanceMetrics:
        """A bot's performance from its closed trades (since/until bound exit_time), stored unless store=False."""
        # Computed on the reader, then stored in a write of its own, so
        # bots never wait for the arithmetic to hold the write lock.
        row = await self._db.read(
            analytics.calculate_performance_metrics,
            BOT_ID.to_db("bot_id", bot_id),
            analytics.starting_balance_argument(starting_balance),
            analytics.trade_type_filter(_trade_type(trade_type)),
            *_window(since, until),
        )
        if not store:
            return analytics.metrics_record(row)
        return await self._db.write(analytics.store_performance_metrics, row)

    async def cleanup_old_data(
        self,
        days_to_keep: int = 90,
        metrics_days_to_keep: int = 365,
        *,
        dry_run: bool = False,
        batch_size: int = upkeep.CLEANUP_BATCH,
        archive: str | os.PathLike[str] | None = None,
    ) -> dict[str, int]:
        """Delete finished trades that exited, and metrics calculated, before the cutoffs, in short batches.

        With `archive` (a path or URL of another tradedb database, created if
        need be), move them there instead: each batch is committed there first.
        """
        trades_cutoff = upkeep.cutoff("days_to_keep", _whole_number("days_to_keep", days_to_keep, 0))
        metrics_cutoff = upkeep.cutoff("metrics_days_to_keep", _whole_number("metrics_days_to_keep", metrics_days_to_keep, 0))
        batch_size = _whole_number("batch_size", batch_size, 1)
        if archive is not None:
            from . import copying  # it opens databases through this module

            copying.check_archive(self, archive)
            if not dry_run:
                return await copying.archive_old_data(self, archive, trades_cutoff, metrics_cutoff, batch_size)
        if dry_run:
            return await self._db.read(upkeep.count_old_data, trades_cutoff, metrics_cutoff)
        deleted = {"trades": 0, "performance_metrics": 0}
        for table, unit, cutoff in (
            ("trades", upkeep.delete_old_trades, trades_cutoff),
            ("performance_metrics", upkeep.delete_old_metrics, metrics_cutoff),
        ):
            while True:
                # One short transaction per batch: writers get the lock in between.
                count = await self._db.write(unit, cutoff, batch_size)
                deleted[table] += count
                if count < batch_size:
                    break
                await asyncio.sleep(upkeep.CLEANUP_PAUSE)
        return deleted

    def default_backup_path(self) -> Path:
        """Where backup() writes when given no destination (a new name each second)."""
        return self._db.default_backup_path()

    async def backup(self, dest: str | os.PathLike[str] | None = None) -> Path:
        """A consistent copy of the live database (default backups/<name>-<UTC time>.db beside it); its path."""
        path = upkeep.backup_destination(self._db.path, self._db.default_backup_path(), dest)
        await self._db.backup(path)
        return path

    async def health(self, full: bool = False, *, stale_after: timedelta = upkeep.STALE_AFTER) -> dict[str, Any]:
        """A report on the database: schema, integrity, counts, size, stale bots; problems reported, never raised."""
        stale_after = _duration("stale_after", stale_after)
        if not isinstance(full, int):  # bool is an int; read as one, so no __bool__ of a caller's is called
            raise ValidationError("full", f"expected True or False, got {shown(full)}")
        report: dict[str, Any] = await self._db.inspect(upkeep.health, self.location, int.__int__(full) != 0, stale_after)
        replica_report = getattr(self._db, "replica_report", None)
        if replica_report is not None:
            await self._db.check()  # type: ignore[attr-defined]  # as they are now, not as of the last check
            replicas = replica_report()
            problems = report.pop("problems", [])
            report["replicas"] = replicas
            for replica in replicas:
                if not replica["used_for_reads"]:
                    what = "unreachable" if not replica["reachable"] else "not used for reads"
                    problems.append(f"read replica {replica['replica']} {what} ({replica.get('error') or 'no answer'}): "
                                    "reads go to the other replicas or the primary")
                    report["ok"] = False
            report["problems"] = problems
        return report

    # Reports over the whole database (what `tradedb serve` shows)

    async def get_bot_overview(self, today: date | str | None = None) -> list[reports.BotOverview]:
        """Every bot with its closed-trade counts over all history, the realized PnL of `today` (UTC) and open positions."""
        day = _day("today", today) or utc_now().date()
        return await self._db.read(reports.bot_overview, day)

    async def get_daily_pnl(self, bot_id: str | None = None) -> list[reports.DailyPnl]:
        """Realized PnL per bot and UTC exit day, oldest first, of one bot or all: exact, read from closed_trade_stats."""
        return await self._db.read(reports.daily_pnl, _text_filter("bot_id", bot_id))

    async def get_closed_trades_page(
        self,
        *,
        bot_id: str | None = None,
        symbol: str | None = None,
        trade_type: str | None = None,
        since: date | str | None = None,
        until: date | str | None = None,
        sort: str = "exit_time",
        descending: bool = True,
        page: int = 1,
        page_size: int = 50,
    ) -> reports.TradePage:
        """One page of closed trades; since and until are UTC exit dates, both inclusive; sort is one of reports.SORTS."""
        where = _closed_filter(bot_id, symbol, trade_type, since, until)
        if not isinstance(sort, str) or sort not in reports.SORTS:
            raise ValidationError("sort", f"expected one of {', '.join(reports.SORTS)}, got {shown(sort)}")
        if not isinstance(descending, bool):
            raise ValidationError("descending", f"expected True or False, got {shown(descending)}")
        number = _whole_number("page", page, 1)
        size = _whole_number("page_size", page_size, 1)
        if size > reports.MAX_PAGE_SIZE:
            raise ValidationError("page_size", f"expected at most {reports.MAX_PAGE_SIZE}, got {size}")
        return await self._db.read(reports.closed_trades_page, where, sort, descending, number, size)

    async def iter_closed_trades(
        self,
        *,
        bot_id: str | None = None,
        symbol: str | None = None,
        trade_type: str | None = None,
        since: date | str | None = None,
        until: date | str | None = None,
        page_size: int = 1000,
    ) -> AsyncIterator[Trade]:
        """Every matching closed trade, oldest exit first, read a page at a time (each page sees the last commit)."""
        where = _closed_filter(bot_id, symbol, trade_type, since, until)
        size = _whole_number("page_size", page_size, 1)
        after: tuple[str, str] | None = None
        while True:
            page, after = await self._db.read(reports.closed_trades_after, where, after, size)
            for trade in page:
                yield trade
            if after is None:
                return
            page.clear()

    async def get_pnl_distribution(
        self,
        *,
        bot_id: str | None = None,
        symbol: str | None = None,
        trade_type: str | None = None,
        since: date | str | None = None,
        until: date | str | None = None,
    ) -> reports.PnlDistribution:
        """The matching closed trades counted per pnl_percentage bucket (reports.BUCKET_EDGES), from closed_trade_stats."""
        where = _closed_filter(bot_id, symbol, trade_type, since, until)
        return await self._db.read(reports.pnl_distribution, where)

    async def get_traded_symbols(self) -> list[str]:
        """Every symbol with a closed or an open trade, in order."""
        return await self._db.read(reports.traded_symbols)

    async def changes(self, interval: float = 0.25) -> AsyncIterator[int]:
        """Yield a rising count soon after any other connection or process commits (polled every `interval` seconds)."""
        seconds = _seconds("interval", interval)
        if seconds <= 0:
            raise ValidationError("interval", "expected seconds above 0")
        async for count in self._db.changes(seconds):
            yield count

    # Metrics

    async def create_performance_metrics(self, data: Mapping[str, Any]) -> PerformanceMetrics:
        """Store one calculation of a bot's performance."""
        return await self._db.write(metrics.create_performance_metrics, as_fields("performance metrics record", data))

    async def get_performance_metrics(self, bot_id: str, limit: int | None = None) -> list[PerformanceMetrics]:
        """A bot's metrics, newest first."""
        return await self._db.read(metrics.get_performance_metrics, BOT_ID.to_db("bot_id", bot_id), _limit(limit))


async def open_repository(
    database: str | os.PathLike[str] | None, migrate: bool, busy_timeout: float, pool_size: int,
    replicas: Sequence[str] = (), replica_wait: float = 0.5, max_replica_lag: float = 5.0,
) -> Repository:
    """Resolve, migrate and open a database: a SQLite file, or a PostgreSQL database by URL (and its read replicas)."""
    busy_timeout = _seconds("busy_timeout", busy_timeout)
    pool_size = _pool_size(pool_size)
    replica_urls = _replica_urls(replicas)
    if database is None:
        database = os.environ.get("TRADEDB_DATABASE") or DEFAULT_DATABASE
    text = path_text("database", database)
    if text.startswith(POSTGRESQL_SCHEMES):
        backend = postgresql_backend()
        db: Database = await backend.open_database(
            text, migrate=migrate, busy_timeout=float(busy_timeout), pool_size=pool_size
        )
        if replica_urls:
            db = await _with_replicas(backend, db, replica_urls, float(busy_timeout), pool_size,
                                      _seconds("replica_wait", replica_wait), _seconds("max_replica_lag", max_replica_lag))
        return Repository(db)
    if replica_urls:
        raise ValidationError("replicas", "read replicas are PostgreSQL's: give a postgresql:// database, or no replicas")
    return Repository(await open_sqlite(text, migrate, busy_timeout))


def _replica_urls(replicas: Any) -> list[str]:
    """The replicas' URLs, checked as far as they can be before connecting."""
    if isinstance(replicas, (str, bytes, os.PathLike)) or not isinstance(replicas, Sequence):
        raise ValidationError("replicas", f"expected a list of postgresql:// URLs, got {shown(replicas)}")
    urls = []
    for index, url in enumerate(replicas):
        text = path_text(f"replicas[{index}]", url)
        if not text.startswith(POSTGRESQL_SCHEMES):
            raise ValidationError(f"replicas[{index}]", "expected a postgresql:// URL of a streaming standby")
        urls.append(text)
    return urls


async def _with_replicas(
    backend: Any, primary: Database, urls: list[str], busy_timeout: float, pool_size: int,
    replica_wait: float, max_replica_lag: float,
) -> Database:
    """The primary with its replicas; a replica that is down now is skipped until it answers, not refused."""
    from .replicas import ReplicatedDatabase

    replicas = []
    try:
        for url in urls:
            backend.check_url(url)
            replicas.append(backend.Database(url, pool_size, busy_timeout))
        db = ReplicatedDatabase(primary, replicas, replica_wait=replica_wait, max_replica_lag=max_replica_lag)
        await db.open()
    except BaseException:
        for replica in replicas:
            await replica.close()
        await primary.close()
        raise
    return db


POSTGRESQL_SCHEMES = ("postgresql://", "postgres://")


def postgresql_backend() -> Any:
    """tradedb.postgresql, imported only for a PostgreSQL URL (psycopg is optional); TradeDBError without it."""
    try:
        from . import postgresql
    except ImportError as error:
        raise TradeDBError(
            f"connecting to PostgreSQL needs the psycopg driver, which is not installed ({error}): "
            "pip install 'tradedb[postgresql]'"
        ) from None
    return postgresql


def _pool_size(value: Any) -> int:
    """A caller's pool size: a whole number from 1 to 100."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= int.__int__(value) <= MAX_POOL_SIZE:
        raise ValidationError("pool_size", f"expected a whole number from 1 to {MAX_POOL_SIZE}, got {shown(value)}")
    return int.__int__(value)


async def open_sqlite(database: str, migrate: bool, busy_timeout: float) -> SQLiteDatabase:
    """Resolve, migrate and open a SQLite database file."""
    path = resolve_database(database)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        if is_disk_full(error):
            raise disk_full(path, f"the folder {path.parent} could not be created", "free some space there") from error
        raise ValidationError("database", f"cannot create the folder {path.parent}: {error.strerror}") from None
    try:
        await asyncio.to_thread(prepare, path, migrate=migrate, busy_timeout=float(busy_timeout))
        db = SQLiteDatabase(path, float(busy_timeout))
        await db.open()  # closes what it opened when it fails
    except Exception as error:
        release_frames(error)  # so that nothing the failed attempt opened stays open
        full = opening_failed_for_space(path, error)
        if full is None:
            raise
        raise full from error
    return db


class Connection:
    """What tradedb.connect returns: await it, or use it with `async with`."""

    def __init__(self, database: str | os.PathLike[str] | None, migrate: bool, busy_timeout: float, pool_size: int,
                 replicas: Sequence[str] = (), replica_wait: float = 0.5, max_replica_lag: float = 5.0) -> None:
        self._args = (database, migrate, busy_timeout, pool_size, replicas, replica_wait, max_replica_lag)
        self._repository: Repository | None = None

    def __await__(self) -> Generator[Any, None, Repository]:
        return open_repository(*self._args).__await__()

    async def __aenter__(self) -> Repository:
        self._repository = await open_repository(*self._args)
        return self._repository

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._repository is not None:
            await self._repository.close()
            self._repository = None


def connect(
    database: str | os.PathLike[str] | None = None,
    *,
    migrate: bool = True,
    busy_timeout: float = 5.0,
    pool_size: int = 4,
    replicas: Sequence[str] = (),
    replica_wait: float = 0.5,
    max_replica_lag: float = 5.0,
) -> Connection:
    """Open a trade database: a path, sqlite:/// or postgresql:// URL; None: $TRADEDB_DATABASE or db/trading.db.

    pool_size: connections this process keeps to a PostgreSQL server (SQLite uses one writer and one reader).
    replicas: postgresql:// URLs of streaming standbys that serve reads outside transactions; this
    repository's reads wait up to replica_wait seconds for a replica to replay its own last write (else
    read the primary), and a replica more than max_replica_lag seconds behind is skipped (README: Read replicas).
    """
    return Connection(database, migrate, busy_timeout, pool_size, replicas, replica_wait, max_replica_lag)
