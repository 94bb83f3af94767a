"""The demo's paper-trading bot: trades one simulated market through the public API, positions in memory.

It opens and closes trades at candle times, sends a heartbeat every
simulated day (or every `heartbeat_every` hours), and knows its open positions only in memory, as a real bot
does, so after a crash it must get them back from the database. Given a
Clock, it trades each candle no sooner than the clock allows (the demo's
accelerated replay under `tradedb demo --serve`); without one, as fast as
it can.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, localcontext
from typing import Any

from .. import Repository, Trade
from . import output
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


class Clock:
    """An accelerated wall clock for the replay: candle `first + n` is due `n * seconds_per_hour` after start()."""

    def __init__(self, first: int, seconds_per_hour: float) -> None:
        self.first = first
        self.seconds_per_hour = seconds_per_hour
        self._started: float | None = None

    def start(self) -> None:
        """Start counting now (the first candle is due at once)."""
        self._started = asyncio.get_running_loop().time()

    def due(self, index: int) -> float:
        """The event loop's time at which candle `index` may be traded."""
        if self._started is None:
            raise RuntimeError("Clock.start() was not called")
        return self._started + (index - self.first) * self.seconds_per_hour

    async def reach(self, index: int) -> None:
        """Sleep until candle `index` is due (at once when it already is): every bot steps the same hour together."""
        delay = self.due(index) - asyncio.get_running_loop().time()
        if delay > 0:
            await asyncio.sleep(delay)


@dataclass
class Tally:
    """What the bots sharing it did, for the lines the demo prints as it goes (`tell`: a line per trade)."""

    opened: int = 0
    closed: int = 0
    wins: int = 0
    net_pnl: Decimal = field(default_factory=lambda: Decimal("0E-8"))
    tell: Callable[[str], None] | None = None

    def count_open(self, trade: Trade) -> None:
        self.opened += 1
        if self.tell is not None:
            self.tell(f"{_when(trade.entry_time)}  {trade.bot_id} opens {trade.symbol} {trade.direction} "
                      f"{_text(trade.size)} @ {_text(trade.entry_price)}")

    def count_close(self, trade: Trade) -> None:
        pnl = trade.net_pnl or Decimal(0)
        self.closed += 1
        self.wins += pnl > 0
        self.net_pnl += pnl
        if self.tell is not None:
            self.tell(f"{_when(trade.exit_time)}  {trade.bot_id} closes {trade.symbol} {trade.direction} "
                      f"@ {_text(trade.exit_price)} ({trade.exit_reason}): net PnL {_text(trade.net_pnl)}")


def _text(amount: Decimal | None) -> str:
    return "-" if amount is None else format(amount.normalize(), "f")


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else output.text(moment)


class PaperBot:
    """One paper-trading bot: its strategy, its balance, and the positions it holds in memory."""

    def __init__(
        self, repository: Repository, bot_id: str, strategy: Strategy, market: Market, *,
        clock: Clock | None = None, tally: Tally | None = None, heartbeat_every: int = 24,
    ) -> None:
        self.repository = repository
        self.bot_id = bot_id
        self.strategy = strategy
        self.market = market
        self.clock = clock
        self.tally = tally if tally is not None else Tally()
        self.heartbeat_every = heartbeat_every  # candles (simulated hours) between two heartbeats
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
            if self.clock is not None:
                await self.clock.reach(index)
            for symbol in self.market.candles:
                await self._on_candle(symbol, index)
            self.done = index
            if (index - WARMUP + 1) % self.heartbeat_every == 0:
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
        self.tally.count_open(trade)

    async def _close(self, position: Position, candle: Candle, price: Decimal, reason: str) -> None:
        closed = await self.repository.close_trade(
            position.trade_id, exit_price=price, exit_time=candle.close_time,
            commission=commission(price, position.size), exit_reason=reason,
        )
        del self.positions[position.symbol]
        self.balance += closed.net_pnl or 0
        self.tally.count_close(closed)
