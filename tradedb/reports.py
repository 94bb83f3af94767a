"""Reports over the whole database: each bot at a glance, realized PnL per day, closed-trade pages, the PnL distribution.

What the dashboard shows, and usable on its own. Aggregates over all history
come from closed_trade_stats (kept by triggers, migration 0003), so their cost
follows the number of bots and days, not of trades; pages of trades come
from the trades table through its indexes. Every sum is exact: SQLite's
10^-8 units are used when it kept them exactly, and a bot's day is summed
again from its trades, in Python, when it could not (see
sql/sqlite/queries/reports.sql).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal, localcontext
from typing import Any

from .analytics import WIDEST_SUMMED_IN_SQL
from .database import Session
from .queries import QUERIES, Query
from .records import BotInstance, Trade, bot_from_row, trade_from_row
from .values import EXACT, from_units, time_to_text

BOT_CLOSED_STATS = QUERIES["bot_closed_stats"]
PNL_ON_DAY = QUERIES["pnl_on_day"]
CLOSED_TRADE_DAYS = QUERIES["closed_trade_days"]
OPEN_POSITIONS_BY_BOT = QUERIES["open_positions_by_bot"]
DAILY_PNL = QUERIES["daily_pnl"]
DAILY_PNL_OF_BOT = QUERIES["daily_pnl_of_bot"]
NET_PNL_BETWEEN = QUERIES["net_pnl_of_bot_between"]
CLOSED_TRADE_COUNT = QUERIES["closed_trade_count"]
PNL_DISTRIBUTION = QUERIES["pnl_distribution"]
# One bot's count and distribution read only its primary key range of closed_trade_stats.
CLOSED_TRADE_COUNT_OF_BOT = QUERIES["closed_trade_count_of_bot"]
PNL_DISTRIBUTION_OF_BOT = QUERIES["pnl_distribution_of_bot"]
CLOSED_TRADES_PER_DAY = QUERIES["closed_trades_per_day"]
# Without filters: queries without parameters, whose plan on PostgreSQL stays the one for all history after psycopg
# prepares them (a generic plan of the filtered ones walks or sorts every closed_trade_stats row: 2-4x slower).
CLOSED_TRADE_COUNT_ALL = QUERIES["closed_trade_count_all"]
CLOSED_TRADES_PER_DAY_ALL = QUERIES["closed_trades_per_day_all"]
CLOSED_TRADES_PER_DAY_OF_BOT = QUERIES["closed_trades_per_day_of_bot"]
TRADED_SYMBOLS = QUERIES["traded_symbols"]
CLOSED_TRADES_AFTER = QUERIES["closed_trades_after"]
CLOSED_TRADES_OF_BOT_AFTER = QUERIES["closed_trades_of_bot_after"]
LIST_BOTS = QUERIES["list_bot_instances"]

# (sort, descending) -> the query that reads a page in that order; the
# exit-time orders of one bot have their own, which walk that bot's index.
PAGE_QUERIES: dict[tuple[str, bool], Query] = {
    (sort, descending): QUERIES[f"closed_trades_by_{sort}_{'desc' if descending else 'asc'}"]
    for sort in ("exit", "entry", "net_pnl", "pnl_percentage")
    for descending in (True, False)
}
# The other orders without exit dates: each walks the index of its order (idx_entry_time, or migration 0006's
# idx_closed_trades_net_pnl and idx_closed_trades_pnl_percentage) and stops after the page, where the range of
# idx_exit_time over all history would be walked with a table lookup per row, then sorted (see reports.sql).
UNDATED_PAGE_QUERIES: dict[tuple[str, bool], Query] = {
    (sort, descending): QUERIES[f"closed_trades_undated_by_{sort}_{'desc' if descending else 'asc'}"]
    for sort in ("entry", "net_pnl", "pnl_percentage")
    for descending in (True, False)
}
# The amount orders without exit dates for a filter that matches few: SQLite reads the table in one pass.
SCANNED_PAGE_QUERIES: dict[tuple[str, bool], Query] = {
    (sort, descending): QUERIES[f"closed_trades_scanned_by_{sort}_{'desc' if descending else 'asc'}"]
    for sort in ("net_pnl", "pnl_percentage")
    for descending in (True, False)
}
PAGE_OF_BOT_QUERIES: dict[bool, Query] = {
    True: QUERIES["closed_trades_of_bot_by_exit_desc"],
    False: QUERIES["closed_trades_of_bot_by_exit_asc"],
}
# The sort keys a caller names, and the query family each one uses.
SORTS = {"exit_time": "exit", "entry_time": "entry", "net_pnl": "net_pnl", "pnl_percentage": "pnl_percentage"}

# The pnl_percentage buckets of closed_trade_stats (migration 0003): bucket 0
# is below the first edge, bucket i is [EDGES[i-1], EDGES[i]), the last is at
# or above the last edge; -1 holds trades without a pnl_percentage.
BUCKET_EDGES = tuple(
    Decimal(edge) for edge in ("-20", "-10", "-5", "-3", "-2", "-1", "-0.5", "0", "0.5", "1", "2", "3", "5", "10", "20")
)
NO_PERCENTAGE = -1
MAX_PAGE_SIZE = 1000
# From this many rows in, a page in exit order is found by day (closed_trades_per_day), not by OFFSET alone:
# an OFFSET over idx_exit_time costs a table lookup per row skipped (page 9,998 of a million trades: 1.2-6 s).
DEEP_OFFSET = 1000
# A filtered page in an amount order walks idx_closed_trades_<amount> (migration 0006) until it has offset + limit
# matches: about (offset + limit) x (closed trades / matching ones) rows, each a table lookup for the filter (SQLite:
# 3.7 us; a bot without trades, the whole index: 3.7 s at 1,000,000). Past this many, the table is read in one pass
# instead (0.5 s): see closed_trades_scanned_by_* in reports.sql.
WALK_LIMIT = 50_000


@dataclass(frozen=True, slots=True)
class BotOverview:
    """One bot at a glance: its record, its closed-trade counts over all history, today's realized PnL, open positions."""

    bot: BotInstance
    closed_trades: int
    wins: int
    losses: int
    today_pnl: Decimal
    open_positions: int

    @property
    def win_rate(self) -> Decimal | None:
        """Winning closed trades in percent of all closed ones, 2 places (None without closed trades)."""
        return win_rate(self.wins, self.closed_trades)


@dataclass(frozen=True, slots=True)
class DailyPnl:
    """A bot's realized PnL on one UTC day: the net_pnl of its trades that closed that day."""

    bot_id: str
    day: date
    net_pnl: Decimal


@dataclass(frozen=True, slots=True)
class TradePage:
    """One page of closed trades and where it lies in the whole matching set."""

    trades: list[Trade]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        """How many pages the matching set fills (at least 1)."""
        return max(1, -(-self.total // self.page_size))


@dataclass(frozen=True, slots=True)
class PnlBucket:
    """Closed trades whose pnl_percentage lies in [low, high) (None: unbounded)."""

    low: Decimal | None
    high: Decimal | None
    trades: int

    @property
    def label(self) -> str:
        """The bucket as a person reads it: '< -20%', '0% to 0.5%', '>= 20%'."""
        if self.low is None:
            return f"< {self.high}%"
        if self.high is None:
            return f">= {self.low}%"
        return f"{self.low}% to {self.high}%"


@dataclass(frozen=True, slots=True)
class PnlDistribution:
    """Closed trades per pnl_percentage bucket, and how many have no pnl_percentage."""

    buckets: list[PnlBucket]
    without_percentage: int


@dataclass(frozen=True, slots=True)
class ClosedTradeFilter:
    """Which closed trades a report covers: None matches all; since and until are UTC exit dates, both inclusive."""

    bot_id: str | None = None
    symbol: str | None = None
    trade_type: str | None = None
    since: date | None = None
    until: date | None = None

    def days(self) -> dict[str, Any]:
        """The filter as closed_trade_stats' query parameters (dates as 'YYYY-MM-DD')."""
        return {
            "bot_id": self.bot_id,
            "symbol": self.symbol,
            "trade_type": self.trade_type,
            "since": None if self.since is None else self.since.isoformat(),
            "until": None if self.until is None else self.until.isoformat(),
        }

    def times(self) -> dict[str, Any]:
        """The filter as the trades queries' parameters: exit_time in [since 00:00, the day after until 00:00)."""
        return {**self.days(), "since": day_start(self.since), "until": day_start(self.until, 1)}


def day_start(day: date | None, later: int = 0) -> str | None:
    """Midnight UTC starting `day` (plus `later` days) as stored time text; None for None."""
    if day is None or later > (date.max - day).days:
        return None  # past the last day a date can name: no bound
    return time_to_text(datetime.combine(day + timedelta(days=later), time(), timezone.utc))


def win_rate(wins: int, closed: int) -> Decimal | None:
    """wins / closed in percent, rounded half-even to 2 places."""
    if not closed:
        return None
    with localcontext(EXACT):
        return (Decimal(wins) * 100 / closed).quantize(Decimal("0.01"))


def _units(units: Any) -> Decimal:
    return from_units(units)


def _summed_in_python(session: Session, bot_id: str, day: date) -> Decimal:
    """The net_pnl of `bot_id`'s trades closed on `day`, summed exactly here."""
    params = {"bot_id": bot_id, "since": day_start(day), "until": day_start(day, 1)}
    with localcontext(EXACT):
        return sum((Decimal(net) for (net,) in session.each(NET_PNL_BETWEEN, params) if net is not None), Decimal(0))


def _exact(session: Session, bot_id: str, day: date, units: Any, widest: Any, inexact: Any) -> Decimal:
    """A day's sum as the query gave it when it is exact, else summed again from the trades."""
    if inexact or isinstance(units, float) or (widest is not None and widest > WIDEST_SUMMED_IN_SQL):
        return _summed_in_python(session, bot_id, day)
    return _units(units)


def _day_sums(session: Session, query: Query, params: dict[str, Any], days: dict[str, Any]) -> list[DailyPnl]:
    """The rows (bot_id, day, units, widest, inexact) of `query`, exact; if SQLite's sum() overflowed, every day of
    closed_trade_days(**days) summed in Python instead."""
    try:
        rows = session.many(query, params)
    except Exception as error:
        if not session.sum_overflowed(error):
            raise
        pairs = [(bot_id, date.fromisoformat(day)) for bot_id, day in session.many(CLOSED_TRADE_DAYS, days)]
        return [DailyPnl(bot_id, day, _summed_in_python(session, bot_id, day)) for bot_id, day in pairs]
    result = []
    for bot_id, day_text, units, widest, inexact in rows:
        day = date.fromisoformat(day_text)
        result.append(DailyPnl(bot_id, day, _exact(session, bot_id, day, units, widest, inexact)))
    return result


def bot_overview(session: Session, today: date) -> list[BotOverview]:
    """Every bot, in id order, with its closed-trade counts, `today`'s realized PnL and its open positions."""
    counts = {bot_id: (int(closed), int(wins), int(losses)) for bot_id, closed, wins, losses in session.many(BOT_CLOSED_STATS, {})}
    opened = {bot_id: int(count) for bot_id, count in session.many(OPEN_POSITIONS_BY_BOT, {})}
    try:
        rows = session.many(PNL_ON_DAY, {"day": today.isoformat()})
        todays = {bot_id: _exact(session, bot_id, today, units, widest, inexact) for bot_id, units, widest, inexact in rows}
    except Exception as error:
        if not session.sum_overflowed(error):
            raise
        todays = {bot_id: _summed_in_python(session, bot_id, today) for bot_id in counts}
    overview = []
    for row in session.many(LIST_BOTS, {"status": None}):
        bot = bot_from_row(row)
        closed, wins, losses = counts.get(bot.id, (0, 0, 0))
        overview.append(BotOverview(bot, closed, wins, losses, todays.get(bot.id, _units(0)), opened.get(bot.id, 0)))
    return overview


def daily_pnl(session: Session, bot_id: str | None) -> list[DailyPnl]:
    """Realized PnL per bot and UTC exit day, oldest day first (bots in id order within a day), of one bot or of all."""
    if bot_id is None:
        return _day_sums(session, DAILY_PNL, {}, {"bot_id": None})
    return _day_sums(session, DAILY_PNL_OF_BOT, {"bot_id": bot_id}, {"bot_id": bot_id})


def closed_trades_page(
    session: Session, where: ClosedTradeFilter, sort: str, descending: bool, page: int, page_size: int
) -> TradePage:
    """One page (from 1) of the matching closed trades in the given order, and how many match in all."""
    family = SORTS[sort]
    params = {**where.times(), "limit": page_size, "offset": (page - 1) * page_size}
    if family == "exit" and params["offset"] >= DEEP_OFFSET:
        days = _per_day(session, where)
        total = sum(trades for _, trades in days)
        seek = _day_seek(days, descending, params["offset"])
        if seek is None:  # past the last match
            return TradePage([], total, page, page_size)
        params.update(seek)
    else:
        total = _count(session, where)
    if family == "exit" and where.bot_id is not None:
        query = PAGE_OF_BOT_QUERIES[descending]
    elif family in ("net_pnl", "pnl_percentage") and where.since is None and where.until is None:
        query = UNDATED_PAGE_QUERIES[(family, descending)]
        if where != ClosedTradeFilter():
            walked = _count(session, ClosedTradeFilter()) * (params["offset"] + page_size) / max(total, 1)
            if walked > WALK_LIMIT:
                query = SCANNED_PAGE_QUERIES[(family, descending)]
    elif family != "exit" and where.since is None and where.until is None:
        query = UNDATED_PAGE_QUERIES[(family, descending)]
    else:
        query = PAGE_QUERIES[(family, descending)]
    trades = [trade_from_row(row) for row in session.many(query, params)]
    return TradePage(trades, total, page, page_size)


def _count(session: Session, where: ClosedTradeFilter) -> int:
    """How many closed trades match, from closed_trade_stats."""
    if where == ClosedTradeFilter():
        return int(session.one(CLOSED_TRADE_COUNT_ALL, {})[0])
    return int(session.one(CLOSED_TRADE_COUNT if where.bot_id is None else CLOSED_TRADE_COUNT_OF_BOT, where.days())[0])


def _per_day(session: Session, where: ClosedTradeFilter) -> list[tuple[str, int]]:
    """The matching closed trades per UTC exit day ('YYYY-MM-DD'), oldest day first, from closed_trade_stats."""
    if where.bot_id is not None:
        return [(day, int(trades)) for day, trades in session.many(CLOSED_TRADES_PER_DAY_OF_BOT, where.days())]
    query, params = (CLOSED_TRADES_PER_DAY_ALL, {}) if where == ClosedTradeFilter() else (CLOSED_TRADES_PER_DAY, where.days())
    days: dict[str, int] = {}
    for day, trades in session.many(query, params):  # per bot and day
        days[day] = days.get(day, 0) + int(trades)
    return sorted(days.items())


def _day_seek(days: list[tuple[str, int]], descending: bool, offset: int) -> dict[str, Any] | None:
    """Where the row `offset` (from 0) of the exit order lies: the day it is in as the bound that starts the order
    there (until the next day for newest first, since that day for oldest first), and its offset from that bound;
    None when there are no more than `offset` rows.

    Only the bound on the side the order starts from moves, and only inward (the day holds matching trades, so it
    is within since and until), so the rows from it on are the same rows in the same order.
    """
    skipped = 0
    for day, trades in reversed(days) if descending else days:
        if skipped + trades > offset:
            start = date.fromisoformat(day)
            bound = {"until": day_start(start, 1)} if descending else {"since": day_start(start)}
            return {**bound, "offset": offset - skipped}
        skipped += trades
    return None


def closed_trades_after(
    session: Session, where: ClosedTradeFilter, after: tuple[str, str] | None, limit: int
) -> tuple[list[Trade], tuple[str, str] | None]:
    """Up to `limit` matching closed trades in exit order after position `after`; and the position after them (None: no more)."""
    after_time, after_id = after if after is not None else (None, None)
    params = {**where.times(), "after_time": after_time, "after_id": after_id, "limit": limit}
    query = CLOSED_TRADES_AFTER if where.bot_id is None else CLOSED_TRADES_OF_BOT_AFTER
    trades = [trade_from_row(row) for row in session.many(query, params)]
    if len(trades) < limit:
        return trades, None
    last = trades[-1]
    return trades, (time_to_text(last.exit_time), last.id)  # type: ignore[arg-type]


def pnl_distribution(session: Session, where: ClosedTradeFilter) -> PnlDistribution:
    """The matching closed trades counted per pnl_percentage bucket, every bucket in order; and those without one."""
    query = PNL_DISTRIBUTION if where.bot_id is None else PNL_DISTRIBUTION_OF_BOT
    counts = {int(bucket): int(trades) for bucket, trades in session.many(query, where.days())}
    bounds = (None, *BUCKET_EDGES, None)
    buckets = [PnlBucket(bounds[i], bounds[i + 1], counts.get(i, 0)) for i in range(len(BUCKET_EDGES) + 1)]
    return PnlDistribution(buckets, counts.get(NO_PERCENTAGE, 0))


def traded_symbols(session: Session) -> list[str]:
    """Every symbol with a closed or an open trade, in order."""
    return [symbol for (symbol,) in session.many(TRADED_SYMBOLS, {})]
