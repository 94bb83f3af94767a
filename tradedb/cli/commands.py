"""The subcommands that look at and look after a database: migrate, status, bots, trades, summary, metrics, cleanup, backup."""

from __future__ import annotations

import argparse
import asyncio
import heapq
import os
import sys
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .. import Trade
from ..database import SchemaState
from ..errors import MigrationError
from ..migrations import schema_state
from . import output
from .args import format_age
from .common import (
    database_target,
    hide_urls,
    given_replicas,
    open_existing,
    opened,
    require_bot,
    require_creatable,
    require_file,
    server_schema_state,
    where,
)


async def run_migrate(options: argparse.Namespace) -> int:
    """Apply pending migrations (tradedb backs up a SQLite database with data first), or --list them."""
    target = database_target(options)
    if isinstance(target, str):
        return await _migrate_server(options, target)
    path = target
    if not options.list:
        require_creatable(path)
    before = await asyncio.to_thread(schema_state, path)
    if options.list:
        _list_migrations(options, str(path), before)
        return 0
    async with opened(path, migrate=True):
        # Read while tradedb's own connection is open: its close then tidies the WAL files away.
        after = await asyncio.to_thread(schema_state, path)
    applied = [m for m in after.applied if m not in before.applied]
    if options.json:
        print(output.json_text({"database": path, "applied": applied, "pending": after.pending}))
    elif applied:
        print(f"applied {', '.join(applied)} to {path}")
    else:
        print(f"{path} is up to date ({output.plural(len(after.applied), 'migration')} applied)")
    return 0


def _list_migrations(options: argparse.Namespace, location: str, state: SchemaState) -> None:
    rows = (
        [{"migration": m, "status": "applied"} for m in state.applied if m not in state.unknown]
        + [{"migration": m, "status": "unknown (from a newer tradedb)"} for m in state.unknown]
        + [{"migration": m, "status": "pending"} for m in state.pending]
    )
    if options.json:
        print(output.json_text({"database": location, "migrations": rows}))
    else:
        output.table(rows, ["status", "migration"])


# Said after applying migrations to PostgreSQL, where no backup is taken first.
TRANSACTIONAL = ("no backup was needed first: PostgreSQL runs each migration in a transaction, "
                 "so one that fails is rolled back whole")


async def _migrate_server(options: argparse.Namespace, url: str) -> int:
    """migrate on PostgreSQL: under tradedb's advisory lock, each migration in its own transaction, no backup."""
    location = where(url)
    before = await server_schema_state(url)
    if options.list:
        _list_migrations(options, location, before)
        return 0
    if before.unknown:
        raise MigrationError(
            f"{location} has migration(s) {', '.join(before.unknown)} applied, which this version of tradedb does not "
            "know: it was migrated by a newer tradedb. Upgrade tradedb; the database was not touched."
        )
    async with opened(url, migrate=True):
        pass  # opening with migrate=True applies the pending migrations, under tradedb's advisory lock
    after = await server_schema_state(url)
    applied = [m for m in after.applied if m not in before.applied]
    if options.json:
        print(output.json_text({"database": location, "applied": applied, "pending": after.pending, "backup": None,
                                "transactional": True}))
    elif applied:
        print(f"applied {', '.join(applied)} to {location}\n{TRANSACTIONAL}")
    else:
        print(f"{location} is up to date ({output.plural(len(after.applied), 'migration')} applied)")
    return 0


DEFAULT_LIMIT = 50  # trades listed when no --limit is given
_NEVER = datetime.min.replace(tzinfo=timezone.utc)  # sorts a trade without exit_time last

# What `tradedb status` shows, in this order, by the health report's keys; other keys follow as they come.
_HEALTH_LABELS = {
    "database": "database",
    "ok": "ok",
    "applied_migrations": "applied migrations",
    "pending_migrations": "pending migrations",
    "integrity": "integrity",
    "foreign_key_violations": "foreign key violations",
    "row_counts": "rows",
    "file_size_bytes": "size (with WAL)",
    "database_size_bytes": "size",
    "stale_bots": "stale bots",
    "journal_mode": "journal mode",
    "sqlite_version": "SQLite",
    "server_version": "PostgreSQL",
    "replicas": "read replicas",
    "problems": "problems",
}


def _size(size: Any) -> str:
    if not isinstance(size, int):
        return output.text(size)
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit} ({size} bytes)"
    return f"{size} bytes"


def _replica_line(replica: dict[str, Any]) -> str:
    """One replica in `tradedb status`: where, reachable, its replay lag, whether reads go to it."""
    if not replica["reachable"]:
        return f"{replica['replica']} unreachable ({replica.get('error') or 'no answer'})"
    lag = replica["replay_lag_seconds"]
    return (f"{replica['replica']} reachable, replay lag {'unknown' if lag is None else f'{lag:.3f} s'} "
            f"({replica['replay_lag_bytes']} bytes){'' if replica['used_for_reads'] else ', not used for reads'}")


async def run_status(options: argparse.Namespace) -> int:
    """Print the health report; exit status 1 when the database is not healthy."""
    target = database_target(options)
    if isinstance(target, Path):
        require_file(target)
    try:
        async with opened(target, migrate=False, replicas=given_replicas(options)) as repository:
            report = dict(await repository.health(full=options.full, stale_after=options.stale_after))
    except MigrationError as error:
        # The repository will not open a database at another schema; report what the schema says instead.
        if isinstance(target, str):
            state = await server_schema_state(target)
        else:
            state = await asyncio.to_thread(schema_state, target)
        report = {"ok": False, "database": where(target), "applied_migrations": state.applied,
                  "pending_migrations": state.pending, "problems": [str(error)]}
    if options.json:
        print(output.json_text(report))
    else:
        shown = dict(report)
        for key in ("file_size_bytes", "database_size_bytes"):
            if key in shown:
                shown[key] = _size(shown[key])
        if shown.get("replicas"):
            shown["replicas"] = "; ".join(_replica_line(replica) for replica in shown["replicas"])
        if shown.get("stale_bots") is not None:
            shown["stale_bots"] = f"{output.text(shown['stale_bots'])} (running, silent for over {format_age(options.stale_after)})"
        lines: list[tuple[str, Any]] = []
        for key, label in [*_HEALTH_LABELS.items(), *((k, k.replace("_", " ")) for k in shown if k not in _HEALTH_LABELS)]:
            if key not in shown:
                continue
            value = shown[key]
            if key == "problems" and isinstance(value, list) and value:
                # One problem a line, each on one line (a server's message may hold several).
                lines += [(label if n == 0 else "", " ".join(str(problem).split())) for n, problem in enumerate(value)]
            else:
                lines.append((label, value))
        output.pairs(lines)
    return 0 if report.get("ok") else 1


async def run_bots(options: argparse.Namespace) -> int:
    """Every bot with its books, open trades and heartbeat age; running bots silent too long are STALE."""
    async with open_existing(options) as repository:
        bots = await repository.list_bot_instances()
        stale = {bot.id for bot in await repository.get_stale_bots(options.stale_after)}
        open_trades = Counter(trade.bot_id for trade in await repository.get_open_trades())
    now = datetime.now(timezone.utc)
    rows: list[dict[str, Any]] = []
    for bot in bots:
        # The same sign of life get_stale_bots goes by: the last heartbeat, else the start.
        seen = bot.last_heartbeat or bot.started_at
        age = now - seen if seen else None
        rows.append({
            "id": bot.id, "type": bot.type, "status": bot.status, "balance": bot.current_balance,
            "total_pnl": bot.total_pnl, "open_trades": open_trades.get(bot.id, 0),
            "last_heartbeat": bot.last_heartbeat, "heartbeat_age": age, "stale": bot.id in stale,
        })
    if options.json:
        # Every column under its own name, as the record has it (so it can be fed back to start_bot),
        # then what is computed here under names of its own.
        print(output.json_text([
            {**output.plain(bot), "open_trades": row["open_trades"],
             "heartbeat_age_seconds": None if row["heartbeat_age"] is None else round(row["heartbeat_age"].total_seconds(), 3),
             "stale": row["stale"]}
            for bot, row in zip(bots, rows)
        ]))
        return 0
    for row in rows:
        row["heartbeat_age"] = "-" if row["heartbeat_age"] is None else format_age(row["heartbeat_age"])
        row["stale"] = "STALE" if row["stale"] else ""
    output.table(rows, ["id", "type", "status", "balance", "total_pnl", "open_trades", "heartbeat_age", "stale"])
    return 0


async def newest_exits(trades: AsyncIterator[Trade], keep: int | None) -> list[Trade]:
    """The `keep` trades (all when None) with the latest exit_time, newest first, holding only those in memory."""
    # (exit time, storage order, trade): the order is unique, so two trades are never compared themselves.
    heap: list[tuple[datetime, int, Trade]] = []
    order = 0
    async for trade in trades:
        entry = (trade.exit_time or _NEVER, order, trade)
        order += 1
        if keep is None or len(heap) < keep:
            heapq.heappush(heap, entry)
        elif entry > heap[0]:
            heapq.heapreplace(heap, entry)
    return [trade for _, _, trade in sorted(heap, reverse=True)]


_TRADE_COLUMNS = ["id", "bot_id", "symbol", "direction", "status", "entry_time", "entry_price", "size",
                  "exit_time", "exit_price", "net_pnl"]
# What gives way when the table is wider than the terminal: these text
# columns are cut first (down to these widths), then whole columns are left
# out in this order. Amounts and times are never cut: shown whole or not at all.
_TRADE_SHRINK = {"bot_id": 12, "symbol": 10}
_TRADE_DROP = ["exit_time", "status", "size", "entry_time", "bot_id", "direction", "exit_price", "entry_price"]
SHORT_ID = 8  # like git, ids are shown by a prefix, longer only where shown ids would share it


def short_ids(ids: list[str]) -> int:
    """The shortest prefix length, from SHORT_ID, that tells the given ids apart."""
    length = SHORT_ID
    while len({i[:length] for i in ids}) < len(set(ids)):
        length += 1
    return length


def _fit_trades(rows: list[dict[str, Any]], options: argparse.Namespace) -> None:
    """The trades table in the terminal's width: ids shortened, then text cut, then columns left out."""
    length = short_ids([row["id"] for row in rows])
    for row in rows:
        row["id"] = row["id"][:length]
    # A column the filter fixes says nothing: it goes first.
    fixed = [name for name, given in (("bot_id", options.bot), ("symbol", options.symbol)) if given is not None]
    hidden = output.table(rows, _TRADE_COLUMNS, width=output.terminal_width(), shrink=_TRADE_SHRINK,
                          drop=fixed + _TRADE_DROP)
    if hidden and sys.stderr.isatty():
        print(f"tradedb: {', '.join(hidden)} left out to fit the terminal; --wide shows every column", file=sys.stderr)


async def run_trades(options: argparse.Namespace) -> int:
    """List trades: open ones oldest first, then closed ones newest exit first; or only cancelled ones."""
    explicit = options.limit is not None
    limit = (options.limit if explicit else DEFAULT_LIMIT) or None
    # One more than shown, to tell whether there is more.
    fetch = None if limit is None else limit + 1
    async with open_existing(options) as repository:
        if options.bot is not None:
            await require_bot(repository, options.bot)
        trades: list[Trade] = []
        if options.cancelled:
            cancelled = repository.iter_trades(bot_id=options.bot, symbol=options.symbol, status="cancelled")
            trades = await newest_exits(cancelled, fetch)
        if not options.closed and not options.cancelled:
            trades += await repository.get_open_trades(bot_id=options.bot, symbol=options.symbol)
        if not options.open and not options.cancelled and (fetch is None or len(trades) < fetch):
            rest = None if fetch is None else fetch - len(trades)
            trades += await repository.get_closed_trades(bot_id=options.bot, symbol=options.symbol, limit=rest)
    more = limit is not None and len(trades) > limit
    trades = trades[:limit]
    if options.json:
        print(output.json_text(trades))
    else:
        rows = [{column: getattr(trade, column) for column in _TRADE_COLUMNS} for trade in trades]
        if options.wide:
            output.table(rows, _TRADE_COLUMNS)
        else:
            _fit_trades(rows, options)
    if more and not explicit:
        # Only when the default cut the list: a --limit the user chose needs no reminder.
        print(f"tradedb: showing the first {limit} trades; --limit 0 shows all, `tradedb export trades` streams them",
              file=sys.stderr)
    return 0


async def run_summary(options: argparse.Namespace) -> int:
    """Counts, win rate and exact PnL totals of the matching trades."""
    async with open_existing(options) as repository:
        if options.bot is not None:
            await require_bot(repository, options.bot)
        summary = await repository.get_trade_summary(
            bot_id=options.bot, symbol=options.symbol, trade_type=options.trade_type,
            since=options.since, until=options.until,
        )
    if options.json:
        print(output.json_text(summary))
    else:
        output.pairs((key, value) for key, value in summary.items())
    return 0


async def run_metrics(options: argparse.Namespace) -> int:
    """Compute a bot's performance metrics from its closed trades; store them unless --no-store."""
    async with open_existing(options) as repository:
        await require_bot(repository, options.bot_id)
        metrics = await repository.calculate_performance_metrics(
            options.bot_id, starting_balance=options.starting_balance, trade_type=options.trade_type,
            since=options.since, until=options.until, store=not options.no_store,
        )
    shown = output.plain(metrics)
    if options.no_store:
        # Not stored: it has no row, so no id or creation time (still listed, as null, like every column).
        shown.update(id=None, created_at=None)
    if options.json:
        print(output.json_text({"stored": not options.no_store, **shown}))
    else:
        output.pairs((name, value) for name, value in shown.items()
                     if name != "extra_metadata" and not (options.no_store and name in ("id", "created_at")))
        print(f"stored as {metrics.id}" if not options.no_store else "not stored (--no-store)")
    return 0


async def run_cleanup(options: argparse.Namespace) -> int:
    """Delete (or with --dry-run count) closed trades and metrics older than the retention periods; or move them (--archive)."""
    progress = output.Progress(output.interactive())
    archive = options.archive
    async with open_existing(options) as repository:
        doing = "archiving" if archive is not None else "cleaning up"
        async with progress.activity("dry run: counting" if options.dry_run else doing):
            result = await repository.cleanup_old_data(
                options.days, options.metrics_days, dry_run=options.dry_run, archive=archive
            )
    if options.json:
        shown = {"dry_run": options.dry_run, **result}
        if archive is not None:
            shown["archive"] = hide_urls(archive)
        print(output.json_text(shown))
    else:
        if archive is None:
            verb = "would delete" if options.dry_run else "deleted"
        else:
            verb = "would move" if options.dry_run else "moved"
        trades = output.plural(result.get("trades", 0), "closed or cancelled trade")
        metrics = output.plural(result.get("performance_metrics", 0), "metrics row")
        to = "" if archive is None else f" to {hide_urls(archive)}"
        print(f"{verb} {trades} (exit over {output.plural(options.days, 'day')} ago) "
              f"and {metrics} (over {output.plural(options.metrics_days, 'day')} old){to}")
    return 0


def _backup_target(dest: str | None, default: Path) -> Path | None:
    """DEST as given; a folder (existing, or written with a trailing slash) gets the usual timestamped name in it."""
    if dest is None:
        return None
    target = Path(dest)
    if target.is_dir() or dest.endswith(("/", os.sep)):
        return target / default.name
    return target


async def run_backup(options: argparse.Namespace) -> int:
    """Take a consistent online copy of the database and print where it is."""
    progress = output.Progress(output.interactive())
    async with open_existing(options) as repository:
        target = _backup_target(options.dest, repository.default_backup_path())
        if target is not None:
            require_creatable(target)  # so an unwritable folder is named, not just "unable to open"
        async with progress.activity("backing up"):
            written = await repository.backup(target)
    if options.json:
        print(output.json_text({"database": repository.location, "backup": written}))
    else:
        print(written)
    return 0
