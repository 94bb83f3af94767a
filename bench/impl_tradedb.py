"""tradedb, through its public API only: a database path (SQLite) or a postgresql:// URL."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import tradedb


class TradeDB:
    name = "tradedb"

    def __init__(self, repo: tradedb.Repository) -> None:
        self.repo = repo

    @classmethod
    async def open(cls, location: Path | str, pool_size: int | None = None) -> "TradeDB":
        """connect(location); with pool_size (W5 on PostgreSQL), connect(location, pool_size=N)."""
        if pool_size is None:
            return cls(await tradedb.connect(location))
        return cls(await tradedb.connect(location, pool_size=pool_size))  # type: ignore[call-arg]

    @classmethod
    async def create(cls, location: Path | str, bots: list[str]) -> "TradeDB":
        """A new database (migrations applied by connect) with the bots (untimed setup)."""
        impl = await cls.open(location)
        for bot_id in bots:
            await impl.repo.create_bot_instance({"id": bot_id, "type": "paper", "current_balance": "10000"})
        return impl

    async def close(self) -> None:
        await self.repo.close()

    # W1
    async def bulk_load(self, trades: list[dict[str, Any]]) -> None:
        await self.repo.create_trades(trades)

    # W2 / W5
    async def create_trade(self, trade: dict[str, Any]) -> None:
        await self.repo.create_trade(trade)

    async def close_trade(self, trade_id: str, exit_price: Decimal, exit_time: Any, commission: Decimal,
                          exit_reason: str) -> None:
        await self.repo.close_trade(trade_id, exit_price=exit_price, exit_time=exit_time, commission=commission,
                                    exit_reason=exit_reason)

    async def start_bot(self, bot_id: str) -> list[Any]:
        state = await self.repo.start_bot({"id": bot_id, "type": "paper"})
        return state.open_trades

    async def heartbeat(self, bot_id: str) -> None:
        await self.repo.heartbeat(bot_id)

    async def read_then_close(self, trade_id: str, exit_: dict[str, Any]) -> None:
        """A read-then-write transaction: read the trade and its bot, then close it, atomically."""
        async with self.repo.transaction():
            trade = await self.repo.get_trade_by_id(trade_id)
            assert trade is not None and trade.status == "open"
            await self.repo.get_bot_instance(trade.bot_id)
            await self.repo.close_trade(trade_id, **exit_)

    # W3
    async def open_trades(self, bot_id: str) -> list[Any]:
        return await self.repo.get_open_trades(bot_id=bot_id)

    # W4
    def has_summary(self) -> bool:
        return hasattr(self.repo, "get_trade_summary")

    async def summary(self) -> dict[str, Any]:
        return await self.repo.get_trade_summary()

    # Memory: streams through iter_trades(); the list fallback is for an API without one.
    def has_stream(self) -> str | None:
        for name in ("iter_trades", "stream_trades", "export_trades", "iterate_trades"):
            if hasattr(self.repo, name):
                return name
        return None

    async def export(self) -> tuple[int, Decimal]:
        count, total = 0, Decimal(0)
        stream = self.has_stream()
        if stream is not None:
            async for trade in getattr(self.repo, stream)():
                count += 1
                if trade.net_pnl is not None:
                    total += trade.net_pnl
            return count, total
        for trades in (await self.repo.get_closed_trades(), await self.repo.get_open_trades()):
            for trade in trades:
                count += 1
                if trade.net_pnl is not None:
                    total += trade.net_pnl
        return count, total

    # Checks
    async def all_trades(self) -> list[Any]:
        return [*await self.repo.get_closed_trades(), *await self.repo.get_open_trades()]

    async def bot_books(self) -> dict[str, Decimal]:
        return {bot.id: bot.total_pnl for bot in await self.repo.list_bot_instances()}
