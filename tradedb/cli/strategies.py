"""The demo bots' trading logic: when to enter (RSI/Bollinger, EMA cross) and when to exit (ATR stops).

Entries are decided at a candle's close; exits are checked against the next
candles' highs and lows, filling at the stop or target (or at the open when
the price gapped past it), as a paper-trading engine would.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from .market import HOUR, Candle, Indicators

Direction = Literal["long", "short"]
MAX_HOLD_HOURS = 72


@dataclass
class Position:
    """An open trade as the bot tracks it; `stop` moves for a trailing exit."""

    trade_id: str
    symbol: str
    direction: Direction
    entry_time: datetime
    entry_price: Decimal
    size: Decimal
    stop: Decimal
    target: Decimal | None


@dataclass(frozen=True)
class Signal:
    """An entry decision: the direction and the first stop and target."""

    direction: Direction
    stop: Decimal
    target: Decimal | None
    reason: str


def _price(value: float, tick: Decimal) -> Decimal:
    return Decimal(repr(value)).quantize(tick)


@dataclass(frozen=True)
class Strategy:
    """One bot's entry and exit logic with its parameters."""

    strategy_name: str
    entry_logic_name: str
    exit_logic_name: str
    slug: str
    stop_atr: float
    target_atr: float | None  # None: no target; the stop trails the best close instead

    def entry(self, candle: Candle, now: Indicators, before: Indicators, tick: Decimal) -> Signal | None:
        """The entry signal at this candle's close, if any."""
        if now.atr is None or now.rsi is None or now.bb_lower is None or now.bb_upper is None:
            return None
        close = float(candle.close)
        direction: Direction | None = None
        reason = ""
        if self.entry_logic_name == "RSIBBVolumeEntryMixin":
            if now.rsi < 32 and close < now.bb_lower and (now.volume_ratio or 0) > 0.8:
                direction, reason = "long", f"RSI {now.rsi:.1f} below 32, close under the lower band"
        elif self.entry_logic_name == "RSIBBShortEntryMixin":
            if now.rsi > 68 and close > now.bb_upper:
                direction, reason = "short", f"RSI {now.rsi:.1f} above 68, close over the upper band"
        elif self.entry_logic_name == "EMACrossVolumeEntryMixin":
            if (now.ema_fast is not None and now.ema_slow is not None and before.ema_fast is not None
                    and before.ema_slow is not None and before.ema_fast <= before.ema_slow
                    and now.ema_fast > now.ema_slow and (now.volume_ratio or 0) > 1.0):
                direction, reason = "long", "EMA 12 crossed above EMA 26 on rising volume"
        if direction is None:
            return None
        sign = 1 if direction == "long" else -1
        stop = _price(close - sign * self.stop_atr * now.atr, tick)
        target = None if self.target_atr is None else _price(close + sign * self.target_atr * now.atr, tick)
        return Signal(direction, stop, target, reason)

    def exit(self, position: Position, candle: Candle) -> tuple[Decimal, str] | None:
        """The fill price and reason if this candle takes the position out (the stop is assumed hit first)."""
        if position.direction == "long":
            if candle.low <= position.stop:
                return min(candle.open, position.stop), self._stop_reason()
            if position.target is not None and candle.high >= position.target:
                return max(candle.open, position.target), "take profit"
        else:
            if candle.high >= position.stop:
                return max(candle.open, position.stop), self._stop_reason()
            if position.target is not None and candle.low <= position.target:
                return min(candle.open, position.target), "take profit"
        if candle.close_time - position.entry_time >= MAX_HOLD_HOURS * HOUR:
            return candle.close, f"time stop ({MAX_HOLD_HOURS}h)"
        return None

    def trail(self, position: Position, candle: Candle, now: Indicators, tick: Decimal) -> None:
        """Move a trailing stop after a candle that did not take the position out."""
        if self.target_atr is not None or now.atr is None:
            return
        if position.direction == "long":
            position.stop = max(position.stop, _price(float(candle.close) - self.stop_atr * now.atr, tick))
        else:
            position.stop = min(position.stop, _price(float(candle.close) + self.stop_atr * now.atr, tick))

    def _stop_reason(self) -> str:
        return "ATR stop" if self.target_atr is not None else "ATR trailing stop"


BASE_STRATEGIES = (
    Strategy("mean-reversion-long", "RSIBBVolumeEntryMixin", "ATRExitMixin", "rsi-bb-long", 2.0, 3.0),
    Strategy("mean-reversion-short", "RSIBBShortEntryMixin", "ATRExitMixin", "rsi-bb-short", 2.0, 3.0),
    Strategy("trend-following", "EMACrossVolumeEntryMixin", "ATRTrailingExitMixin", "ema-trend", 2.5, None),
)


def strategy_for(number: int) -> Strategy:
    """Bot `number` (from 1): the three base strategies in turn, stops widening by half an ATR each round."""
    base = BASE_STRATEGIES[(number - 1) % len(BASE_STRATEGIES)]
    widen = 0.5 * ((number - 1) // len(BASE_STRATEGIES))
    if not widen:
        return base
    return Strategy(base.strategy_name, base.entry_logic_name, base.exit_logic_name, base.slug,
                    base.stop_atr + widen, None if base.target_atr is None else base.target_atr + widen)
