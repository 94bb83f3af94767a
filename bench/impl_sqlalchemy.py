"""What most users would write instead: SQLAlchemy 2 async ORM, aiosqlite driver, Numeric(20,8) columns.

The models follow the original design (its columns, types and four indexes,
bot_id indexed), as a freqtrade-style application would declare them. The
engine gets the same WAL + synchronous=NORMAL + foreign_keys pragmas and the
same page cache (tradedb's writer's) as the other two, so the comparison is
about the code, not the journal or the cache. Everything
else is SQLAlchemy's defaults: a session per operation, expire_on_commit=False.
"""

from __future__ import annotations

import warnings
from datetime import datetime, timezone
from decimal import ROUND_HALF_EVEN, Context, Decimal
from pathlib import Path
from typing import Any, Optional

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Numeric, String, case, event, func, insert, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from impl_floor import writer_cache_kib

# SQLite has no decimal type: SQLAlchemy stores Numeric as REAL and says so once per column. That is the point.
warnings.filterwarnings("ignore", category=sa_exc.SAWarning, message=".*Decimal objects natively.*")

UTC = timezone.utc
EXACT = Context(prec=100, rounding=ROUND_HALF_EVEN)
Q8, Q4 = Decimal("0.00000001"), Decimal("0.0001")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class BotInstance(Base):
    __tablename__ = "bot_instances"
    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(20))
    config_file: Mapped[Optional[str]] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(20), default="running")
    current_balance: Mapped[Optional[Decimal]] = mapped_column(Numeric(20, 8))
    total_pnl: Mapped[Optional[Decimal]] = mapped_column(Numeric(20, 8), default=Decimal(0))
    started_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
    last_heartbeat: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
    extra_metadata: Mapped[Optional[Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Trade(Base):
    __tablename__ = "trades"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    bot_id: Mapped[str] = mapped_column(ForeignKey("bot_instances.id"), index=True)
    trade_type: Mapped[str] = mapped_column(String(10))
    strategy_name: Mapped[Optional[str]] = mapped_column(String(100))
    entry_logic_name: Mapped[str] = mapped_column(String(100))
    exit_logic_name: Mapped[str] = mapped_column(String(100))
    symbol: Mapped[str] = mapped_column(String(20))
    interval: Mapped[str] = mapped_column(String(10))
    entry_time: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
    exit_time: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
    buy_order_created: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
    buy_order_closed: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
    sell_order_created: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
    sell_order_closed: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
    entry_price: Mapped[Optional[Decimal]] = mapped_column(Numeric(20, 8))
    exit_price: Mapped[Optional[Decimal]] = mapped_column(Numeric(20, 8))
    entry_value: Mapped[Optional[Decimal]] = mapped_column(Numeric(20, 8))
    exit_value: Mapped[Optional[Decimal]] = mapped_column(Numeric(20, 8))
    size: Mapped[Optional[Decimal]] = mapped_column(Numeric(20, 8))
    direction: Mapped[str] = mapped_column(String(10))
    commission: Mapped[Optional[Decimal]] = mapped_column(Numeric(20, 8))
    gross_pnl: Mapped[Optional[Decimal]] = mapped_column(Numeric(20, 8))
    net_pnl: Mapped[Optional[Decimal]] = mapped_column(Numeric(20, 8))
    pnl_percentage: Mapped[Optional[Decimal]] = mapped_column(Numeric(10, 4))
    exit_reason: Mapped[Optional[str]] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default="open")
    extra_metadata: Mapped[Optional[Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    __table_args__ = (
        Index("idx_symbol_status", "symbol", "status"),
        Index("idx_entry_time", "entry_time"),
        Index("idx_strategy", "entry_logic_name", "exit_logic_name"),
        Index("idx_bot_trade_type", "bot_id", "trade_type"),
    )


def _pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute(f"PRAGMA cache_size = -{writer_cache_kib()}")  # tradedb's writer cache, as the floor's
    cursor.close()


class SQLAlchemyORM:
    name = "sqlalchemy"

    def __init__(self, path: Path) -> None:
        self.engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
        event.listen(self.engine.sync_engine, "connect", _pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    async def open(cls, path: Path) -> "SQLAlchemyORM":
        return cls(path)

    @classmethod
    async def create(cls, path: Path, bots: list[str]) -> "SQLAlchemyORM":
        impl = cls(path)
        async with impl.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        async with impl.sessions() as session, session.begin():
            session.add_all(
                [BotInstance(id=b, type="paper", status="running", current_balance=Decimal(10000), total_pnl=Decimal(0),
                             started_at=utcnow()) for b in bots]
            )
        return impl

    async def close(self) -> None:
        await self.engine.dispose()

    # W1: add_all and one commit, then move each bot's books
    async def bulk_load(self, trades: list[dict[str, Any]]) -> None:
        async with self.sessions() as session, session.begin():
            session.add_all([Trade(**t) for t in trades])
            books: dict[str, Decimal] = {}
            for t in trades:
                if t.get("status") == "closed":
                    books[t["bot_id"]] = books.get(t["bot_id"], Decimal(0)) + t["net_pnl"]
            for bot_id, change in books.items():
                bot = await session.get(BotInstance, bot_id)
                bot.total_pnl += change
                bot.current_balance += change

    # W2 / W5
    async def create_trade(self, trade: dict[str, Any]) -> None:
        async with self.sessions() as session, session.begin():
            session.add(Trade(**trade))

    async def close_trade(self, trade_id: str, exit_price: Decimal, exit_time: datetime, commission: Decimal,
                          exit_reason: str) -> None:
        async with self.sessions() as session, session.begin():
            await self._close(session, trade_id, exit_price, exit_time, commission, exit_reason)

    async def _close(self, session: AsyncSession, trade_id: str, exit_price: Decimal, exit_time: datetime,
                     commission: Decimal, exit_reason: str) -> None:
        trade = await session.get(Trade, trade_id)
        size, entry = trade.size, trade.entry_price
        fee = ((trade.commission or 0) + commission).quantize(Q8, context=EXACT)
        move = exit_price - entry if trade.direction == "long" else entry - exit_price
        gross = EXACT.multiply(move, size).quantize(Q8, context=EXACT)
        net = gross - fee
        trade.exit_price, trade.exit_time, trade.exit_reason, trade.status = exit_price, exit_time, exit_reason, "closed"
        trade.exit_value = EXACT.multiply(exit_price, size).quantize(Q8, context=EXACT)
        trade.commission, trade.gross_pnl, trade.net_pnl = fee, gross, net
        trade.pnl_percentage = EXACT.divide(net * 100, trade.entry_value).quantize(Q4, context=EXACT)
        bot = await session.get(BotInstance, trade.bot_id)
        bot.total_pnl = (bot.total_pnl or 0) + net
        if bot.current_balance is not None:
            bot.current_balance += net

    async def start_bot(self, bot_id: str) -> list[Trade]:
        async with self.sessions() as session, session.begin():
            bot = await session.get(BotInstance, bot_id)
            now = utcnow()
            if bot is None:
                session.add(BotInstance(id=bot_id, type="paper", status="running", total_pnl=Decimal(0),
                                        started_at=now, last_heartbeat=now))
            else:
                bot.status, bot.started_at, bot.last_heartbeat = "running", now, now
            result = await session.scalars(
                select(Trade).where(Trade.bot_id == bot_id, Trade.status == "open").order_by(Trade.entry_time)
            )
            return list(result)

    async def heartbeat(self, bot_id: str) -> None:
        async with self.sessions() as session, session.begin():
            bot = await session.get(BotInstance, bot_id)
            bot.last_heartbeat = utcnow()

    async def read_then_close(self, trade_id: str, exit_: dict[str, Any]) -> None:
        async with self.sessions() as session, session.begin():
            await self._close(session, trade_id, **exit_)

    # W3
    async def open_trades(self, bot_id: str) -> list[Trade]:
        async with self.sessions() as session:
            result = await session.scalars(
                select(Trade).where(Trade.bot_id == bot_id, Trade.status == "open").order_by(Trade.entry_time)
            )
            return list(result)

    # W4: the query a SQLAlchemy user writes; SUM over Numeric is SQLite's float sum
    async def summary(self) -> dict[str, Any]:
        closed = Trade.status == "closed"
        query = select(
            func.count(),
            func.sum(case((Trade.status == "open", 1), else_=0)),
            func.sum(case((closed, 1), else_=0)),
            func.sum(case((Trade.status == "cancelled", 1), else_=0)),
            func.sum(case((closed & (Trade.net_pnl > 0), 1), else_=0)),
            func.sum(case((closed & (Trade.net_pnl < 0), 1), else_=0)),
            func.sum(Trade.gross_pnl).filter(closed),
            func.sum(Trade.net_pnl).filter(closed),
            func.sum(Trade.commission).filter(closed),
            func.min(Trade.entry_time),
            func.max(Trade.exit_time).filter(closed),
        )
        async with self.sessions() as session:
            row = (await session.execute(query)).one()
        total, open_, n_closed, cancelled, winning, losing, gross, net, commission, first, last = row
        return {
            "total_trades": total, "open_trades": open_, "closed_trades": n_closed, "cancelled_trades": cancelled,
            "winning_trades": winning, "losing_trades": losing,
            "win_rate": round(Decimal(winning) * 100 / n_closed, 2) if n_closed else None,
            "total_gross_pnl": gross or Decimal(0), "total_net_pnl": net or Decimal(0),
            "total_commission": commission or Decimal(0),
            "first_entry_time": first, "last_exit_time": last,
        }

    # Memory: stream with yield_per, as SQLAlchemy documents for large results
    async def export(self) -> tuple[int, Decimal]:
        count, total = 0, Decimal(0)
        async with self.sessions() as session:
            result = await session.stream_scalars(select(Trade).execution_options(yield_per=1000))
            async for trade in result:
                count += 1
                if trade.net_pnl is not None:
                    total += trade.net_pnl
        return count, total

    # Checks
    async def all_trades(self) -> list[Trade]:
        async with self.sessions() as session:
            return list(await session.scalars(select(Trade)))

    async def bot_books(self) -> dict[str, Decimal]:
        async with self.sessions() as session:
            return {bot.id: bot.total_pnl for bot in await session.scalars(select(BotInstance))}


class Loader:
    """Untimed setup for W3/W4/memory: Core bulk INSERT (SQLAlchemy's fastest path), chunk by chunk."""

    impl_class: Any = SQLAlchemyORM  # impl_sqlalchemy_pg's Loader sets its subclass

    def __init__(self, path: Path) -> None:
        self.impl = self.impl_class(path)
        self.books: dict[str, Decimal] = {}
        self.session: AsyncSession | None = None

    async def add(self, chunk: list[dict[str, Any]]) -> None:
        if self.session is None:
            self.session = self.impl.sessions()
            await self.session.begin()
        await self.session.execute(insert(Trade), chunk)
        for t in chunk:
            if t["status"] == "closed":
                self.books[t["bot_id"]] = self.books.get(t["bot_id"], Decimal(0)) + t["net_pnl"]

    async def finish(self) -> None:
        assert self.session is not None
        for bot_id, change in self.books.items():
            bot = await self.session.get(BotInstance, bot_id)
            bot.total_pnl, bot.current_balance = change, Decimal(10000) + change
        await self.session.commit()
        await self.session.close()
        await self.impl.close()
