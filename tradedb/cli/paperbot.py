"""The demo's paper-trading bot: trades one simulated market through the public API, positions in memory.

It opens and closes trades at candle times, sends a heartbeat every
simulated day, and knows its open positions only in memory, as a real bot
does, so after a crash it must get them back from the database.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, localcontext
from typing import Any

from .. import Repository, Trade
from .market import HOUR, PRICES, SYMBOLS, WARMUP, Candle, Indicators, current_hour, indicators, simulate
from .strategies import Position, Strategy

INITIAL_BALANCE = Decimal("10000")
COMMISSION_RATE = Decimal("0.001")  # 0.1% a side, a common taker fee
RISK_PER_TRADE = Decimal("0.01")  # lose at most 1% of the balance at the stop
MAX_NOTIONAL = Decimal("0.25")  # and never put more than a quarter of it in one position
SIZE_STEP = Decimal("0.0001")
EIGHT_PLACES = Decimal("0.00000001")
# Trade ids are uuid5(bot id, symbol, hour of the run): the same run of the same seed gets the same ids, whenever
# it runs.
TRADE_NAMESPACE = uuid.UUID("6f1c4a52-3b0e-4d8e-9a57-2f1e0c9d7b13")


def commission(price: Decimal, size: Decimal) -> Decimal:
    """The fee for one side of a trade, rounded half-even to 8 places as the library stores it."""
    with localcontext(PRICES):
        return (price * size * COMMISSION_RATE).quantize(EIGHT_PLACES, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class Market:
    """Every symbol's candles and indicators; index WARMUP is the first traded hour, which opens at `start`."""

    candles: dict[str, list[Candle]]
    signals: dict[str, list[Indicators]]
    start: datetime

    @property
    def end(self) -> int:
        """One past the last candle's index."""
        return len(next(iter(self.candles.values())))


def build_market(seed: int, days: int, end: datetime | None = None) -> Market:
    """The simulated market of a seed, its last candle closing at `end` (default: the current hour)."""
    # The seed alone decides prices, sizes and moves; `end` only places them in time.
    start = (end or current_hour()) - days * 24 * HOUR
    candles = {symbol: simulate(symbol, seed, days * 24, start) for symbol in SYMBOLS}
    return Market(candles, {symbol: indicators(series) for symbol, series in candles.items()}, start)


class PaperBot:
    """One paper-trading bot: its strategy, its balance, and the positions it holds in memory."""

    def __init__(self, repository: Repository, bot_id: str, strategy: Strategy, market: Market) -> None:
        self.repository = repository
        self.bot_id = bot_id
        self.strategy = strategy
        self.market = market
        self.balance = INITIAL_BALANCE
        self.positions: dict[str, Position] = {}
        self.done = WARMUP - 1  # the last candle fully processed

    async def start(self, *, first: bool, resume_at: int) -> list[Trade]:
        """start_bot: create the bot or mark it running again, and rebuild its positions from the open trades."""
        data: dict[str, Any] = {"id": self.bot_id, "type": "paper"}
        if first:
            data["current_balance"] = INITIAL_BALANCE
            data["extra_metadata"] = {"demo": True, "strategy": self.strategy.strategy_name}
        state = await self.repository.start_bot(data)
        self.balance = state.bot.current_balance or INITIAL_BALANCE
        self.positions = {trade.symbol: self._position(trade, resume_at) for trade in state.open_trades}
        self.done = resume_at - 1
        return state.open_trades

    def _position(self, trade: Trade, resume_at: int) -> Position:
        meta = trade.extra_metadata or {}
        assert trade.entry_time is not None and trade.entry_price is not None and trade.size is not None
        position = Position(
            trade.id, trade.symbol, trade.direction, trade.entry_time, trade.entry_price, trade.size,
            Decimal(meta["stop"]), None if meta.get("target") is None else Decimal(meta["target"]),
        )
        # A trailing stop lives in memory: replay the candles since entry, as the bot would rebuild it.
        tick = Decimal(SYMBOLS[trade.symbol][1])
        for index in range(WARMUP, resume_at):
            candle = self.market.candles[trade.symbol][index]
            if candle.time >= trade.entry_time:
                self.strategy.trail(position, candle, self.market.signals[trade.symbol][index], tick)
        return position

    async def run(self, crash: asyncio.Event | None = None, crash_from: int | None = None) -> None:
        """Trade every remaining candle; a crash victim signals `crash` and waits there to be killed."""
        for index in range(self.done + 1, self.market.end):
            for symbol in self.market.candles:
                await self._on_candle(symbol, index)
            self.done = index
            if (index - WARMUP + 1) % 24 == 0:
                await self.repository.heartbeat(self.bot_id)
            if crash is not None and crash_from is not None and index >= crash_from:
                # Most telling with two positions open; settle for one in the second half of what is left.
                wanted = 2 if index < (crash_from + self.market.end) // 2 else 1
                if len(self.positions) >= wanted or index == self.market.end - 1:
                    crash.set()
                    await asyncio.Event().wait()  # cancelled here, between two candles
            await asyncio.sleep(0)  # let the other bots trade this hour too

    async def _on_candle(self, symbol: str, index: int) -> None:
        candle = self.market.candles[symbol][index]
        now = self.market.signals[symbol][index]
        tick = Decimal(SYMBOLS[symbol][1])
        position = self.positions.get(symbol)
        if position is not None:
            hit = self.strategy.exit(position, candle)
            if hit is None:
                self.strategy.trail(position, candle, now, tick)
            else:
                await self._close(position, candle, *hit)
            return
        signal = self.strategy.entry(candle, now, self.market.signals[symbol][index - 1], tick)
        if signal is None:
            return
        price = candle.close
        distance = abs(price - signal.stop)
        if not distance:
            return
        with localcontext(PRICES):
            size = min(self.balance * RISK_PER_TRADE / distance, self.balance * MAX_NOTIONAL / price)
            size = size.quantize(SIZE_STEP, rounding=ROUND_DOWN)  # never more than the risk allows
        if size <= 0:
            return
        entry_time = candle.close_time
        trade = await self.repository.create_trade({
            "id": str(uuid.uuid5(TRADE_NAMESPACE, f"{self.bot_id}/{symbol}/{index - WARMUP}")),
            "bot_id": self.bot_id, "trade_type": "paper", "strategy_name": self.strategy.strategy_name,
            "entry_logic_name": self.strategy.entry_logic_name, "exit_logic_name": self.strategy.exit_logic_name,
            "symbol": symbol, "interval": "1h", "direction": signal.direction, "entry_time": entry_time,
            "entry_price": price, "size": size, "commission": commission(price, size),
            "extra_metadata": {"stop": str(signal.stop), "target": None if signal.target is None else str(signal.target),
                               "signal": signal.reason},
        })
        self.positions[symbol] = Position(trade.id, symbol, signal.direction, entry_time, price, size,
                                          signal.stop, signal.target)

    async def _close(self, position: Position, candle: Candle, price: Decimal, reason: str) -> None:
        closed = await self.repository.close_trade(
            position.trade_id, exit_price=price, exit_time=candle.close_time,
            commission=commission(price, position.size), exit_reason=reason,
        )
        del self.positions[position.symbol]
        self.balance += closed.net_pnl or 0
