"""The demo bots' trading logic: when to enter (RSI/Bollinger, EMA cross) and when to exit (ATR stops).

Entries are decided at a candle's close; exits are checked against the next
candles' highs and lows, filling at the stop or target (or at the open when
the price gapped past it), as a paper-trading engine would.

Indicators are floats (they only inform decisions); every price a trade
stores (stops and targets become exit prices) is computed in Decimal from
the candle's Decimal close, the float ATR being converted first, and rounded
half-even to the symbol's tick.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Literal

from .market import HOUR, PRICES, Candle, Indicators

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


def atr_price(close: Decimal, atrs: Decimal, atr: float, tick: Decimal) -> Decimal:
    """close + atrs x ATR in Decimal (the float ATR read by its shortest repr), rounded half-even to the tick."""
    with localcontext(PRICES):
        return (close + atrs * Decimal(repr(atr))).quantize(tick, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class Strategy:
    """One bot's entry and exit logic with its parameters."""

    strategy_name: str
    entry_logic_name: str
    exit_logic_name: str
    slug: str
    stop_atr: Decimal
    target_atr: Decimal | None  # None: no target; the stop trails the best close instead

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
        stop = atr_price(candle.close, -sign * self.stop_atr, now.atr, tick)
        target = None if self.target_atr is None else atr_price(candle.close, sign * self.target_atr, now.atr, tick)
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
            position.stop = max(position.stop, atr_price(candle.close, -self.stop_atr, now.atr, tick))
        else:
            position.stop = min(position.stop, atr_price(candle.close, self.stop_atr, now.atr, tick))

    def _stop_reason(self) -> str:
        return "ATR stop" if self.target_atr is not None else "ATR trailing stop"


BASE_STRATEGIES = (
    Strategy("mean-reversion-long", "RSIBBVolumeEntryMixin", "ATRExitMixin", "rsi-bb-long",
             Decimal("2"), Decimal("3")),
    Strategy("mean-reversion-short", "RSIBBShortEntryMixin", "ATRExitMixin", "rsi-bb-short",
             Decimal("2"), Decimal("3")),
    Strategy("trend-following", "EMACrossVolumeEntryMixin", "ATRTrailingExitMixin", "ema-trend",
             Decimal("2.5"), None),
)


def strategy_for(number: int) -> Strategy:
    """Bot `number` (from 1): the three base strategies in turn, stops widening by half an ATR each round."""
    base = BASE_STRATEGIES[(number - 1) % len(BASE_STRATEGIES)]
    widen = Decimal("0.5") * ((number - 1) // len(BASE_STRATEGIES))
    if not widen:
        return base
    return Strategy(base.strategy_name, base.entry_logic_name, base.exit_logic_name, base.slug,
                    base.stop_atr + widen, None if base.target_atr is None else base.target_atr + widen)
