"""Upkeep: retention, backups and health; the units of work and checks behind those repository methods.

Retention deletes in batches, each its own short write transaction, so a
bot writing meanwhile waits for one batch at most (README.md, "Retention").
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal, localcontext
from pathlib import Path
from collections.abc import Callable
from typing import Any

from .bots import get_stale_bots
from .database import Check, SchemaState, Session
from .errors import StoredMeanwhile, ValidationError
from .paths import check_destination, path_text
from .queries import DIALECTS, QUERIES
from .records import MONEY
from .values import EXACT, from_units, time_to_text, utc_now

COUNT_OLD_TRADES = QUERIES["count_finished_trades_before"]
FINISHED_PNL = QUERIES["finished_trade_pnl_before"]
FINISHED_TRADES = QUERIES["finished_trades_before"]
FINISHED_BY_IDS = QUERIES["finished_trades_by_ids_for_update"]
DELETE_TRADES = QUERIES["delete_trades_by_ids"]
OLD_METRICS = QUERIES["metrics_before"]
DELETE_METRICS = QUERIES["delete_metrics_by_ids"]
ARCHIVED_PNL = QUERIES["get_archived_pnl_for_update"]
SET_ARCHIVED_PNL = QUERIES["set_archived_pnl"]
COUNT_OLD_METRICS = QUERIES["count_metrics_before"]
DELETE_OLD_METRICS = QUERIES["delete_metrics_before"]
ROW_COUNTS = QUERIES["row_counts"]
COUNT_CLOSED_WITHOUT_PNL = QUERIES["count_closed_trades_without_pnl"]
CLOSED_WITHOUT_PNL = QUERIES["closed_trades_without_pnl"]
COUNT_OF_ANOTHER_TYPE = QUERIES["count_trades_of_another_type"]
OF_ANOTHER_TYPE = QUERIES["trades_of_another_type"]
BOT_BOOKS = QUERIES["bot_books"]
CLOSED_NET_PNL_BY_BOT = QUERIES["closed_net_pnl_by_bot"]
CLOSED_NET_PNL = QUERIES["closed_net_pnl"]
STORED_STATS = QUERIES["stored_closed_trade_stats"]
STATS_FROM_TRADES = QUERIES["closed_trade_stats_from_trades"]
STATS_INPUTS = QUERIES["closed_trade_stats_inputs"]
CLEAR_STATS = QUERIES["clear_closed_trade_stats"]
FILL_STATS = QUERIES["fill_closed_trade_stats"]

# Rows per retention batch. Measured on a noisy 2-core box with 200k old
# trades: see README.md, "Retention", for the time a batch holds the lock.
CLEANUP_BATCH = 200
# Between batches the write lock is free for this long, so that writers in
# other processes (which poll for it) get their turn, not only this
# process's coroutines (which queue for it).
CLEANUP_PAUSE = 0.005
STALE_AFTER = timedelta(minutes=5)
# Trades (or rows) a problem names as examples, and bots with wrong books named one a line.
EXAMPLES = 3
MAX_WRONG_BOOKS_SHOWN = 10
# As in analytics: the widest amount text whose 10^-8 units SQLite's CAST
# reads exactly (18 digits and the point); wider ones are summed in Python.
WIDEST_SUMMED_IN_SQL = 19


def whole_number(field: str, value: Any, minimum: int) -> int:
    """An int of at least `minimum`, or ValidationError naming the field."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValidationError(field, f"expected a whole number of at least {minimum}, got {value!r}")
    return value


def cutoff(field: str, days: Any) -> str:
    """The stored time `days` whole days before now."""
    # Past 1000 years everything is kept anyway; datetime cannot go before year 1.
    days = min(whole_number(field, days, 0), 365_000)
    return time_to_text(utc_now() - timedelta(days=days))


# Retention ---------------------------------------------------------------


def count_old_data(session: Session, trades_cutoff: str, metrics_cutoff: str) -> dict[str, int]:
    """What retention would delete: finished trades that exited, and metrics calculated, before the cutoffs."""
    return {
        "trades": session.one(COUNT_OLD_TRADES, {"cutoff": trades_cutoff})[0],
        "performance_metrics": session.one(COUNT_OLD_METRICS, {"cutoff": metrics_cutoff})[0],
    }


def delete_old_trades(session: Session, trades_cutoff: str, batch_size: int) -> int:
    """Delete one batch of closed or cancelled trades that exited before the cutoff; how many went.

    Their net_pnl goes to their bots' archived_pnl in the same transaction,
    so each bot's total_pnl stays the sum of its closed trades plus archived_pnl.
    """
    rows = session.many(FINISHED_PNL, {"cutoff": trades_cutoff, "batch_size": batch_size})
    take_out_trades(session, [(trade_id, bot_id, net_pnl if status == "closed" else None)
                              for trade_id, bot_id, status, net_pnl in rows])
    return len(rows)


def take_out_trades(session: Session, trades: list[tuple[str, str, Any]]) -> None:
    """Delete trades given as (id, bot, net_pnl counted in its books or None), and add that PnL to their bots' archived_pnl."""
    if not trades:
        return
    deleted = session.exec(DELETE_TRADES, {"ids": json.dumps([trade_id for trade_id, _, _ in trades])})
    if deleted != len(trades):  # the rows were read locked (SQLite: under the write lock): never, unless edited meanwhile
        raise StoredMeanwhile("trades of this retention batch were deleted meanwhile; the batch is run again")
    taken: dict[str, Decimal] = defaultdict(Decimal)
    with localcontext(EXACT):
        for _, bot_id, net_pnl in trades:
            if net_pnl is not None:
                taken[bot_id] += Decimal(net_pnl)
    now = time_to_text(utc_now())
    for bot_id in sorted(taken):  # in one order, as the books are moved (trades.rebook)
        if not taken[bot_id]:
            continue
        row = session.one(ARCHIVED_PNL, {"id": bot_id})
        if row is None:  # a foreign key keeps a bot with trades: only a hand edit gets here
            raise StoredMeanwhile(f"bot {bot_id!r} is gone; the retention batch is run again")
        with localcontext(EXACT):
            archived = MONEY.computed(Decimal(row[0]) + taken[bot_id])
        session.exec(SET_ARCHIVED_PNL, {"id": bot_id, "archived_pnl": archived, "updated_at": now})


def old_trades(session: Session, trades_cutoff: str, batch_size: int) -> list[Any]:
    """One batch of the finished trades retention takes, every column, oldest exit first (for an archive)."""
    return session.many(FINISHED_TRADES, {"cutoff": trades_cutoff, "batch_size": batch_size})


def old_metrics(session: Session, metrics_cutoff: str, batch_size: int) -> list[Any]:
    """One batch of the metrics rows retention takes, every column (for an archive)."""
    return session.many(OLD_METRICS, {"cutoff": metrics_cutoff, "batch_size": batch_size})


def delete_metrics(session: Session, metrics_ids: list[str]) -> int:
    """Delete the metrics rows of these ids (archived already); how many went."""
    return session.exec(DELETE_METRICS, {"ids": json.dumps(metrics_ids)}) if metrics_ids else 0


def delete_old_metrics(session: Session, metrics_cutoff: str, batch_size: int) -> int:
    """Delete one batch of metrics calculated before the cutoff; how many went."""
    return session.exec(DELETE_OLD_METRICS, {"cutoff": metrics_cutoff, "batch_size": batch_size})


# Backups -----------------------------------------------------------------


def backup_destination(database: Path | None, default: Path, dest: str | os.PathLike[str] | None) -> Path:
    """Where a backup goes (`default` when `dest` is None), checked against the database file (if any), folders made."""
    if dest is None:
        path = default
    else:
        path = Path(path_text("dest", dest))
    # The resolved path is the one made and written: "nosuch/../trading.db"
    # is the database itself once "nosuch" exists.
    path = check_destination(path, database, field="dest", sqlite_file=True)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValidationError("dest", f"cannot create the folder {path.parent}: {error.strerror}") from None
    return path


# Health ------------------------------------------------------------------


def closed_net_pnl_sums(session: Session) -> dict[str, Decimal]:
    """Each bot's sum of its closed trades' net_pnl, exact: in SQL when it can be, else in Python."""
    try:
        rows = session.many(CLOSED_NET_PNL_BY_BOT, {})
    except Exception as error:
        if not session.sum_overflowed(error):
            raise
        rows = None
    if rows is not None and all(widest <= WIDEST_SUMMED_IN_SQL for _, _, widest in rows):
        return {bot_id: from_units(units) for bot_id, units, _ in rows}
    sums: dict[str, Decimal] = defaultdict(Decimal)
    with localcontext(EXACT):
        for bot_id, net_pnl in session.each(CLOSED_NET_PNL, {}):
            sums[bot_id] += Decimal(net_pnl)
    return dict(sums)


def wrong_books(session: Session) -> list[tuple[str, Any, str, Any, str]]:
    """(bot, stored total_pnl, sum of its closed trades' net_pnl, archived_pnl, what total_pnl should be) of each bot
    whose total_pnl is not the sum of its closed trades' net_pnl plus its archived_pnl."""
    sums = closed_net_pnl_sums(session)
    wrong = []
    for bot_id, total_pnl, archived_pnl in session.each(BOT_BOOKS, {}):
        summed = sums.get(bot_id, Decimal(0))
        # A total_pnl or archived_pnl that is not a number (a hand edit past the checks) is wrong too.
        try:
            expected: Decimal | None = None
            with localcontext(EXACT):
                expected = summed + Decimal(archived_pnl)
            right = Decimal(total_pnl) == expected
        except Exception:  # noqa: BLE001
            right = False
        if not right:
            should = summed if expected is None else expected
            wrong.append((bot_id, total_pnl, str(MONEY.computed(summed)), archived_pnl, str(MONEY.computed(should))))
    return wrong


StatsKey = tuple[Any, Any, Any, Any]  # closed_trade_stats' primary key: bot_id, day, symbol, bucket


def closed_trade_stats_drift(session: Session) -> list[StatsKey]:
    """The keys of closed_trade_stats whose row differs from the aggregate of the closed trades (or is missing, or extra).

    A row whose sum SQLite could not keep exactly (REAL, or widest_amount
    past 19: readers sum its trades themselves) is compared by its counts.
    """
    stored = {tuple(row[:4]): tuple(row[4:]) for row in session.each(STORED_STATS, {})}
    expected: dict[StatsKey, tuple[int, int, int, int]] = {}
    wide = False
    for bot_id, day, symbol, bucket, trades, wins, losses, high, low, widest in session.each(STATS_FROM_TRADES, {}):
        expected[(bot_id, day, symbol, bucket)] = (trades, wins, losses, int(high) * 1_000_000_000 + int(low))
        wide = wide or widest > WIDEST_SUMMED_IN_SQL
    if wide:
        # An amount wider than CAST reads exactly: every sum again, in Python, from the amounts' text.
        units: dict[StatsKey, int] = defaultdict(int)
        for bot_id, day, symbol, bucket, net_pnl in session.each(STATS_INPUTS, {}):
            if net_pnl is not None:
                units[(bot_id, day, symbol, bucket)] += int(str(net_pnl).replace(".", ""))
        expected = {key: (*counts[:3], units[key]) for key, counts in expected.items()}
    drifted = []
    for key in stored.keys() | expected.keys():
        have, want = stored.get(key), expected.get(key)
        if have is None or want is None:
            drifted.append(key)
            continue
        trades, wins, losses, net_pnl_units, widest = have
        exact = not isinstance(net_pnl_units, float) and widest <= WIDEST_SUMMED_IN_SQL
        try:
            right = (trades, wins, losses) == want[:3] and (not exact or int(net_pnl_units) == want[3])
        except Exception:  # noqa: BLE001  (a hand edit past the column's type)
            right = False
        if not right:
            drifted.append(key)
    return sorted(drifted, key=lambda key: tuple(map(str, key)))


def rebuild_closed_trade_stats(session: Session) -> int:
    """Fill closed_trade_stats again from the closed trades (what migration 0003 did); the rows it now holds."""
    session.exec(CLEAR_STATS, {})
    return session.exec(FILL_STATS, {})


def rebuild_stats_sql(dialect: str) -> str:
    """The statements that rebuild closed_trade_stats in `dialect`'s shell, on one line."""
    fill = DIALECTS[dialect][FILL_STATS.name].sql.split("\n", 1)[1]  # without the "-- name:" line
    return f"BEGIN; DELETE FROM closed_trade_stats; {' '.join(fill.split())}; COMMIT;"


def archived_is_zero(value: Any) -> bool:
    """Whether a stored archived_pnl is 0 (one that is not a number is not)."""
    try:
        return Decimal(value) == 0
    except Exception:  # noqa: BLE001
        return False


def shown(value: Any) -> str:
    """`value` as text on one line: as it is when printable, else escaped."""
    return value if isinstance(value, str) and value.isprintable() else ascii(value)


def one_line(value: Any) -> str:
    """A name shown on one line, quoted (a bot id may hold anything)."""
    return repr(value) if isinstance(value, str) and value.isprintable() else ascii(value)


def report_migrations(check: Check, problems: list[str], measure: Callable[[], SchemaState]) -> SchemaState | None:
    """Report the applied and pending migrations `measure` finds, and problems with them; the state found."""
    schema: SchemaState | None = check(None, measure)
    check("applied_migrations", lambda: None if schema is None else schema.applied)
    check("pending_migrations", lambda: None if schema is None else schema.pending)
    if schema is not None:
        if schema.pending:
            problems.append(f"pending migrations {', '.join(schema.pending)}: apply them (tradedb migrate)")
        if schema.unknown:
            problems.append(f"migrations {', '.join(schema.unknown)} are from a newer tradedb: upgrade tradedb")
    return schema


def health(session: Session, location: str, full: bool, stale_after: timedelta) -> dict[str, Any]:
    """A report on the database: every check runs, and a failing one is reported, never raised."""
    problems: list[str] = []
    report: dict[str, Any] = {"ok": False, "database": location}

    def check(key: str | None, measure: Callable[[], Any]) -> Any:
        # An unhealthy database makes checks fail; the report says so
        # instead of the check raising, whatever the failure.
        try:
            value = measure()
        except Exception as error:  # noqa: BLE001
            value = None
            problems.append(f"{key or 'schema_objects'}: could not be checked ({type(error).__name__}: {error})")
        if key is not None:
            report[key] = value
        return value

    session.check_database(check, problems, full)
    check("row_counts", lambda: dict(zip(("bot_instances", "trades", "performance_metrics"), session.one(ROW_COUNTS, {}))))
    check("stale_bots", lambda: len(get_stale_bots(session, stale_after)))
    # Rows the rules of migration 0002 forbid, which a database written
    # before it can hold (its triggers guard only new writes), and books
    # that a hand edit set apart from the trades they count.
    check("closed_trades_without_pnl", lambda: session.one(COUNT_CLOSED_WITHOUT_PNL, {})[0])
    if report["closed_trades_without_pnl"]:
        check("closed_trades_without_pnl_examples",
              lambda: [row[0] for row in session.many(CLOSED_WITHOUT_PNL, {"limit": EXAMPLES})])
        examples = report.pop("closed_trades_without_pnl_examples", None) or []
        problems.append(
            f"{report['closed_trades_without_pnl']} closed trade(s) have no gross_pnl or net_pnl "
            f"(stored before migration 0002), so their bots' books leave them out, for example {', '.join(map(shown, examples))}: "
            "repo.update_trade(trade_id, {}) computes and books the PnL of each "
            "(one without entry_price or size needs them given: update_trade(trade_id, {'entry_price': ..., 'size': ...}))"
        )
    check("trades_of_another_type", lambda: session.one(COUNT_OF_ANOTHER_TYPE, {})[0])
    if report["trades_of_another_type"]:
        check("trades_of_another_type_examples", lambda: session.many(OF_ANOTHER_TYPE, {"limit": EXAMPLES}))
        examples = report.pop("trades_of_another_type_examples", None) or []
        listed = ", ".join(f"{shown(trade_id)} ({shown(trade_type)}, of {shown(bot_type)} bot {one_line(bot_id)})"
                          for trade_id, trade_type, bot_id, bot_type in examples)
        problems.append(
            f"{report['trades_of_another_type']} trade(s) have another trade_type than their bot's "
            f"(stored before migration 0002), for example {listed}: give each its bot's type, "
            "repo.update_trade(trade_id, {'trade_type': <the bot's type>}), "
            "or move it to a bot of its type, repo.update_trade(trade_id, {'bot_id': <that bot>})"
        )
    check("bots_with_wrong_books", lambda: wrong_books(session))
    wrong = report["bots_with_wrong_books"]
    if wrong is not None:
        report["bots_with_wrong_books"] = len(wrong)
        for bot_id, stored, summed, archived, expected in wrong[:MAX_WRONG_BOOKS_SHOWN]:
            took_out = "" if archived_is_zero(archived) else (
                f"and retention took out {shown(archived)} more (archived_pnl): together {expected} "
            )
            problems.append(
                f"bot {one_line(bot_id)} has total_pnl {shown(stored)}, but its closed trades' net_pnl sum to {summed} "
                f"{took_out}(an edit made outside tradedb moved them; so did a cleanup_old_data of a tradedb before "
                "migration 0004, which deleted closed trades without counting their PnL in archived_pnl: then set "
                "archived_pnl to total_pnl minus the sum instead). With the bot stopped, set them in the database's "
                f"shell: UPDATE bot_instances SET total_pnl = {session.shell_literal(expected)} "
                f"WHERE id = {session.shell_literal(bot_id)};"
            )
        if len(wrong) > MAX_WRONG_BOOKS_SHOWN:
            problems.append(
                f"{len(wrong) - MAX_WRONG_BOOKS_SHOWN} more bot(s) have a total_pnl other than their closed trades' "
                "net_pnl sum: correct those above, then run the health check again to see the next ones"
            )
    if full:
        # Reports over all history read closed_trade_stats, which triggers
        # keep equal to the closed trades; a hand edit (or dropped trigger)
        # sets them apart. One pass over the trades: only in a full check.
        check("closed_trade_stats_drift", lambda: closed_trade_stats_drift(session))
        drifted = report["closed_trade_stats_drift"]
        if drifted is not None:
            report["closed_trade_stats_drift"] = len(drifted)
        if drifted:
            examples = ", ".join(
                f"({', '.join(map(one_line, key[:3]))}, {shown(key[3])})" for key in drifted[:EXAMPLES]
            )
            problems.append(
                f"closed_trade_stats disagrees with the trades table in {len(drifted)} (bot_id, day, symbol, bucket) "
                f"row(s), for example {examples}: it was written outside tradedb, or its triggers were dropped, so "
                "reports over all history are wrong. With the bots stopped, rebuild it from the trades in the "
                f"database's shell: {rebuild_stats_sql(session.dialect)}"
            )
    # Stale bots are the bots' trouble, not the database's: reported, but
    # they do not make the database unhealthy.
    report["problems"] = problems  # last: the keys before it are in the order they were checked
    report["ok"] = not problems
    return report
