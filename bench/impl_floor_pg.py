"""The PostgreSQL floor: asyncpg, hand-written SQL, on tradedb's PostgreSQL schema (migrations/postgresql).

Same input and output types as tradedb (Decimals and aware datetimes in and
out, rows as tuples), but no validation, no records: the speed limit for
Python + asyncpg + PostgreSQL. Bulk loads use COPY (copy_records_to_table);
statements are prepared once and cached by asyncpg; the books move in SQL
(total_pnl + $1, exact NUMERIC); a close is one transaction: SELECT ... FOR
UPDATE, then one statement updating the trade and its bot. W4's exact
totals are NUMERIC sums; summary_float is the same with float8 sums.
"""

from __future__ import annotations

import json
from collections import defaultdict
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any, AsyncIterator

import asyncpg

import pg
from data import TRADE_COLUMNS as COMPARED

UTC = timezone.utc
EXACT = Context(prec=100, rounding=ROUND_HALF_EVEN)
Q8, Q4 = Decimal("0.00000001"), Decimal("0.0001")
COLUMNS = (*COMPARED, "created_at", "updated_at")
SELECT = f"SELECT {', '.join(COLUMNS)} FROM trades"
INSERT = f"INSERT INTO trades ({', '.join(COLUMNS)}) VALUES ({', '.join(f'${i + 1}' for i in range(len(COLUMNS)))})"
ID, META = COLUMNS.index("id"), COLUMNS.index("extra_metadata")
CLOSE = (
    "WITH t AS (UPDATE trades SET exit_price = $1, exit_time = $2, exit_value = $3, commission = $4, gross_pnl = $5,"
    " net_pnl = $6, pnl_percentage = $7, exit_reason = $8, status = 'closed', updated_at = $9 WHERE id = $10"
    " RETURNING bot_id, net_pnl)"
    " UPDATE bot_instances b SET total_pnl = b.total_pnl + t.net_pnl,"
    " current_balance = b.current_balance + t.net_pnl, updated_at = $9 FROM t WHERE b.id = t.bot_id"
)
OPEN_TRADES = f"{SELECT} WHERE bot_id = $1 AND status = 'open' ORDER BY entry_time"  # literal 'open': idx_open_trades


def q8(value: Decimal | None, quantum: Decimal = Q8) -> Decimal | None:
    return None if value is None else value.quantize(quantum, context=EXACT)


def read_row(row: asyncpg.Record) -> tuple[Any, ...]:
    """A stored row as tradedb returns it: text ids, decoded JSON (asyncpg gives Decimals and aware datetimes)."""
    values = list(row)
    values[ID] = str(values[ID])
    if values[META] is not None:
        values[META] = json.loads(values[META])
    return tuple(values)


def to_row(t: dict[str, Any], stamp: datetime) -> tuple[Any, ...]:
    """A trade dict as the row to store (Decimals at the column's scale, aware datetimes, JSON text)."""
    return (
        t["id"], t["bot_id"], t["trade_type"], t["strategy_name"], t["entry_logic_name"], t["exit_logic_name"],
        t["symbol"], t["interval"], t["entry_time"], t.get("exit_time"), t.get("buy_order_created"),
        t.get("buy_order_closed"), t.get("sell_order_created"), t.get("sell_order_closed"),
        q8(t["entry_price"]), q8(t.get("exit_price")), q8(t["entry_value"]), q8(t.get("exit_value")),
        q8(t["size"]), q8(t.get("commission")), q8(t.get("gross_pnl")), q8(t.get("net_pnl")),
        q8(t.get("pnl_percentage"), Q4), t["direction"], t.get("exit_reason"), t.get("status", "open"),
        None if t.get("extra_metadata") is None else json.dumps(t["extra_metadata"]), stamp, stamp,
    )


class Floor:
    name = "floor"

    def __init__(self, db: asyncpg.Connection | asyncpg.Pool) -> None:
        self.db = db

    @classmethod
    async def open(cls, url: str, pool_size: int | None = None) -> "Floor":
        if pool_size:
            return cls(await asyncpg.create_pool(url, min_size=pool_size, max_size=pool_size))
        return cls(await asyncpg.connect(url))

    @classmethod
    async def create(cls, url: str, bots: list[str]) -> "Floor":
        """The PostgreSQL migrations (yoyo) on the new database, and the bots (untimed setup)."""
        pg.migrate(url)
        impl = await cls.open(url)
        stamp = datetime.now(UTC)
        await impl.db.executemany(
            "INSERT INTO bot_instances (id, type, status, current_balance, total_pnl, started_at, created_at, updated_at)"
            " VALUES ($1, 'paper', 'running', 10000, 0, $2, $2, $2)",
            [(b, stamp) for b in bots],
        )
        return impl

    async def close(self) -> None:
        await self.db.close()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        if isinstance(self.db, asyncpg.Pool):
            async with self.db.acquire() as conn:
                yield conn
        else:
            yield self.db

    # W1: COPY, then each bot's books, in one transaction -------------------
    async def bulk_load(self, trades: list[dict[str, Any]]) -> None:
        stamp = datetime.now(UTC)
        rows = [to_row(t, stamp) for t in trades]
        books: dict[str, Decimal] = defaultdict(Decimal)
        for t in trades:
            if t.get("status") == "closed":
                books[t["bot_id"]] += t["net_pnl"]
        async with self.connection() as conn, conn.transaction():
            await conn.copy_records_to_table("trades", records=rows, columns=COLUMNS)
            await conn.executemany(
                "UPDATE bot_instances SET total_pnl = total_pnl + $2, current_balance = current_balance + $2,"
                " updated_at = $3 WHERE id = $1",
                [(bot_id, change, stamp) for bot_id, change in books.items()],
            )

    # W2 / W5 --------------------------------------------------------------
    async def create_trade(self, trade: dict[str, Any]) -> None:
        async with self.connection() as conn:
            await conn.execute(INSERT, *to_row(trade, datetime.now(UTC)))  # one statement, one transaction

    async def close_trade(self, trade_id: str, exit_price: Decimal, exit_time: datetime, commission: Decimal,
                          exit_reason: str) -> None:
        async with self.connection() as conn, conn.transaction():
            direction, entry, size, entry_value, before = await conn.fetchrow(
                "SELECT direction, entry_price, size, entry_value, commission FROM trades WHERE id = $1 FOR UPDATE",
                trade_id,
            )
            fee = ((before or 0) + commission).quantize(Q8, context=EXACT)
            move = exit_price - entry if direction == "long" else entry - exit_price
            gross = EXACT.multiply(move, size).quantize(Q8, context=EXACT)
            net = gross - fee
            pct = EXACT.divide(net * 100, entry_value).quantize(Q4, context=EXACT)
            await conn.execute(CLOSE, q8(exit_price), exit_time, EXACT.multiply(exit_price, size).quantize(Q8, context=EXACT),
                               fee, gross, net, pct if pct else pct.copy_abs(), exit_reason, datetime.now(UTC), trade_id)

    async def start_bot(self, bot_id: str) -> list[tuple[Any, ...]]:
        stamp = datetime.now(UTC)
        async with self.connection() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO bot_instances AS b (id, type, status, total_pnl, started_at, last_heartbeat, created_at,"
                " updated_at) VALUES ($1, 'paper', 'running', 0, $2, $2, $2, $2) ON CONFLICT (id) DO UPDATE SET"
                " status = 'running', started_at = $2, last_heartbeat = $2, updated_at = $2",
                bot_id, stamp,
            )
            return [read_row(row) for row in await conn.fetch(OPEN_TRADES, bot_id)]

    async def heartbeat(self, bot_id: str) -> None:
        stamp = datetime.now(UTC)
        async with self.connection() as conn:
            await conn.execute("UPDATE bot_instances SET last_heartbeat = $1, updated_at = $1 WHERE id = $2", stamp, bot_id)

    async def read_then_close(self, trade_id: str, exit_: dict[str, Any]) -> None:
        # close_trade is itself a read-then-write transaction (BEGIN, SELECT ... FOR UPDATE, UPDATE, COMMIT).
        await self.close_trade(trade_id, exit_["exit_price"], exit_["exit_time"], exit_["commission"], exit_["exit_reason"])

    # W3 -----------------------------------------------------------------
    async def open_trades(self, bot_id: str) -> list[tuple[Any, ...]]:
        async with self.connection() as conn:
            return [read_row(row) for row in await conn.fetch(OPEN_TRADES, bot_id)]

    # W4 -----------------------------------------------------------------
    async def _summary(self, cast: str) -> dict[str, Any]:
        closed = "FILTER (WHERE status = 'closed')"
        async with self.connection() as conn:
            # fetch, not fetchrow: fetchrow asks for one row at most, and PostgreSQL runs a query with a row
            # limit in one process, without the parallel workers a sum over a million rows gets.
            row, = await conn.fetch(
                "SELECT count(*), count(*) FILTER (WHERE status = 'open'), count(*) " + closed + ","
                " count(*) FILTER (WHERE status = 'cancelled'),"
                " count(*) FILTER (WHERE status = 'closed' AND net_pnl > 0),"
                " count(*) FILTER (WHERE status = 'closed' AND net_pnl < 0),"
                f" sum(gross_pnl{cast}) {closed}, sum(net_pnl{cast}) {closed}, sum(commission{cast}) {closed},"
                f" min(entry_time), max(exit_time) {closed} FROM trades"
            )
        return _summary(tuple(row))

    async def summary_exact(self) -> dict[str, Any]:
        """The trade summary, exact: NUMERIC sums."""
        return await self._summary("")

    async def summary_float(self) -> dict[str, Any]:
        """The same summary with float8 sums: faster, not exact."""
        return await self._summary("::float8")

    # Memory -------------------------------------------------------------
    async def export(self) -> tuple[int, Decimal]:
        """Iterate every trade through a server-side cursor, converting each row; count and exact net total."""
        count, total = 0, Decimal(0)
        net = COLUMNS.index("net_pnl")
        async with self.connection() as conn, conn.transaction():
            async for row in conn.cursor(SELECT, prefetch=1000):
                trade = read_row(row)
                count += 1
                if trade[net] is not None:
                    total += trade[net]
        return count, total

    # Checks -------------------------------------------------------------
    async def all_trades(self) -> list[dict[str, Any]]:
        async with self.connection() as conn:
            return [dict(zip(COLUMNS, read_row(row))) for row in await conn.fetch(SELECT)]

    async def bot_books(self) -> dict[str, Decimal]:
        async with self.connection() as conn:
            return {b: t for b, t in await conn.fetch("SELECT id, total_pnl FROM bot_instances")}


def _summary(row: tuple[Any, ...]) -> dict[str, Any]:
    total, open_, closed, cancelled, winning, losing, gross, net, commission, first, last = row
    zero = 0.0 if isinstance(gross, float) else Decimal(0)
    return {
        "total_trades": total, "open_trades": open_, "closed_trades": closed, "cancelled_trades": cancelled,
        "winning_trades": winning, "losing_trades": losing,
        "win_rate": round(winning * 100 / closed, 2) if closed else None,
        "total_gross_pnl": gross if gross is not None else zero, "total_net_pnl": net if net is not None else zero,
        "total_commission": commission if commission is not None else zero,
        "first_entry_time": first, "last_exit_time": last,
    }


class Loader:
    """Untimed setup for W3/W4/memory: COPY generated trades, chunk by chunk, in one transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.conn: asyncpg.Connection | None = None
        self.transaction: Any = None
        self.books: dict[str, Decimal] = defaultdict(Decimal)
        self.stamp = datetime.now(UTC)

    async def add(self, chunk: list[dict[str, Any]]) -> None:
        if self.conn is None:
            self.conn = await asyncpg.connect(self.url)
            self.transaction = self.conn.transaction()
            await self.transaction.start()
        await self.conn.copy_records_to_table("trades", records=[to_row(t, self.stamp) for t in chunk], columns=COLUMNS)
        for t in chunk:
            if t["status"] == "closed":
                self.books[t["bot_id"]] += t["net_pnl"]

    async def finish(self) -> None:
        assert self.conn is not None
        await self.conn.executemany("UPDATE bot_instances SET total_pnl = $2::numeric, current_balance = 10000 + $2::numeric WHERE id = $1",
                                    list(self.books.items()))
        await self.transaction.commit()
        await self.conn.close()
