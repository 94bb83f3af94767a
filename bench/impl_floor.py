"""The floor: stdlib sqlite3, synchronous, WAL + synchronous=NORMAL, tradedb's page cache, executemany, minimal code.

Same schema (sql/sqlite/schema.sql), same input and output types as tradedb
(Decimals and aware datetimes in and out), but no validation, no records,
no event loop: the speed limit for Python + SQLite.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from datetime import datetime, timezone
from decimal import ROUND_HALF_EVEN, Context, Decimal
from pathlib import Path
from typing import Any

from data import TRADE_COLUMNS as COMPARED

SCHEMA = Path(__file__).resolve().parent.parent / "sql" / "sqlite" / "schema.sql"
UTC = timezone.utc
EXACT = Context(prec=100, rounding=ROUND_HALF_EVEN)
Q8, Q4 = Decimal("0.00000001"), Decimal("0.0001")
COLUMNS = (*COMPARED, "created_at", "updated_at")
SELECT = f"SELECT {', '.join(COLUMNS)} FROM trades"
INSERT = f"INSERT INTO trades ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
MONEY = {"entry_price", "exit_price", "entry_value", "exit_value", "size", "commission", "gross_pnl", "net_pnl"}
TIMES = {"entry_time", "exit_time", "buy_order_created", "buy_order_closed", "sell_order_created", "sell_order_closed",
         "created_at", "updated_at"}


def dec(value: Decimal | None, quantum: Decimal = Q8) -> str | None:
    return None if value is None else format(value.quantize(quantum, context=EXACT), "f")


def ts(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat(" ", "microseconds")[:-6] + "Z"


def now() -> str:
    return ts(datetime.now(UTC))


# Only the columns that need converting are touched: Decimals, aware datetimes, JSON.
CONVERTED = tuple(
    (index, Decimal if name in MONEY or name == "pnl_percentage" else datetime.fromisoformat if name in TIMES
     else json.loads)
    for index, name in enumerate(COLUMNS)
    if name in MONEY or name in TIMES or name in ("pnl_percentage", "extra_metadata")
)


def read_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A stored row with Decimals, aware datetimes and decoded JSON, as tradedb returns (a tuple, not a record)."""
    values = list(row)
    for index, read in CONVERTED:
        value = values[index]
        if value is not None:
            values[index] = read(value)
    return tuple(values)


def _from_time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def to_row(t: dict[str, Any], stamp: str) -> tuple[Any, ...]:
    """A trade dict as the row the schema stores (canonical decimal text, UTC text, JSON)."""
    return (
        t["id"], t["bot_id"], t["trade_type"], t["strategy_name"], t["entry_logic_name"], t["exit_logic_name"],
        t["symbol"], t["interval"], ts(t["entry_time"]), ts(t.get("exit_time")), ts(t.get("buy_order_created")),
        ts(t.get("buy_order_closed")), ts(t.get("sell_order_created")), ts(t.get("sell_order_closed")),
        dec(t["entry_price"]), dec(t.get("exit_price")), dec(t["entry_value"]), dec(t.get("exit_value")),
        dec(t["size"]), dec(t.get("commission")), dec(t.get("gross_pnl")), dec(t.get("net_pnl")),
        dec(t.get("pnl_percentage"), Q4), t["direction"], t.get("exit_reason"), t.get("status", "open"),
        None if t.get("extra_metadata") is None else json.dumps(t["extra_metadata"]), stamp, stamp,
    )


def writer_cache_kib() -> int:
    """tradedb's writer page cache (tradedb/sqlite.py), given to the floor and SQLAlchemy too: pragmas are not code."""
    try:
        from tradedb.sqlite import WRITER_CACHE_KIB
    except ImportError:  # a tradedb from before it set one: SQLite's default
        return 2000
    return int(WRITER_CACHE_KIB)


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, timeout=5.0)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA cache_size = -{writer_cache_kib()}")
    return conn


class Floor:
    name = "floor"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = connect(path)

    @classmethod
    def open(cls, path: Path) -> "Floor":
        return cls(path)

    @classmethod
    def create(cls, path: Path, bots: list[str]) -> "Floor":
        """A new database file with sql/sqlite/schema.sql and the bots (untimed setup)."""
        impl = cls(path)
        impl.conn.executescript(SCHEMA.read_text())
        stamp = now()
        impl.conn.executemany(
            "INSERT INTO bot_instances (id, type, status, current_balance, total_pnl, started_at, created_at, updated_at)"
            " VALUES (?, 'paper', 'running', '10000.00000000', '0.00000000', ?, ?, ?)",
            [(b, stamp, stamp, stamp) for b in bots],
        )
        return impl

    def close(self) -> None:
        self.conn.close()

    # W1 -----------------------------------------------------------------
    def bulk_load(self, trades: list[dict[str, Any]]) -> None:
        stamp = now()
        rows = [to_row(t, stamp) for t in trades]
        books: dict[str, Decimal] = defaultdict(Decimal)
        for t in trades:
            if t.get("status") == "closed":
                books[t["bot_id"]] += t["net_pnl"]
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(INSERT, rows)
            for bot_id, change in books.items():
                self._book(bot_id, change, stamp)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _book(self, bot_id: str, change: Decimal, stamp: str) -> None:
        total, balance = self.conn.execute(
            "SELECT total_pnl, current_balance FROM bot_instances WHERE id = ?", (bot_id,)
        ).fetchone()
        self.conn.execute(
            "UPDATE bot_instances SET total_pnl = ?, current_balance = ?, updated_at = ? WHERE id = ?",
            (dec(Decimal(total) + change), None if balance is None else dec(Decimal(balance) + change), stamp, bot_id),
        )

    # W2 / W5 --------------------------------------------------------------
    def create_trade(self, trade: dict[str, Any]) -> None:
        self.conn.execute(INSERT, to_row(trade, now()))  # autocommit: one statement, one transaction

    def close_trade(self, trade_id: str, exit_price: Decimal, exit_time: datetime, commission: Decimal,
                    exit_reason: str) -> None:
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            bot_id, direction, entry, size, entry_value, before = conn.execute(
                "SELECT bot_id, direction, entry_price, size, entry_value, commission FROM trades WHERE id = ?",
                (trade_id,),
            ).fetchone()
            entry, size = Decimal(entry), Decimal(size)
            fee = (Decimal(before or 0) + commission).quantize(Q8, context=EXACT)
            move = exit_price - entry if direction == "long" else entry - exit_price
            gross = EXACT.multiply(move, size).quantize(Q8, context=EXACT)
            net = gross - fee
            pct = EXACT.divide(net * 100, Decimal(entry_value)).quantize(Q4, context=EXACT)
            stamp = now()
            conn.execute(
                "UPDATE trades SET exit_price = ?, exit_time = ?, exit_value = ?, commission = ?, gross_pnl = ?,"
                " net_pnl = ?, pnl_percentage = ?, exit_reason = ?, status = 'closed', updated_at = ? WHERE id = ?",
                (dec(exit_price), ts(exit_time), dec(EXACT.multiply(exit_price, size)), dec(fee), dec(gross),
                 dec(net), dec(pct, Q4), exit_reason, stamp, trade_id),
            )
            self._book(bot_id, net, stamp)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def start_bot(self, bot_id: str) -> list[tuple[Any, ...]]:
        conn = self.conn
        stamp = now()
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute("SELECT 1 FROM bot_instances WHERE id = ?", (bot_id,)).fetchone() is None:
                conn.execute(
                    "INSERT INTO bot_instances (id, type, status, total_pnl, started_at, last_heartbeat, created_at,"
                    " updated_at) VALUES (?, 'paper', 'running', '0.00000000', ?, ?, ?, ?)",
                    (bot_id, stamp, stamp, stamp, stamp),
                )
            else:
                conn.execute(
                    "UPDATE bot_instances SET status = 'running', started_at = ?, last_heartbeat = ?, updated_at = ?"
                    " WHERE id = ?", (stamp, stamp, stamp, bot_id),
                )
            rows = self.open_trades(bot_id)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return rows

    def heartbeat(self, bot_id: str) -> None:
        stamp = now()
        self.conn.execute("UPDATE bot_instances SET last_heartbeat = ?, updated_at = ? WHERE id = ?", (stamp, stamp, bot_id))

    def read_then_close(self, trade_id: str, exit_: dict[str, Any]) -> None:
        # close_trade is itself a read-then-write transaction (BEGIN IMMEDIATE, SELECT, UPDATE, UPDATE).
        self.close_trade(trade_id, exit_["exit_price"], exit_["exit_time"], exit_["commission"], exit_["exit_reason"])

    # W3 -----------------------------------------------------------------
    def open_trades(self, bot_id: str) -> list[tuple[Any, ...]]:
        rows = self.conn.execute(f"{SELECT} WHERE bot_id = ? AND status = 'open' ORDER BY entry_time", (bot_id,))
        return [read_row(row) for row in rows]

    # W4 -----------------------------------------------------------------
    def summary_float(self) -> dict[str, Any]:
        """The trade summary with SQLite's float SUM: the speed limit, not exact."""
        row = self.conn.execute(
            "SELECT count(*), total(status = 'open'), total(status = 'closed'), total(status = 'cancelled'),"
            " total(status = 'closed' AND CAST(net_pnl AS REAL) > 0), total(status = 'closed' AND CAST(net_pnl AS REAL) < 0),"
            " sum(CASE WHEN status = 'closed' THEN CAST(gross_pnl AS REAL) END),"
            " sum(CASE WHEN status = 'closed' THEN CAST(net_pnl AS REAL) END),"
            " sum(CASE WHEN status = 'closed' THEN CAST(commission AS REAL) END),"
            " min(entry_time), max(CASE WHEN status = 'closed' THEN exit_time END) FROM trades"
        ).fetchone()
        return _summary(row, lambda v: v or 0.0)

    def summary_exact(self) -> dict[str, Any]:
        """The same summary, exact in SQL: integer and 8-digit fraction parts summed separately."""
        parts = ", ".join(
            f"sum(CASE WHEN status = 'closed' THEN CAST(substr({c}, 1, length({c}) - 9) AS INTEGER) END),"
            f" sum(CASE WHEN status = 'closed' THEN CASE WHEN {c} LIKE '-%' THEN -CAST(substr({c}, -8) AS INTEGER)"
            f" ELSE CAST(substr({c}, -8) AS INTEGER) END END)"
            for c in ("gross_pnl", "net_pnl", "commission")
        )
        row = self.conn.execute(
            "SELECT count(*), total(status = 'open'), total(status = 'closed'), total(status = 'cancelled'),"
            " total(status = 'closed' AND net_pnl NOT LIKE '-%' AND net_pnl <> '0.00000000'),"
            f" total(status = 'closed' AND net_pnl LIKE '-%'), {parts},"
            " min(entry_time), max(CASE WHEN status = 'closed' THEN exit_time END) FROM trades"
        ).fetchone()
        sums = [Decimal(row[6 + 2 * i] or 0) + Decimal(row[7 + 2 * i] or 0).scaleb(-8) for i in range(3)]
        return _summary((*row[:6], *sums, row[12], row[13]), lambda v: v.quantize(Q8))

    # Memory -------------------------------------------------------------
    def export(self) -> tuple[int, Decimal]:
        """Iterate every trade (streamed by the cursor), converting each row; count and exact net total."""
        count, total = 0, Decimal(0)
        net = COLUMNS.index("net_pnl")
        for row in self.conn.execute(SELECT):
            trade = read_row(row)
            count += 1
            if trade[net] is not None:
                total += trade[net]
        return count, total

    # Checks -------------------------------------------------------------
    def all_trades(self) -> list[dict[str, Any]]:
        return [dict(zip(COLUMNS, read_row(row))) for row in self.conn.execute(SELECT)]

    def bot_books(self) -> dict[str, Decimal]:
        return {b: Decimal(t) for b, t in self.conn.execute("SELECT id, total_pnl FROM bot_instances")}


def _summary(row: tuple[Any, ...], money: Any) -> dict[str, Any]:
    total, open_, closed, cancelled, winning, losing, gross, net, commission, first, last = row
    closed = int(closed)
    return {
        "total_trades": total, "open_trades": int(open_), "closed_trades": closed, "cancelled_trades": int(cancelled),
        "winning_trades": int(winning), "losing_trades": int(losing),
        "win_rate": round(winning * 100 / closed, 2) if closed else None,
        "total_gross_pnl": money(gross), "total_net_pnl": money(net), "total_commission": money(commission),
        "first_entry_time": _from_time(first), "last_exit_time": _from_time(last),
    }


class Loader:
    """Untimed setup for W3/W4/memory: stream generated trades, chunk by chunk, into a database with the bots."""

    def __init__(self, path: Path) -> None:
        self.conn = connect(path)
        self.books: dict[str, Decimal] = defaultdict(Decimal)
        self.stamp = now()
        self.conn.execute("BEGIN IMMEDIATE")

    def add(self, chunk: list[dict[str, Any]]) -> None:
        self.conn.executemany(INSERT, [to_row(t, self.stamp) for t in chunk])
        for t in chunk:
            if t["status"] == "closed":
                self.books[t["bot_id"]] += t["net_pnl"]

    def finish(self) -> None:
        for bot_id, change in self.books.items():
            self.conn.execute("UPDATE bot_instances SET total_pnl = ?, current_balance = ? WHERE id = ?",
                              (dec(change), dec(Decimal("10000") + change), bot_id))
        self.conn.execute("COMMIT")
        self.conn.close()
