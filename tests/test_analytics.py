"""Analytics: the trade summary and performance metrics, checked against hand-computed figures."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

import tradedb
from conftest import trade_data

D = Decimal
UTC = timezone.utc


def at(day: int, hour: int = 0) -> datetime:
    """A time in March 2024, UTC."""
    return datetime(2024, 3, day, hour, tzinfo=UTC)


def closed(bot_id: str, direction: str, entry: str, exit_: str, size: str, exit_time: datetime, **more: Any) -> dict[str, Any]:
    """A trade imported as closed: tradedb computes its PnL as close_trade would."""
    data = trade_data(
        bot_id=bot_id, direction=direction, entry_price=entry, exit_price=exit_, size=size,
        status="closed", entry_time=exit_time - timedelta(hours=1), exit_time=exit_time,
    )
    data.update(more)
    return data


# Trade summary -----------------------------------------------------------

# Closed PnL, by hand (net = gross - commission):
#   T1 bot-1 BTCUSDT long  100 -> 110 x 2,      fee 1          gross 20      net 19
#   T2 bot-1 BTCUSDT short 200 -> 210 x 0.5,    fee 0.25       gross -5      net -5.25
#   T3 bot-1 ETHUSDT long   50 ->  50 x 1,      no fee         gross 0       net 0 (neither wins nor loses)
#   T6 bot-2 BTCUSDT long 1000 -> 1000.5 x 0.01, fee 0.00000001 gross 0.005 net 0.00499999 (live)
# T4 bot-1 ETHUSDT is open (entered 4 March), T5 bot-1 BTCUSDT cancelled (entered 5 March).
SUMMARY_TRADES = [
    closed("bot-1", "long", "100", "110", "2", at(1, 6), entry_time=at(1), commission="1"),
    closed("bot-1", "short", "200", "210", "0.5", at(2, 12), entry_time=at(2), commission="0.25"),
    closed("bot-1", "long", "50", "50", "1", at(3, 6), entry_time=at(3), symbol="ETHUSDT"),
    trade_data(symbol="ETHUSDT", entry_time=at(4)),
    trade_data(entry_time=at(5), status="cancelled"),
    closed("bot-2", "long", "1000", "1000.5", "0.01", at(6), entry_time=at(1, 12), commission="0.00000001",
           trade_type="live"),
]

ZERO = {"total_gross_pnl": D(0), "total_net_pnl": D(0), "total_commission": D(0)}


@pytest.fixture
async def summary_trades(repo, bot):
    await repo.create_bot_instance({"id": "bot-2", "type": "live"})
    await repo.create_trades(SUMMARY_TRADES)


@pytest.mark.parametrize(
    "filters, expected",
    [
        ({}, dict(total_trades=6, open_trades=1, closed_trades=4, cancelled_trades=1, winning_trades=2,
                  losing_trades=1, win_rate=D("50.00"), total_gross_pnl=D("15.005"),
                  total_net_pnl=D("13.75499999"), total_commission=D("1.25000001"),
                  first_entry_time=at(1), last_exit_time=at(6))),
        ({"bot_id": "bot-1"}, dict(total_trades=5, open_trades=1, closed_trades=3, cancelled_trades=1,
                                   winning_trades=1, losing_trades=1, win_rate=D("33.33"), total_gross_pnl=D(15),
                                   total_net_pnl=D("13.75"), total_commission=D("1.25"),
                                   first_entry_time=at(1), last_exit_time=at(3, 6))),
        ({"symbol": "ETHUSDT"}, dict(total_trades=2, open_trades=1, closed_trades=1, cancelled_trades=0,
                                     winning_trades=0, losing_trades=0, win_rate=D("0.00"), **ZERO,
                                     first_entry_time=at(3), last_exit_time=at(3, 6))),
        ({"trade_type": "live"}, dict(total_trades=1, open_trades=0, closed_trades=1, cancelled_trades=0,
                                      winning_trades=1, losing_trades=0, win_rate=D("100.00"),
                                      total_gross_pnl=D("0.005"), total_net_pnl=D("0.00499999"),
                                      total_commission=D("0.00000001"), first_entry_time=at(1, 12),
                                      last_exit_time=at(6))),
        # since is inclusive and until exclusive, both on entry_time: T2, T3 and T4.
        ({"since": at(2), "until": at(5)}, dict(total_trades=3, open_trades=1, closed_trades=2, cancelled_trades=0,
                                                winning_trades=0, losing_trades=1, win_rate=D("0.00"),
                                                total_gross_pnl=D(-5), total_net_pnl=D("-5.25"),
                                                total_commission=D("0.25"), first_entry_time=at(2),
                                                last_exit_time=at(3, 6))),
        ({"bot_id": "bot-1", "since": "2024-03-05T00:00:00+00:00"}, dict(
            total_trades=1, open_trades=0, closed_trades=0, cancelled_trades=1, winning_trades=0, losing_trades=0,
            win_rate=None, **ZERO, first_entry_time=at(5), last_exit_time=None)),
        ({"bot_id": "nobody"}, dict(total_trades=0, open_trades=0, closed_trades=0, cancelled_trades=0,
                                    winning_trades=0, losing_trades=0, win_rate=None, **ZERO,
                                    first_entry_time=None, last_exit_time=None)),
    ],
)
@pytest.mark.parametrize("computed_in", ["sql", "python"])
async def test_trade_summary_counts_and_sums_exactly(repo, summary_trades, filters, expected, computed_in, monkeypatch):
    if computed_in == "python":  # as for amounts too large to sum in SQL
        monkeypatch.setattr(tradedb.analytics, "WIDEST_SUMMED_IN_SQL", 0)
    summary = await repo.get_trade_summary(**filters)
    assert summary == expected
    for name in ("win_rate", "total_gross_pnl", "total_net_pnl", "total_commission"):
        assert summary[name] is None or isinstance(summary[name], Decimal), name


@pytest.mark.parametrize(
    "nets, total",
    [
        (["0.1"] * 10, "1"),  # 0.1 ten times: exactly 1, as no float would give
        (["-0.5", "0.25"], "-0.25"),  # a negative amount whose integer part is 0
        (["-1.99999999", "-0.00000001", "3"], "1"),
        (["999999999999.99999999"] * 3 + ["-0.00000003"], "2999999999999.99999994"),
        (["-123456789012.12345678", "123456789012.12345677"], "-0.00000001"),
    ],
)
async def test_summary_sums_are_exact(repo, bot, nets, total):
    await repo.create_trades([
        closed("bot-1", "long", "1", "1", "1", at(1), net_pnl=net, gross_pnl=net) for net in nets
    ])
    summary = await repo.get_trade_summary()
    assert summary["total_net_pnl"] == summary["total_gross_pnl"] == D(total)


@pytest.mark.parametrize(
    "exit_price, size, count, gross",
    [
        # (10^12 - 2) x (10^12 - 1): 24 integer digits, too wide to CAST, summed in Python.
        ("999999999999", "999999999999", 1, "999999999997000000000002"),
        # 999999999 x 999999999 = 999999998000000001: 26 digits of 10^-8 units, summed in Python.
        ("1000000000", "999999999", 10, "9999999980000000010"),
        # 99999 x 99999.99999999 fits 18 digits of 10^-8 units, so each is read in SQL,
        # but ten of them pass 2^63 units: SQLite's sum overflows and Python sums them.
        ("100000", "99999.99999999", 10, "99998999999.99000010"),
    ],
)
async def test_summary_sums_stay_exact_beyond_64_bits(repo, bot, exit_price, size, count, gross):
    await repo.create_trades(
        [closed("bot-1", "long", "1", exit_price, size, at(1), commission="0.5") for _ in range(count)]
        + [closed("bot-1", "short", "1", "1.5", "1", at(2))]  # gross and net -0.5
    )
    summary = await repo.get_trade_summary()
    assert summary["total_gross_pnl"] == D(gross) - D("0.5")
    assert summary["total_net_pnl"] == D(gross) - D("0.5") * count - D("0.5")
    assert summary["total_commission"] == D("0.5") * count


@pytest.mark.parametrize("winners, closed_count, win_rate", [(1, 3, "33.33"), (2, 3, "66.67"), (1, 32, "3.12"), (3, 32, "9.38")])
async def test_summary_win_rate_is_rounded_half_even(repo, bot, winners, closed_count, win_rate):
    # 1/32 is 3.125% exactly: half-even gives 3.12 (half-up would give 3.13); 3/32 is 9.375%: 9.38.
    trades = [closed("bot-1", "long", "100", "101", "1", at(1)) for _ in range(winners)]
    trades += [closed("bot-1", "long", "100", "99", "1", at(1)) for _ in range(closed_count - winners)]
    await repo.create_trades(trades)
    assert (await repo.get_trade_summary())["win_rate"] == D(win_rate)


@pytest.mark.parametrize(
    "filters, field",
    [
        ({"trade_type": "backtest"}, "trade_type"),
        ({"since": datetime(2024, 3, 1)}, "since"),
        ({"until": "yesterday"}, "until"),
        ({"bot_id": 7}, "bot_id"),
        ({"symbol": ["BTCUSDT"]}, "symbol"),
    ],
)
async def test_summary_refuses_bad_filters(repo, filters, field):
    with pytest.raises(tradedb.ValidationError) as caught:
        await repo.get_trade_summary(**filters)
    assert caught.value.field == field


# Performance metrics -----------------------------------------------------

# Bot-1 starts with 1000. Its trades, in exit order (created out of order):
#   1 March 10:00  long  100 -> 110 x 10   +100   equity 1100 (peak)
#   1 March 15:00  long  100 ->  95 x 10    -50   equity 1050
#   3 March 09:00  short 100 -> 110 x 10   -100   equity  950: down 150 from 1100 = 13.6364%
#   4 March 12:00  short 100 ->  80 x 10   +200   equity 1150
# Daily returns, 1-4 March: 50/1000, 0/1050, -100/1050, 200/950 = 1/20, 0, -2/21, 4/19;
# mean 1319/31920, sample variance 4165681/254721600, mean/stdev x sqrt(365) = 6.1733.
MIXED = [
    closed("bot-1", "short", "100", "80", "10", at(4, 12)),
    closed("bot-1", "short", "100", "110", "10", at(3, 9)),
    closed("bot-1", "long", "100", "95", "10", at(1, 15)),
    closed("bot-1", "long", "100", "110", "10", at(1, 10)),
]
MIXED_METRICS = dict(
    total_trades=4, winning_trades=2, losing_trades=2, win_rate=D("50.00"), avg_win=D(150), avg_loss=D(-75),
    largest_win=D(200), largest_loss=D(-100), profit_factor=D("2.0000"), total_return=D("15.0000"),
    max_drawdown=D("13.6364"), sharpe_ratio=D("6.1733"),
)

# A short-only bot starting with 500:
#   1 March  short 100 -> 90 x 2, fee 1    +19     equity 519 (peak)
#   2 March  short  50 -> 55 x 4           -20     equity 499: down 20/519 = 3.8536%
#   2 March  short  80 -> 60 x 1, fee 0.5  +19.5   equity 518.5
# profit factor 38.5/20 = 1.925; return 18.5/500 = 3.7%; daily returns 19/500 and -0.5/519:
# mean 9611/519000, variance 102232321/134680500000, Sharpe 12.8412.
SHORTS = [
    closed("bot-2", "short", "100", "90", "2", at(1, 8), commission="1"),
    closed("bot-2", "short", "50", "55", "4", at(2, 9)),
    closed("bot-2", "short", "80", "60", "1", at(2, 17), commission="0.5"),
]
SHORTS_METRICS = dict(
    total_trades=3, winning_trades=2, losing_trades=1, win_rate=D("66.67"), avg_win=D("19.25"), avg_loss=D(-20),
    largest_win=D("19.5"), largest_loss=D(-20), profit_factor=D("1.9250"), total_return=D("3.7000"),
    max_drawdown=D("3.8536"), sharpe_ratio=D("12.8412"),
)

# No losers, starting with 2000: +10 on 1 March, +30 on 5 March. Equity never falls.
# Daily returns 1-5 March: 10/2000, 0, 0, 0, 30/2010; Sharpe 11.7352.
WINNERS = [
    closed("bot-2", "long", "100", "110", "1", at(1, 9)),
    closed("bot-2", "long", "100", "130", "1", at(5, 9)),
]
WINNERS_METRICS = dict(
    total_trades=2, winning_trades=2, losing_trades=0, win_rate=D("100.00"), avg_win=D(20), avg_loss=None,
    largest_win=D(30), largest_loss=None, profit_factor=None, total_return=D("2.0000"), max_drawdown=D("0.0000"),
    sharpe_ratio=D("11.7352"),
)

# One day, starting with 1000: +50 then -20. Equity 1050, then 1030: down 20/1050 = 1.9048%.
# One day of returns has no deviation to measure: no Sharpe ratio.
ONE_DAY = [
    closed("bot-2", "long", "100", "150", "1", at(1, 9)),
    closed("bot-2", "long", "100", "80", "1", at(1, 20)),
]
ONE_DAY_METRICS = dict(
    total_trades=2, winning_trades=1, losing_trades=1, win_rate=D("50.00"), avg_win=D(50), avg_loss=D(-20),
    largest_win=D(50), largest_loss=D(-20), profit_factor=D("2.5000"), total_return=D("3.0000"),
    max_drawdown=D("1.9048"), sharpe_ratio=None,
)


def figures(metrics: tradedb.PerformanceMetrics) -> dict[str, Any]:
    return {name: getattr(metrics, name) for name in MIXED_METRICS}


@pytest.mark.parametrize(
    "bot_id, balance, trades, expected",
    [
        ("bot-1", "1000", MIXED, MIXED_METRICS),
        ("bot-2", "500", SHORTS, SHORTS_METRICS),
        ("bot-2", "2000", WINNERS, WINNERS_METRICS),
        ("bot-2", "1000", ONE_DAY, ONE_DAY_METRICS),
    ],
    ids=["long-and-short", "short-only", "no-losers", "one-day"],
)
async def test_metrics_match_hand_computed_figures(repo, bot_id, balance, trades, expected):
    await repo.create_bot_instance({"id": "bot-1", "type": "paper", "current_balance": "1000"})
    await repo.create_bot_instance({"id": "bot-2", "type": "paper", "current_balance": balance})
    await repo.create_trades(trades)
    metrics = await repo.calculate_performance_metrics(bot_id)
    assert figures(metrics) == expected
    assert metrics.extra_metadata["starting_balance"] == str(D(balance).quantize(D("0.00000001")))
    assert metrics.extra_metadata["starting_balance_from"] == "bot"
    assert metrics.extra_metadata["trade_count"] == len(trades)


async def test_metrics_are_stored_with_their_inputs_and_store_false_stores_nothing(repo, bot):
    await repo.create_trades(MIXED)
    before = datetime.now(UTC)
    preview = await repo.calculate_performance_metrics("bot-1", store=False)
    assert await repo.get_performance_metrics("bot-1") == []
    stored = await repo.calculate_performance_metrics("bot-1", starting_balance="1000")
    assert await repo.get_performance_metrics("bot-1") == [stored]
    assert figures(stored) == figures(preview) == MIXED_METRICS
    assert before <= stored.calculated_at <= datetime.now(UTC)
    assert stored.extra_metadata == {
        "starting_balance": "1000.00000000", "starting_balance_from": "argument", "trade_type": None,
        "since": None, "until": None, "trade_count": 4,
        "first_exit_time": "2024-03-01T10:00:00.000000Z", "last_exit_time": "2024-03-04T12:00:00.000000Z",
    }


async def test_metrics_without_a_starting_balance_leave_out_what_needs_one(repo):
    await repo.create_bot_instance({"id": "bot-1", "type": "paper"})  # keeps no balance
    await repo.create_trades(MIXED)
    metrics = await repo.calculate_performance_metrics("bot-1")
    assert (metrics.total_return, metrics.max_drawdown, metrics.sharpe_ratio) == (None, None, None)
    assert metrics.profit_factor == D(2) and metrics.win_rate == D(50)
    assert metrics.extra_metadata["starting_balance"] is None
    given = await repo.calculate_performance_metrics("bot-1", starting_balance=Decimal("1000"))
    assert figures(given) == MIXED_METRICS


@pytest.mark.parametrize(
    "filters, trade_count, net_total",
    [
        ({"trade_type": "live"}, 0, D(0)),  # a paper bot's trades are all paper
        ({"trade_type": "paper"}, 4, D(150)),
        # since (inclusive) and until (exclusive) bound exit_time.
        ({"since": at(1, 15), "until": at(4, 12)}, 2, D(-150)),
        ({"since": at(4)}, 1, D(200)),
    ],
)
async def test_metrics_filter_the_trades_they_use(repo, bot, filters, trade_count, net_total):
    await repo.create_trades(MIXED)
    metrics = await repo.calculate_performance_metrics("bot-1", store=False, **filters)
    assert metrics.total_trades == metrics.extra_metadata["trade_count"] == trade_count
    assert metrics.total_return == net_total / 1000 * 100
    assert {k: metrics.extra_metadata[k] for k in filters} == {
        k: v if isinstance(v, str) else v.isoformat(timespec="microseconds").replace("+00:00", "Z")
        for k, v in filters.items()
    }


async def test_a_bot_without_closed_trades(repo, bot):
    await repo.create_trade(trade_data())
    metrics = await repo.calculate_performance_metrics("bot-1")
    assert figures(metrics) == dict(
        total_trades=0, winning_trades=0, losing_trades=0, win_rate=None, avg_win=None, avg_loss=None,
        largest_win=None, largest_loss=None, profit_factor=None, total_return=D(0), max_drawdown=D(0),
        sharpe_ratio=None,
    )


@pytest.mark.parametrize(
    "trades, sharpe, drawdown",
    [
        # Equity at the start of 2 March is 100 - 150 = -50: no return can be measured against it.
        ([closed("bot-1", "short", "100", "250", "1", at(1)),
          closed("bot-1", "long", "100", "110", "1", at(2))], None, D("150.0000")),
        # +10 on 100, then +11 on 110: both days return 10%, so the deviation is zero.
        ([closed("bot-1", "long", "100", "110", "1", at(1)),
          closed("bot-1", "long", "100", "111", "1", at(2))], None, D(0)),
    ],
    ids=["equity-below-zero", "zero-deviation"],
)
async def test_sharpe_ratio_is_none_when_it_cannot_be_measured(repo, trades, sharpe, drawdown):
    await repo.create_bot_instance({"id": "bot-1", "type": "paper", "current_balance": "100"})
    await repo.create_trades(trades)
    metrics = await repo.calculate_performance_metrics("bot-1")
    assert (metrics.sharpe_ratio, metrics.max_drawdown) == (sharpe, drawdown)


async def test_a_bot_that_lost_everything_has_no_starting_balance_to_measure_against(repo):
    await repo.create_bot_instance({"id": "bot-1", "type": "paper", "current_balance": "0"})
    metrics = await repo.calculate_performance_metrics("bot-1")
    assert metrics.total_return is None and metrics.extra_metadata["starting_balance_from"] is None


@pytest.mark.parametrize(
    "kwargs, error, field",
    [
        ({"bot_id": "nobody"}, tradedb.NotFoundError, None),
        ({"bot_id": "bot-1", "starting_balance": 0}, tradedb.ValidationError, "starting_balance"),
        ({"bot_id": "bot-1", "starting_balance": "-5"}, tradedb.ValidationError, "starting_balance"),
        ({"bot_id": "bot-1", "starting_balance": "lots"}, tradedb.ValidationError, "starting_balance"),
        ({"bot_id": "bot-1", "trade_type": "backtest"}, tradedb.ValidationError, "trade_type"),
        ({"bot_id": "bot-1", "since": datetime(2024, 3, 1)}, tradedb.ValidationError, "since"),
        ({"bot_id": ""}, tradedb.ValidationError, "bot_id"),
    ],
)
async def test_metrics_refuse_bad_input_and_store_nothing(repo, bot, kwargs, error, field):
    with pytest.raises(error) as caught:
        await repo.calculate_performance_metrics(**kwargs)
    if field is not None:
        assert caught.value.field == field
    assert await repo.get_performance_metrics("bot-1") == []
