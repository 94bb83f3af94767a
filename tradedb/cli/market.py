"""The demo's market: a seeded, simulated hourly price series per symbol, and the indicators strategies read.

Prices are Decimals at the symbol's tick size, so every amount a demo trade
stores is exact; indicators are floats, because they only inform decisions.
The random walk runs in floats (in log space); each price is derived from it
in Decimal (`Decimal.exp`, correctly rounded, in the fixed context PRICES)
and rounded half-even to the tick. The same seed gives the same candles on
every run (`random.Random` seeded with text is stable across Python versions),
placed in time so that the last one closes at the hour the demo runs: the
demo's data is then as recent as a real bot's, for retention and date filters.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext

HOUR = timedelta(hours=1)
# Every price and size the demo stores is worked out in this context, whatever the caller's, and then
# quantized on purpose: the same seed gives the same amounts.
PRICES = Context(prec=28, rounding=ROUND_HALF_EVEN)
# Candles before the first traded one that only warm the indicators up.
WARMUP = 60

# symbol: (first price, tick size, typical hourly volume)
SYMBOLS: dict[str, tuple[str, str, float]] = {
    "BTCUSDT": ("42000", "0.01", 850.0),
    "ETHUSDT": ("2300", "0.01", 9500.0),
    "SOLUSDT": ("95", "0.001", 120000.0),
}


@dataclass(frozen=True, slots=True)
class Candle:
    """One hour of trading: it opens at `time` (on the hour) and closes at `close_time`."""

    time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal

    @property
    def close_time(self) -> datetime:
        """When the candle closes: the next hour."""
        return self.time + HOUR


@dataclass(frozen=True, slots=True)
class Indicators:
    """What a strategy sees at one candle's close (None while warming up)."""

    rsi: float | None
    bb_lower: float | None
    bb_upper: float | None
    atr: float | None
    ema_fast: float | None
    ema_slow: float | None
    volume_ratio: float | None


def current_hour() -> datetime:
    """The start of the current UTC hour: where the demo's market ends."""
    return datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)


def simulate(symbol: str, seed: int, hours: int, start: datetime) -> list[Candle]:
    """WARMUP + hours candles, the first traded at `start`: a fair value drifting in regimes, a price pulled to it."""
    # Regimes give trend entries their chances; the pull back gives mean-reversion entries theirs.
    first, tick_text, base_volume = SYMBOLS[symbol]
    tick = Decimal(tick_text)
    rng = random.Random(f"tradedb-demo:{seed}:{symbol}")
    fair, deviation = math.log(float(first)), 0.0
    drift, volatility, pull = 0.0, 0.003, 0.05
    candles: list[Candle] = []
    for index in range(WARMUP + hours):
        if rng.random() < 1 / 36:  # a new regime every day and a half, on average
            drift = rng.choice((-0.0015, -0.0005, 0.0, 0.0, 0.0005, 0.0015))
            volatility = rng.choice((0.002, 0.003, 0.005))
            pull = rng.choice((0.02, 0.05, 0.1))
        logs = [fair + deviation]
        for _ in range(4):  # four steps inside the hour give the candle a real high and low
            fair += rng.gauss(drift / 4, volatility / 2)
            deviation += -pull / 4 * deviation + rng.gauss(0.0, 0.004)
            logs.append(fair + deviation)
        with localcontext(PRICES):
            path = [Decimal(repr(log)).exp() for log in logs]
            prices = [price.quantize(tick, rounding=ROUND_HALF_EVEN) for price in path]
            move = float(abs(path[-1] / path[0] - 1))  # only informs the volume, an indicator
        volume = base_volume * math.exp(rng.gauss(0.0, 0.35)) * (1 + 40 * move)
        candles.append(
            Candle(
                time=start + (index - WARMUP) * HOUR,
                open=prices[0],
                high=max(prices),
                low=min(prices),
                close=prices[-1],
                volume=Decimal(repr(round(volume, 4))),
            )
        )
    return candles


def _ema(values: list[float], span: int) -> list[float | None]:
    alpha = 2 / (span + 1)
    out: list[float | None] = []
    current: float | None = None
    for index, value in enumerate(values):
        current = value if current is None else current + alpha * (value - current)
        out.append(current if index >= span - 1 else None)
    return out


def _wilder(values: list[float], period: int) -> list[float | None]:
    out: list[float | None] = [None] * len(values)
    if len(values) < period:
        return out
    current = sum(values[:period]) / period
    out[period - 1] = current
    for index in range(period, len(values)):
        current = (current * (period - 1) + values[index]) / period
        out[index] = current
    return out


def indicators(candles: list[Candle]) -> list[Indicators]:
    """RSI(14), Bollinger bands (20, 2 sigma), ATR(14), EMA(12/26) and volume against its 20-hour mean."""
    closes = [float(c.close) for c in candles]
    highs = [float(c.high) for c in candles]
    lows = [float(c.low) for c in candles]
    volumes = [float(c.volume) for c in candles]
    changes = [0.0] + [closes[i] - closes[i - 1] for i in range(1, len(closes))]
    gains = _wilder([max(change, 0.0) for change in changes[1:]], 14)
    losses = _wilder([max(-change, 0.0) for change in changes[1:]], 14)
    true_ranges = [highs[0] - lows[0]] + [
        max(highs[i] - lows[i], abs(highs[i] - closes[i - 1]), abs(lows[i] - closes[i - 1]))
        for i in range(1, len(closes))
    ]
    atr = _wilder(true_ranges, 14)
    fast, slow = _ema(closes, 12), _ema(closes, 26)
    result: list[Indicators] = []
    for i in range(len(candles)):
        gain, loss = (gains[i - 1], losses[i - 1]) if i >= 1 else (None, None)
        rsi = None
        if gain is not None and loss is not None:
            rsi = 100.0 if loss == 0 else 100 - 100 / (1 + gain / loss)
        lower = upper = ratio = None
        if i >= 19:
            window = closes[i - 19 : i + 1]
            mean = sum(window) / 20
            deviation = math.sqrt(sum((x - mean) ** 2 for x in window) / 20)
            lower, upper = mean - 2 * deviation, mean + 2 * deviation
            average_volume = sum(volumes[i - 19 : i + 1]) / 20
            ratio = volumes[i] / average_volume if average_volume else None
        result.append(Indicators(rsi, lower, upper, atr[i], fast[i], slow[i], ratio))
    return result
