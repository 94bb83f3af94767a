"""Deterministic benchmark data, the exact expected results, and row normalization for the checks.

Every implementation is fed the same Python values (Decimals, aware
datetimes, dicts), generated here from a fixed seed, and its output is
compared, after normalization, with what this module expects.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from typing import Any

UTC = timezone.utc
EXACT = Context(prec=100, rounding=ROUND_HALF_EVEN)
Q8 = Decimal("0.00000001")
Q4 = Decimal("0.0001")
FEE = Decimal("0.001")
START = datetime(2023, 1, 1, tzinfo=UTC)
BALANCE = Decimal("10000.00000000")

TRADE_COLUMNS = (
    "id", "bot_id", "trade_type", "strategy_name", "entry_logic_name", "exit_logic_name", "symbol", "interval",
    "entry_time", "exit_time", "buy_order_created", "buy_order_closed", "sell_order_created", "sell_order_closed",
    "entry_price", "exit_price", "entry_value", "exit_value", "size", "commission", "gross_pnl", "net_pnl",
    "pnl_percentage", "direction", "exit_reason", "status", "extra_metadata",
)  # created_at and updated_at are set by each implementation at write time and not compared
TIME_COLUMNS = frozenset(
    ("entry_time", "exit_time", "buy_order_created", "buy_order_closed", "sell_order_created", "sell_order_closed")
)
MONEY_COLUMNS = frozenset(
    ("entry_price", "exit_price", "entry_value", "exit_value", "size", "commission", "gross_pnl", "net_pnl")
)
SYMBOLS = {
    "BTCUSDT": 43000, "ETHUSDT": 2300, "BNBUSDT": 310, "SOLUSDT": 95, "XRPUSDT": 1, "ADAUSDT": 1,
    "DOGEUSDT": 1, "AVAXUSDT": 35, "LINKUSDT": 15, "DOTUSDT": 7,
}
SYMBOL_NAMES = tuple(SYMBOLS)


def bot_ids(count: int, prefix: str = "bench_bot") -> list[str]:
    return [f"{prefix}_{i:03d}" for i in range(count)]


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _entry(rng: random.Random, index: int, bot_id: str) -> dict[str, Any]:
    """The entry half of a trade: what a bot knows when it opens a position."""
    symbol = SYMBOL_NAMES[rng.randrange(len(SYMBOL_NAMES))]
    base = SYMBOLS[symbol] * 10_000  # in units of 0.0001
    entry_price = Decimal(rng.randint(base * 9 // 10, base * 11 // 10)).scaleb(-4)
    size = Decimal(rng.randint(1_000, 50_000_000)).scaleb(-6)
    entry_time = START + timedelta(seconds=30 * index, microseconds=rng.randrange(1_000_000))
    with localcontext(EXACT):
        entry_value = (entry_price * size).quantize(Q8)
    return {
        "id": _uuid(rng),
        "bot_id": bot_id,
        "trade_type": "paper",  # the bots are paper bots, and a bot's trades have its type
        "strategy_name": "rsi_bb_atr",
        "entry_logic_name": "RSIBBVolumeEntryMixin",
        "exit_logic_name": "ATRExitMixin",
        "symbol": symbol,
        "interval": ("1h", "4h", "15m")[index % 3],
        "entry_time": entry_time,
        "buy_order_created": entry_time - timedelta(seconds=2),
        "buy_order_closed": entry_time,
        "entry_price": entry_price,
        "entry_value": entry_value,
        "size": size,
        "direction": "long" if rng.random() < 0.6 else "short",
        "extra_metadata": {"rsi": rng.randrange(10_000) / 100, "signal": "bb_lower", "n": index},
    }


def _exit(rng: random.Random, trade: dict[str, Any]) -> dict[str, Any]:
    """The exit a trade is closed with: the close_trade arguments."""
    entry_price = trade["entry_price"]
    exit_price = (entry_price * Decimal(rng.randint(9_500, 10_500)) / 10_000).quantize(Decimal("0.0001"))
    with localcontext(EXACT):
        exit_value = (exit_price * trade["size"]).quantize(Q8)
        commission = ((trade["entry_value"] + exit_value) * FEE).quantize(Q8)
    return {
        "exit_price": exit_price,
        "exit_time": trade["entry_time"] + timedelta(minutes=rng.randint(1, 3_000), microseconds=rng.randrange(10**6)),
        "commission": commission,
        "exit_reason": "take_profit" if exit_price > entry_price else "stop_loss",
    }


def settle(trade: dict[str, Any], exit_: dict[str, Any], *, commission_before: Decimal = Decimal(0)) -> dict[str, Any]:
    """The closed trade: close_trade's arithmetic (half-even to each column's scale)."""
    closed = dict(trade)
    with localcontext(EXACT):
        entry, exit_price, size = trade["entry_price"], exit_["exit_price"], trade["size"]
        commission = (commission_before + exit_["commission"]).quantize(Q8)
        move = exit_price - entry if trade["direction"] == "long" else entry - exit_price
        gross = (move * size).quantize(Q8)
        net = (gross - commission).quantize(Q8)
        closed.update(
            exit_price=exit_price,
            exit_time=exit_["exit_time"],
            exit_value=(exit_price * size).quantize(Q8),
            commission=commission,
            gross_pnl=gross,
            net_pnl=net,
            pnl_percentage=_zero_positive((net / trade["entry_value"] * 100).quantize(Q4)),
            exit_reason=exit_["exit_reason"],
            status="closed",
            sell_order_created=exit_["exit_time"] - timedelta(seconds=1),
            sell_order_closed=exit_["exit_time"],
        )
    return closed


def _zero_positive(number: Decimal) -> Decimal:
    """tradedb stores zero as 0, never -0 (a tiny loss rounds to 0.0000, not -0.0000)."""
    return number if number else number.copy_abs()


def open_trade(trade: dict[str, Any]) -> dict[str, Any]:
    """Every column filled that an open trade has."""
    return {
        **trade,
        "exit_time": None, "sell_order_created": None, "sell_order_closed": None, "exit_price": None,
        "exit_value": None, "commission": None, "gross_pnl": None, "net_pnl": None, "pnl_percentage": None,
        "exit_reason": None, "status": "open",
    }


def history(count: int, bots: list[str], *, open_count: int = 0, seed: int = 1) -> Iterator[dict[str, Any]]:
    """`count` trades, every column filled, round-robin over `bots`; the last `open_count` are open."""
    rng = random.Random(seed)
    for index in range(count):
        trade = _entry(rng, index, bots[index % len(bots)])
        exit_ = _exit(rng, trade)
        if index >= count - open_count:
            yield open_trade(trade)
        else:
            yield settle(trade, exit_)


def lifecycles(count: int, bot_id: str, *, seed: int = 2, offset: int = 0) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(create_trade data, close_trade arguments) pairs for W2 and W5."""
    rng = random.Random(seed)
    pairs = []
    for index in range(offset, offset + count):
        trade = _entry(rng, index, bot_id)
        pairs.append((trade, _exit(rng, trade)))
    return pairs


class Totals:
    """The exact trade summary of a set of trades, built incrementally (what W4 must return)."""

    def __init__(self) -> None:
        self.counts = {"open": 0, "closed": 0, "cancelled": 0}
        self.winning = self.losing = 0
        self.gross = self.net = self.commission = Decimal(0)
        self.first_entry: datetime | None = None
        self.last_exit: datetime | None = None
        self.by_bot: dict[str, Decimal] = {}

    def add(self, trade: dict[str, Any]) -> None:
        self.counts[trade["status"]] += 1
        if trade["entry_time"] is not None and (self.first_entry is None or trade["entry_time"] < self.first_entry):
            self.first_entry = trade["entry_time"]
        if trade["status"] != "closed":
            return
        net = trade["net_pnl"]
        with localcontext(EXACT):
            self.gross += trade["gross_pnl"]
            self.net += net
            self.commission += trade["commission"]
            self.by_bot[trade["bot_id"]] = self.by_bot.get(trade["bot_id"], Decimal(0)) + net
        self.winning += net > 0
        self.losing += net < 0
        if self.last_exit is None or trade["exit_time"] > self.last_exit:
            self.last_exit = trade["exit_time"]

    def summary(self) -> dict[str, Any]:
        closed = self.counts["closed"]
        return {
            "total_trades": sum(self.counts.values()),
            "open_trades": self.counts["open"],
            "closed_trades": closed,
            "cancelled_trades": self.counts["cancelled"],
            "winning_trades": self.winning,
            "losing_trades": self.losing,
            "win_rate": (Decimal(self.winning) / closed * 100).quantize(Decimal("0.01")) if closed else None,
            "total_gross_pnl": self.gross.quantize(Q8),
            "total_net_pnl": self.net.quantize(Q8),
            "total_commission": self.commission.quantize(Q8),
            "first_entry_time": self.first_entry,
            "last_exit_time": self.last_exit,
        }


# Normalization: each implementation's output, reduced to comparable text ----------


def _time(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:  # SQLAlchemy's SQLite DateTime drops the zone; everything here is UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _decimal(value: Any, quantum: Decimal) -> str | None:
    if value is None:
        return None
    number = Decimal(str(value) if isinstance(value, float) else value).quantize(quantum, context=EXACT)
    return str(number if number else number.copy_abs())  # -0.0000 is 0.0000


def normalize(row: Any) -> tuple[Any, ...]:
    """A trade (dict, record or ORM object) as a tuple of canonical values, in TRADE_COLUMNS order."""
    get = row.get if isinstance(row, dict) else lambda name: getattr(row, name)
    out = []
    for name in TRADE_COLUMNS:
        value = get(name)
        if name in TIME_COLUMNS:
            value = _time(value)
        elif name in MONEY_COLUMNS:
            value = _decimal(value, Q8)
        elif name == "pnl_percentage":
            value = _decimal(value, Q4)
        elif name == "extra_metadata":
            value = None if value is None else json.dumps(json.loads(value) if isinstance(value, str) else value, sort_keys=True)
        out.append(value)
    return tuple(out)


def compare_rows(expected: list[tuple[Any, ...]], got: list[tuple[Any, ...]]) -> str | None:
    """None when both hold the same rows (in any order), else a short description of the first difference."""
    if len(expected) != len(got):
        return f"{len(got)} rows, expected {len(expected)}"
    want, have = sorted(expected, key=lambda r: r[0]), sorted(got, key=lambda r: r[0])
    for a, b in zip(want, have):
        if a != b:
            diffs = [f"{n}: {y!r} != {x!r}" for n, x, y in zip(TRADE_COLUMNS, a, b) if x != y]
            return f"trade {a[0]}: " + "; ".join(diffs[:3])
    return None


def compare_summary(expected: dict[str, Any], got: dict[str, Any] | None) -> tuple[bool, str]:
    """(exact, description): exact when every figure matches; otherwise how far the money is off."""
    if got is None:
        return False, "no summary"
    problems, worst = [], Decimal(0)
    for key, want in expected.items():
        have = got.get(key)
        if key.endswith("_time"):
            if _time(have) != _time(want):
                problems.append(f"{key} {_time(have)} != {_time(want)}")
        elif isinstance(want, Decimal) and key != "win_rate":
            if have is None:
                problems.append(f"{key} missing")
                continue
            have_d = Decimal(str(have)) if isinstance(have, float) else Decimal(have)
            off = abs(have_d - want)
            if off:
                worst = max(worst, off)
                problems.append(f"{key} off by {off:.2E}")
        elif key == "win_rate":
            if (have is None) != (want is None) or (want is not None and abs(Decimal(str(have)) - want) > Decimal("0.01")):
                problems.append(f"win_rate {have} != {want}")
        elif have != want:
            problems.append(f"{key} {have!r} != {want!r}")
    if not problems:
        return True, "exact"
    return False, "; ".join(problems)
