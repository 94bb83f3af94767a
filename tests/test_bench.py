"""The benchmark's own checks, on a few rows: the floor and tradedb store and return the same, and a difference is caught.

Timing is never tested here (targets live in bench/run.py). SQLAlchemy is
only in the bench extra, so its implementation is checked when installed.
"""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import data  # noqa: E402
from impl_floor import Floor  # noqa: E402
from impl_tradedb import TradeDB  # noqa: E402

BOTS = data.bot_ids(3)


def closed_as_close_trade_leaves_it(trade: dict, exit_: dict) -> tuple:
    closed = data.settle(trade, exit_)
    closed["sell_order_created"] = closed["sell_order_closed"] = None
    return data.normalize(closed)


async def open_all(tmp_path: Path) -> list:
    impls = [Floor.create(tmp_path / "floor.db", BOTS), await TradeDB.create(tmp_path / "tradedb.db", BOTS)]
    try:
        from impl_sqlalchemy import SQLAlchemyORM
    except ImportError:
        return impls
    return [*impls, await SQLAlchemyORM.create(tmp_path / "sqlalchemy.db", BOTS)]


async def close_all(impls: list) -> None:
    for impl in impls:
        result = impl.close()
        if result is not None:
            await result


async def call(result):
    return await result if hasattr(result, "__await__") else result


async def test_every_implementation_stores_the_generated_rows_and_books(tmp_path: Path) -> None:
    trades = list(data.history(60, BOTS, open_count=6, seed=4))
    expected = [data.normalize(t) for t in trades]
    totals = data.Totals()
    for t in trades:
        totals.add(t)
    impls = await open_all(tmp_path)
    try:
        for impl in impls:
            await call(impl.bulk_load(trades))
            got = [data.normalize(row) for row in await call(impl.all_trades())]
            assert data.compare_rows(expected, got) is None, impl.name
            books = await call(impl.bot_books())
            assert {b: Decimal(books[b]) for b in BOTS} == {b: totals.by_bot[b] for b in BOTS}, impl.name
    finally:
        await close_all(impls)


async def test_closing_gives_the_expected_arithmetic(tmp_path: Path) -> None:
    pairs = data.lifecycles(20, BOTS[0], seed=6)
    expected = [closed_as_close_trade_leaves_it(t, e) for t, e in pairs]
    impls = await open_all(tmp_path)
    try:
        for impl in impls:
            for trade, exit_ in pairs:
                await call(impl.create_trade(trade))
                await call(impl.close_trade(trade["id"], **exit_))
            got = [data.normalize(row) for row in await call(impl.all_trades())]
            assert data.compare_rows(expected, got) is None, impl.name
    finally:
        await close_all(impls)


async def test_summaries_are_checked_exactly(tmp_path: Path) -> None:
    trades = list(data.history(40, BOTS, open_count=4, seed=8))
    totals = data.Totals()
    for t in trades:
        totals.add(t)
    floor = Floor.create(tmp_path / "floor.db", BOTS)
    impl = await TradeDB.create(tmp_path / "tradedb.db", BOTS)
    try:
        floor.bulk_load(trades)
        await impl.bulk_load(trades)
        assert data.compare_summary(totals.summary(), floor.summary_exact()) == (True, "exact")
        if impl.has_summary():
            assert data.compare_summary(totals.summary(), await impl.summary()) == (True, "exact")
        off = dict(totals.summary(), total_net_pnl=totals.summary()["total_net_pnl"] + Decimal("0.00000001"))
        exact, detail = data.compare_summary(totals.summary(), off)
        assert not exact and "total_net_pnl off by 1.00E-8" in detail
    finally:
        floor.close()
        await impl.close()


def test_a_difference_is_caught() -> None:
    trades = list(data.history(5, BOTS, seed=4))
    expected = [data.normalize(t) for t in trades]
    changed = [dict(t) for t in trades]
    changed[2]["net_pnl"] += Decimal("0.00000001")
    problem = data.compare_rows(expected, [data.normalize(t) for t in changed])
    assert problem is not None and "net_pnl" in problem
    assert data.compare_rows(expected, expected[:4]) == "4 rows, expected 5"


@pytest.mark.parametrize("value", [Decimal("1.10000000"), 1.1, "1.1"])
def test_normalize_reads_every_form_of_a_number_alike(value: object) -> None:
    base = data.normalize(next(data.history(1, BOTS, seed=4)))
    row = dict(zip(data.TRADE_COLUMNS, base), size=value)
    assert data.normalize(row)[data.TRADE_COLUMNS.index("size")] == "1.10000000"
