"""Analytics: the trade summary, and performance metrics computed from a bot's closed trades.

The summary is counted and summed in SQL, exactly (see the top of
sql/queries/analytics.sql). Performance metrics need each trade in exit
order (the equity curve, the daily returns), so they read each closed
trade's exit time and net_pnl once and compute in Python, with Decimals
in the EXACT context; each figure is rounded half-even to its column's
scale only at the end. The definitions are in README.md, "Performance
metrics".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from decimal import Decimal, localcontext
from typing import Any

from .bots import existing_bot_row
from .errors import ValidationError
from .queries import QUERIES
from .records import (
    JSON,
    METRICS_COLUMNS,
    MONEY,
    PERCENT,
    RATIO,
    TIME,
    TRADE_TYPES,
    PerformanceMetrics,
    metrics_from_row,
)
from .database import Session
from .values import EXACT, from_units, new_uuid, time_to_text, utc_now

SUMMARY = QUERIES["trade_summary"]
SUMMARY_OF_BOT = QUERIES["trade_summary_of_bot"]
SUMMARY_INPUTS = QUERIES["trade_summary_inputs"]
SUMMARY_INPUTS_OF_BOT = QUERIES["trade_summary_inputs_of_bot"]
CLOSED_RESULTS = QUERIES["closed_trade_results_of_bot"]
INSERT_METRICS = QUERIES["insert_performance_metrics"]

# The widest amount text whose 10^-8 units CAST reads exactly: 18 digits
# and the point. A minus sign makes it one wider, so negative 18-digit
# amounts are summed in Python too (rare, and still exact).
WIDEST_SUMMED_IN_SQL = 19
DAYS_PER_YEAR = 365


def trade_type_filter(value: Any) -> str | None:
    """A trade_type filter: None for all, or one of the trade types."""
    if value is not None and value not in TRADE_TYPES:
        raise ValidationError("trade_type", f"{value!r} is not one of {', '.join(TRADE_TYPES)} (or None for all)")
    return value  # type: ignore[no-any-return]


def starting_balance_argument(value: Any) -> Decimal | None:
    """A caller's starting_balance: None (use the bot's), or an amount above 0."""
    if value is None:
        return None
    balance = MONEY.round("starting_balance", value)
    if balance <= 0:
        raise ValidationError("starting_balance", f"must be above 0 to measure returns against, got {value!r}")
    return balance


def _money(number: Decimal) -> Decimal:
    return Decimal(MONEY.computed(number) or 0)


def get_trade_summary(
    session: Session, bot_id: str | None, symbol: str | None, trade_type: str | None, since: str | None, until: str | None
) -> dict[str, Any]:
    """Counts and exact sums over the matching trades; since/until bound entry_time."""
    filters = {"symbol": symbol, "trade_type": trade_type, "since": since, "until": until}
    query, inputs, params = SUMMARY, SUMMARY_INPUTS, filters
    if bot_id is not None:
        query, inputs, params = SUMMARY_OF_BOT, SUMMARY_INPUTS_OF_BOT, {"bot_id": bot_id, **filters}
    try:
        row = session.one(query, params)
    except Exception as error:
        if not session.sum_overflowed(error):
            raise
        return summary_in_python(session.each(inputs, params))
    total, open_, closed, cancelled, winning, losing, gross, net, commission, widest, first_entry, last_exit = row
    if widest is not None and widest > WIDEST_SUMMED_IN_SQL:
        return summary_in_python(session.each(inputs, params))
    sums = [from_units(units) for units in (gross, net, commission)]
    return summary(total, open_, closed, cancelled, winning, losing, sums, first_entry, last_exit)


def summary_in_python(rows: Iterable[tuple[str, str | None, str | None, str | None, str | None, str | None]]) -> dict[str, Any]:
    """The trade summary of (status, gross_pnl, net_pnl, commission, entry_time, exit_time) rows, computed in Python."""
    counts = {"open": 0, "closed": 0, "cancelled": 0}
    winning = losing = 0
    sums = [Decimal(0), Decimal(0), Decimal(0)]
    first_entry: str | None = None
    last_exit: str | None = None
    with localcontext(EXACT):
        for status, gross, net, commission, entry_time, exit_time in rows:
            counts[status] += 1
            if entry_time is not None and (first_entry is None or entry_time < first_entry):
                first_entry = entry_time
            if status != "closed":
                continue
            if exit_time is not None and (last_exit is None or exit_time > last_exit):
                last_exit = exit_time
            for index, amount in enumerate((gross, net, commission)):
                if amount is not None:
                    sums[index] += Decimal(amount)
            if net is not None:
                winning += Decimal(net) > 0
                losing += Decimal(net) < 0
    total = sum(counts.values())
    return summary(total, counts["open"], counts["closed"], counts["cancelled"], winning, losing, sums, first_entry, last_exit)


def summary(
    total: int, open_: int, closed: int, cancelled: int, winning: int, losing: int,
    sums: Sequence[Decimal], first_entry: str | None, last_exit: str | None,
) -> dict[str, Any]:
    """The summary as get_trade_summary returns it; sums are of gross_pnl, net_pnl and commission."""
    gross, net, commission = sums
    win_rate = None
    if closed:
        with localcontext(EXACT):
            win_rate = PERCENT.from_db(PERCENT.computed(Decimal(winning) / closed * 100))
    return {
        "total_trades": total,
        "open_trades": open_,
        "closed_trades": closed,
        "cancelled_trades": cancelled,
        "winning_trades": winning,
        "losing_trades": losing,
        "win_rate": win_rate,
        "total_gross_pnl": _money(gross),
        "total_net_pnl": _money(net),
        "total_commission": _money(commission),
        "first_entry_time": TIME.from_db(first_entry),
        "last_exit_time": TIME.from_db(last_exit),
    }


# Performance metrics ---------------------------------------------------


def default_starting_balance(bot: dict[str, Any]) -> Decimal | None:
    """What a bot started with: current_balance minus total_pnl, when the balance is kept."""
    if bot["current_balance"] is None:
        return None
    with localcontext(EXACT):
        return Decimal(bot["current_balance"]) - Decimal(bot["total_pnl"])


def max_drawdown(pnls: Sequence[Decimal], start: Decimal) -> Decimal:
    """The largest fall of equity from its running peak, as a percent of that peak (0 if it never falls)."""
    with localcontext(EXACT):
        equity = peak = start
        worst = Decimal(0)
        for pnl in pnls:
            equity += pnl
            peak = max(peak, equity)
            worst = max(worst, (peak - equity) / peak * 100)
        return worst


def sharpe_ratio(results: Sequence[tuple[date, Decimal]], start: Decimal) -> Decimal | None:
    """Annualised Sharpe ratio of daily returns, every calendar day from the first to the last exit."""
    if not results:
        return None
    by_day: dict[date, Decimal] = {}
    with localcontext(EXACT):
        for day, pnl in results:
            by_day[day] = by_day.get(day, Decimal(0)) + pnl
        first, last = results[0][0], results[-1][0]
        days = (last - first).days + 1
        if days < 2:
            return None
        returns: list[Decimal] = []
        equity = start
        for offset in range(days):
            # A day's return is measured against the equity it started with;
            # at or below zero there is nothing to measure against.
            if equity <= 0:
                return None
            pnl = by_day.get(first + timedelta(days=offset), Decimal(0))
            returns.append(pnl / equity)
            equity += pnl
        mean = sum(returns, Decimal(0)) / days
        variance = sum(((r - mean) ** 2 for r in returns), Decimal(0)) / (days - 1)
        if not variance:
            return None
        return mean / variance.sqrt() * Decimal(DAYS_PER_YEAR).sqrt()


def compute_metrics(results: Sequence[tuple[str, str | None]], start: Decimal | None) -> dict[str, Any]:
    """Every metrics column (stored forms) from closed trades (exit_time, net_pnl) in exit order."""
    # A closed trade without a net_pnl (possible only if one was stored as
    # NULL on purpose) counts as a trade but neither wins nor loses.
    dated = [(TIME.parse("exit_time", t).date(), Decimal(p)) for t, p in results if p is not None]
    pnls = [pnl for _, pnl in dated]
    wins = [p for p in pnls if p > 0]
    losses = [p for p in pnls if p < 0]
    total = len(results)
    with localcontext(EXACT):
        won, lost = sum(wins, Decimal(0)), sum(losses, Decimal(0))
        row: dict[str, Any] = {
            "win_rate": PERCENT.computed(Decimal(len(wins)) / total * 100) if total else None,
            "total_trades": total,
            "winning_trades": len(wins),
            "losing_trades": len(losses),
            "avg_win": MONEY.computed(won / len(wins)) if wins else None,
            "avg_loss": MONEY.computed(lost / len(losses)) if losses else None,
            "largest_win": MONEY.computed(max(wins)) if wins else None,
            "largest_loss": MONEY.computed(min(losses)) if losses else None,
            "profit_factor": RATIO.computed(won / -lost) if losses else None,
            "total_return": None,
            "max_drawdown": None,
            "sharpe_ratio": None,
        }
        if start is not None:
            row["total_return"] = RATIO.computed(sum(pnls, Decimal(0)) / start * 100)
            row["max_drawdown"] = RATIO.computed(max_drawdown(pnls, start))
            row["sharpe_ratio"] = RATIO.computed(sharpe_ratio(dated, start))
    return row


def json_time(stored: str | None) -> str | None:
    """A stored time as in all JSON tradedb writes: ISO-8601 UTC with a T, to the microsecond, and a Z."""
    moment = TIME.from_db(stored)
    return None if moment is None else moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def calculate_performance_metrics(
    session: Session,
    bot_id: str,
    starting_balance: Decimal | None,
    trade_type: str | None,
    since: str | None,
    until: str | None,
) -> dict[str, Any]:
    """The stored row of a new metrics record for a bot, computed from its closed trades (not yet stored)."""
    bot = existing_bot_row(session, bot_id)
    source = "argument" if starting_balance is not None else None
    if starting_balance is None:
        starting_balance = default_starting_balance(bot)
        # A bot that has lost all it had has no base for a percentage.
        source = "bot" if starting_balance is not None and starting_balance > 0 else None
        starting_balance = starting_balance if source else None
    results = session.many(
        CLOSED_RESULTS, {"bot_id": bot["id"], "trade_type": trade_type, "since": since, "until": until}
    )
    now = time_to_text(utc_now())
    row: dict[str, Any] = dict.fromkeys(METRICS_COLUMNS)
    row.update(compute_metrics(results, starting_balance))
    row["id"] = new_uuid()
    row["bot_id"] = bot["id"]
    row["calculated_at"] = row["created_at"] = now
    row["extra_metadata"] = JSON.to_db(
        "extra_metadata",
        {
            "starting_balance": MONEY.computed(starting_balance),
            "starting_balance_from": source,
            "trade_type": trade_type,
            "since": json_time(since),
            "until": json_time(until),
            "trade_count": len(results),
            "first_exit_time": json_time(results[0][0]) if results else None,
            "last_exit_time": json_time(results[-1][0]) if results else None,
        },
    )
    return row


def metrics_record(row: dict[str, Any]) -> PerformanceMetrics:
    """The record of a metrics row, columns in METRICS_COLUMNS order."""
    return metrics_from_row(tuple(row[name] for name in METRICS_COLUMNS))


def store_performance_metrics(session: Session, row: dict[str, Any]) -> PerformanceMetrics:
    """Store a computed metrics row (its bot exists: bots are never deleted)."""
    session.exec(INSERT_METRICS, row)
    return metrics_record(row)
