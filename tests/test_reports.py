"""Reports over the whole database (what the dashboard shows), on both backends: exact, filtered, paged, checked."""

from __future__ import annotations

import asyncio
import random
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

import tradedb
from tradedb import reports
from tradedb.reports import BUCKET_EDGES

from conftest import trade_data

UTC = timezone.utc
DAY = datetime(2024, 3, 1, tzinfo=UTC)


async def seed(repo: tradedb.Repository, *, trades: int = 120, seed: int = 3) -> list[tradedb.Trade]:
    """Three bots (two paper, one live) with closed, open and cancelled trades over ten days and three symbols."""
    rng = random.Random(seed)
    await repo.create_bot_instance({"id": "alpha", "type": "paper", "current_balance": "1000"})
    await repo.create_bot_instance({"id": "beta", "type": "paper", "current_balance": "2500.5"})
    await repo.create_bot_instance({"id": "gamma", "type": "live", "current_balance": "99.12345678"})
    bots = {"alpha": "paper", "beta": "paper", "gamma": "live"}
    rows = []
    for n in range(trades):
        bot_id = rng.choice(list(bots))
        entry = DAY + timedelta(hours=rng.randrange(240), microseconds=rng.randrange(10**6))
        data = trade_data(
            bot_id=bot_id, trade_type=bots[bot_id], symbol=rng.choice(["BTCUSDT", "ETHUSDT", "SOLUSDT"]),
            entry_time=entry, entry_price=str(Decimal(rng.randrange(1, 10**9)).scaleb(-4)),
            size=str(Decimal(rng.randrange(1, 10**7)).scaleb(-6)),
            direction=rng.choice(["long", "short"]),
        )
        if n % 7 != 0:
            exit_time = entry + timedelta(hours=rng.randrange(1, 48), microseconds=rng.randrange(10**6))
            data.update(status="closed", exit_time=exit_time,
                        exit_price=str(Decimal(data["entry_price"]) * Decimal(rng.randrange(60, 140)) / 100),
                        commission=str(Decimal(rng.randrange(0, 10**6)).scaleb(-8)))
        rows.append(data)
    created = await repo.create_trades(rows)
    # One cancelled trade: not counted anywhere as closed.
    cancel = next(t for t in created if t.status == "open")
    await repo.cancel_trade(cancel.id, reason="test")
    return created


def closed(trades: list[tradedb.Trade], **where: Any) -> list[tradedb.Trade]:
    found = [t for t in trades if t.status == "closed"]
    for key, value in where.items():
        found = [t for t in found if getattr(t, key) == value]
    return found


async def stored(repo: tradedb.Repository) -> list[tradedb.Trade]:
    return [trade async for trade in repo.iter_trades()]


async def test_overview_counts_and_today_are_exact(repo: tradedb.Repository) -> None:
    await seed(repo)
    trades = await stored(repo)
    today = max(t.exit_time for t in closed(trades)).date()  # type: ignore[union-attr]
    overview = {row.bot.id: row for row in await repo.get_bot_overview(today)}
    assert sorted(overview) == ["alpha", "beta", "gamma"]
    for bot_id, row in overview.items():
        mine = closed(trades, bot_id=bot_id)
        summary = await repo.get_trade_summary(bot_id=bot_id)
        assert row.closed_trades == summary["closed_trades"] == len(mine)
        assert row.wins == summary["winning_trades"] and row.losses == summary["losing_trades"]
        assert row.open_positions == summary["open_trades"]
        assert row.today_pnl == sum((t.net_pnl for t in mine if t.exit_time.date() == today), Decimal(0))  # type: ignore
        assert row.win_rate == (None if not mine else (Decimal(row.wins) * 100 / len(mine)).quantize(Decimal("0.01")))
        assert row.bot.total_pnl == sum((t.net_pnl for t in mine), Decimal(0))  # type: ignore[misc]


async def test_overview_of_a_bot_without_trades(repo: tradedb.Repository) -> None:
    await repo.create_bot_instance({"id": "idle", "type": "paper"})
    [row] = await repo.get_bot_overview()
    assert (row.closed_trades, row.wins, row.losses, row.open_positions, row.win_rate) == (0, 0, 0, 0, None)
    assert row.today_pnl == 0 and format(row.today_pnl, "f") == "0.00000000"


async def test_daily_pnl_sums_to_the_summary(repo: tradedb.Repository) -> None:
    await seed(repo)
    trades = await stored(repo)
    days = await repo.get_daily_pnl()
    assert [(d.day, d.bot_id) for d in days] == sorted((d.day, d.bot_id) for d in days)
    expected: dict[tuple[str, date], Decimal] = {}
    for t in closed(trades):
        key = (t.bot_id, t.exit_time.date())  # type: ignore[union-attr]
        expected[key] = expected.get(key, Decimal(0)) + t.net_pnl  # type: ignore[operator]
    assert {(d.bot_id, d.day): d.net_pnl for d in days} == expected
    total = await repo.get_trade_summary()
    assert sum((d.net_pnl for d in days), Decimal(0)) == total["total_net_pnl"]
    one = await repo.get_daily_pnl("beta")
    assert one == [d for d in days if d.bot_id == "beta"]


@pytest.mark.parametrize("sort", ["exit_time", "entry_time", "net_pnl", "pnl_percentage"])
@pytest.mark.parametrize("descending", [True, False])
async def test_pages_cover_the_filtered_set_in_order(repo: tradedb.Repository, sort: str, descending: bool) -> None:
    await seed(repo)
    trades = await stored(repo)
    for where in ({}, {"bot_id": "alpha"}, {"symbol": "ETHUSDT"}, {"trade_type": "live"},
                  {"since": "2024-03-03", "until": date(2024, 3, 6)}):
        expected = closed(trades, **{k: v for k, v in where.items() if k in ("bot_id", "symbol", "trade_type")})
        if "since" in where:
            expected = [t for t in expected if date(2024, 3, 3) <= t.exit_time.date() <= date(2024, 3, 6)]  # type: ignore
        seen: list[tradedb.Trade] = []
        page = 1
        while True:
            result = await repo.get_closed_trades_page(**where, sort=sort, descending=descending, page=page, page_size=7)
            assert result.total == len(expected) and result.pages == max(1, -(-len(expected) // 7))
            seen += result.trades
            if page >= result.pages:
                break
            page += 1
        assert sorted(t.id for t in seen) == sorted(t.id for t in expected)  # every one, once
        keys = [getattr(t, sort) for t in seen]
        assert keys == sorted(keys, reverse=descending)


FILTERS: list[dict[str, Any]] = [
    {}, {"bot_id": "alpha"}, {"bot_id": "beta", "symbol": "ETHUSDT"}, {"bot_id": "gamma", "trade_type": "live"},
    {"bot_id": "alpha", "trade_type": "live"}, {"bot_id": "beta", "since": "2024-03-03", "until": "2024-03-06"},
    {"bot_id": "gamma", "since": "2024-03-05"}, {"bot_id": "alpha", "until": "2024-03-04"},
    {"bot_id": "nobody"}, {"symbol": "SOLUSDT", "since": "2024-03-02"}, {"trade_type": "paper", "until": "2024-03-07"},
    {"since": "2024-03-04", "until": "2024-03-04"},
]


def matching(trades: list[tradedb.Trade], where: dict[str, Any]) -> list[tradedb.Trade]:
    """The closed trades a report filter matches, worked out here from the trades."""
    found = closed(trades, **{k: v for k, v in where.items() if k in ("bot_id", "symbol", "trade_type")})
    if "since" in where:
        found = [t for t in found if t.exit_time.date() >= date.fromisoformat(where["since"])]  # type: ignore[union-attr]
    if "until" in where:
        found = [t for t in found if t.exit_time.date() <= date.fromisoformat(where["until"])]  # type: ignore[union-attr]
    return found


async def test_csv_iteration_is_every_match_in_exit_order(repo: tradedb.Repository) -> None:
    await seed(repo)
    trades = await stored(repo)
    got = [t async for t in repo.iter_closed_trades(bot_id="beta", page_size=3)]
    assert [t.id for t in got] == [t.id for t in sorted(closed(trades, bot_id="beta"), key=lambda t: (t.exit_time, t.id))]


@pytest.mark.parametrize("where", FILTERS, ids=lambda where: "&".join(f"{k}={v}" for k, v in where.items()) or "all")
async def test_csv_iteration_with_filters_and_positions(repo: tradedb.Repository, where: dict[str, Any]) -> None:
    # closed_trades_after (all bots) and closed_trades_of_bot_after (one bot): pages of 1, 3 and 1000 after a
    # position within since/until give every match once, in (exit_time, id) order.
    await seed(repo)
    expected = [t.id for t in sorted(matching(await stored(repo), where), key=lambda t: (t.exit_time, t.id))]
    for size in (1, 3, 1000):
        assert [t.id async for t in repo.iter_closed_trades(**where, page_size=size)] == expected


@pytest.mark.parametrize("where", FILTERS, ids=lambda where: "&".join(f"{k}={v}" for k, v in where.items()) or "all")
async def test_counts_and_distributions_of_one_bot_or_all(repo: tradedb.Repository, where: dict[str, Any]) -> None:
    # closed_trade_count / pnl_distribution, and their one-bot variants: exact against the trades.
    await seed(repo)
    expected = matching(await stored(repo), where)
    page = await repo.get_closed_trades_page(**where, page_size=1000)
    assert page.total == len(expected) and sorted(t.id for t in page.trades) == sorted(t.id for t in expected)
    found = await repo.get_pnl_distribution(**where)
    for bucket in found.buckets:
        assert bucket.trades == sum(
            1 for t in expected if t.pnl_percentage is not None
            and (bucket.low is None or t.pnl_percentage >= bucket.low)
            and (bucket.high is None or t.pnl_percentage < bucket.high)), bucket.label
    assert found.without_percentage == sum(1 for t in expected if t.pnl_percentage is None)
    assert sum(b.trades for b in found.buckets) + found.without_percentage == len(expected)


async def test_distribution_counts_each_bucket_exactly(repo: tradedb.Repository, bot: tradedb.BotInstance, raw_sql: Any) -> None:
    # pnl_percentage exactly on the edges, and between them; one without a percentage.
    percentages = ["-25", "-20", "-19.9999", "-0.5", "-0.0001", "0", "0.4999", "0.5", "19.9999", "20", "75"]
    rows = []
    for n, pct in enumerate(percentages):
        rows.append(trade_data(status="closed", exit_time=DAY + timedelta(days=1, minutes=n), exit_price="50000",
                               gross_pnl="0", net_pnl="0", pnl_percentage=pct))
    rows.append(trade_data(status="closed", exit_time=DAY + timedelta(days=1), exit_price="50000", gross_pnl="1", net_pnl="1"))
    created = await repo.create_trades(rows)
    raw_sql.execute("UPDATE trades SET pnl_percentage = NULL WHERE id = ?", (created[-1].id,))  # as an old row may be
    found = await repo.get_pnl_distribution()
    edges = [None, *BUCKET_EDGES, None]
    for bucket in found.buckets:
        expected = sum(1 for p in percentages
                       if (bucket.low is None or Decimal(p) >= bucket.low) and (bucket.high is None or Decimal(p) < bucket.high))
        assert bucket.trades == expected, bucket.label
    assert [b.low for b in found.buckets] == edges[:-1] and [b.high for b in found.buckets] == edges[1:]
    assert found.without_percentage == 1
    assert found.buckets[0].label == "< -20%" and found.buckets[-1].label == ">= 20%"
    none = await repo.get_pnl_distribution(since="2030-01-01")
    assert sum(b.trades for b in none.buckets) == 0 and none.without_percentage == 0


async def test_reports_follow_updates_and_deletes(repo: tradedb.Repository, raw_sql: Any) -> None:
    await seed(repo)
    # A closed trade's exit moved by hand in the shell, another deleted: the aggregates follow.
    first, second = [t for t in await stored(repo) if t.status == "closed"][:2]
    raw_sql.execute("UPDATE trades SET net_pnl = '7.00000000', exit_time = ? WHERE id = ?",
                    ("2024-04-01 00:00:00.000000Z", first.id))
    raw_sql.execute("DELETE FROM trades WHERE id = ?", (second.id,))
    trades = await stored(repo)
    days = {(d.bot_id, d.day): d.net_pnl for d in await repo.get_daily_pnl()}
    assert days[(first.bot_id, date(2024, 4, 1))] >= Decimal(7)
    assert sum(days.values()) == sum((t.net_pnl for t in closed(trades)), Decimal(0))  # type: ignore[misc]
    page = await repo.get_closed_trades_page(page_size=1000)
    assert page.total == len(closed(trades)) == len(page.trades)


async def test_symbols(repo: tradedb.Repository, bot: tradedb.BotInstance) -> None:
    assert await repo.get_traded_symbols() == []
    await repo.create_trade(trade_data(symbol="ZZZUSDT"))
    await repo.create_trade(trade_data(symbol="AAAUSDT", status="closed", exit_time=DAY + timedelta(days=1), exit_price="1"))
    # A symbol whose only trade was cancelled is not traded; one with a cancelled and a closed trade is.
    for symbol in ("MMMUSDT", "BBBUSDT"):
        cancelled = await repo.create_trade(trade_data(symbol=symbol))
        await repo.cancel_trade(cancelled.id, reason="test")
    await repo.create_trade(trade_data(symbol="BBBUSDT", status="closed", exit_time=DAY + timedelta(days=2), exit_price="2"))
    await repo.create_trade(trade_data(symbol="AAAUSDT"))  # open and closed: once
    assert await repo.get_traded_symbols() == ["AAAUSDT", "BBBUSDT", "ZZZUSDT"]


async def test_symbols_of_the_seed(repo: tradedb.Repository) -> None:
    await seed(repo)
    trades = await stored(repo)
    assert await repo.get_traded_symbols() == sorted({t.symbol for t in trades if t.status in ("open", "closed")})


@pytest.mark.parametrize(("call", "field"), [
    ({"since": "2024-13-01"}, "since"),
    ({"since": "yesterday"}, "since"),
    ({"until": datetime(2024, 1, 1, tzinfo=UTC)}, "until"),
    ({"since": "2024-03-05", "until": "2024-03-01"}, "since"),
    ({"sort": "id; DROP TABLE trades"}, "sort"),
    ({"page": 0}, "page"),
    ({"page_size": 0}, "page_size"),
    ({"page_size": 1001}, "page_size"),
    ({"trade_type": "real"}, "trade_type"),
    ({"bot_id": "a\x00b"}, "bot_id"),
    ({"descending": "yes"}, "descending"),
])
async def test_bad_arguments_name_their_field(repo: tradedb.Repository, call: dict[str, Any], field: str) -> None:
    with pytest.raises(tradedb.ValidationError) as raised:
        await repo.get_closed_trades_page(**call)
    assert raised.value.field == field


async def test_changes_yield_after_another_connection_commits(database: Any, repo: tradedb.Repository) -> None:
    await repo.create_bot_instance({"id": "watched", "type": "paper"})
    changes = repo.changes(0.05)
    waiter = asyncio.ensure_future(anext(changes))
    await asyncio.sleep(0.5)  # the watcher is listening
    assert not waiter.done()
    async with tradedb.connect(database) as other:
        await other.heartbeat("watched")
    assert await asyncio.wait_for(waiter, 2) >= 1
    await changes.aclose()


@pytest.mark.sqlite_only("a file replaced under an open SQLite database")
async def test_changes_say_when_the_file_was_replaced(database: Any, repo: tradedb.Repository) -> None:
    changes = repo.changes(0.05)
    waiter = asyncio.ensure_future(anext(changes))
    await asyncio.sleep(0.2)
    moved = database.with_name("old.db")
    database.rename(moved)
    async with tradedb.connect(database):
        pass  # a new database at the same path
    with pytest.raises(tradedb.TradeDBError, match="was deleted or replaced while open"):
        await asyncio.wait_for(waiter, 2)
    await changes.aclose()


@pytest.mark.parametrize("deep", [0, 10, 10**9], ids=["by-day-from-page-1", "by-day-from-row-10", "offset-only"])
@pytest.mark.parametrize("descending", [True, False])
@pytest.mark.parametrize("where", FILTERS, ids=lambda where: "&".join(f"{k}={v}" for k, v in where.items()) or "all")
async def test_pages_in_exit_order_found_by_day(repo: tradedb.Repository, monkeypatch: pytest.MonkeyPatch,
                                                where: dict[str, Any], descending: bool, deep: int) -> None:
    # From DEEP_OFFSET rows in, a page in exit order starts from the day its first row is in (closed_trades_per_day
    # and closed_trades_per_day_of_bot): the same rows, in the same (exit_time, id) order, as OFFSET alone gives.
    monkeypatch.setattr(tradedb.reports, "DEEP_OFFSET", deep)
    await seed(repo)
    # Several trades closed at the same instant, so that ties by id cross pages within a day.
    same = datetime(2024, 3, 5, 12, tzinfo=UTC)
    await repo.create_trades([
        trade_data(bot_id=bot_id, trade_type="live" if bot_id == "gamma" else "paper", symbol="ETHUSDT",
                   status="closed", exit_time=same, exit_price="50000", entry_time=same - timedelta(hours=1))
        for bot_id in ("alpha", "beta", "gamma") for _ in range(4)])
    expected = sorted(matching(await stored(repo), where), key=lambda t: (t.exit_time, t.id), reverse=descending)
    for size in (1, 4, 7):
        seen: list[str] = []
        pages = max(1, -(-len(expected) // size))
        for page in range(1, pages + 2):  # and one past the end: empty, with the same total
            result = await repo.get_closed_trades_page(**where, sort="exit_time", descending=descending,
                                                       page=page, page_size=size)
            assert result.total == len(expected) and result.pages == pages
            assert len(result.trades) == (0 if page > pages else min(size, len(expected) - (page - 1) * size))
            seen += [t.id for t in result.trades]
        assert seen == [t.id for t in expected]


@pytest.mark.parametrize("sort", ["entry_time", "net_pnl", "pnl_percentage"])
@pytest.mark.parametrize("descending", [True, False])
async def test_pages_in_other_orders_with_and_without_dates(repo: tradedb.Repository, sort: str, descending: bool) -> None:
    # closed_trades_undated_by_* (no since or until) and closed_trades_by_* (dates): every match once, in the order
    # asked, ties broken by id the same way, missing values last.
    await seed(repo)
    trades = await stored(repo)
    for where in FILTERS:
        present = sorted((t for t in matching(trades, where) if getattr(t, sort) is not None),
                         key=lambda t: (getattr(t, sort), t.id), reverse=descending)
        missing = sorted((t for t in matching(trades, where) if getattr(t, sort) is None), key=lambda t: t.id,
                         reverse=descending)
        seen: list[str] = []
        page = 1
        while True:
            result = await repo.get_closed_trades_page(**where, sort=sort, descending=descending, page=page, page_size=7)
            seen += [t.id for t in result.trades]
            if page >= result.pages:
                break
            page += 1
        assert seen == [t.id for t in present + missing], where


@pytest.mark.parametrize("walk", ["index-walk", "one-pass"])
@pytest.mark.parametrize("sort", ["net_pnl", "pnl_percentage"])
@pytest.mark.parametrize("descending", [True, False])
async def test_amount_orders_are_python_sorts_with_nulls_and_ties(repo: tradedb.Repository, raw_sql: Any,
                                                                  monkeypatch: pytest.MonkeyPatch, sort: str,
                                                                  descending: bool, walk: str) -> None:
    # Migration 0006's indexes order these pages (PostgreSQL reads a descending pnl_percentage in two parts, with and
    # without one), and a filter matching few reads closed_trades_scanned_by_* instead (WALK_LIMIT): either way the
    # same rows as sorting in Python by (amount, id), missing pnl_percentage last, ties broken by id in the order's
    # direction, at every page and filter, with and without dates.
    monkeypatch.setattr(reports, "WALK_LIMIT", 10**12 if walk == "index-walk" else 0)
    created = await seed(repo)
    ids = sorted(t.id for t in created if t.status == "closed")
    for trade_id in ids[::5]:  # no pnl_percentage, as tradedb stores history given without one
        raw_sql.execute("UPDATE trades SET pnl_percentage = NULL WHERE id = ?", [trade_id])
    for trade_id in ids[1::6]:  # ties: equal amounts
        raw_sql.execute(f"UPDATE trades SET {sort} = ? WHERE id = ?", ["1.50000000" if sort == "net_pnl" else "1.5000", trade_id])
    trades = await stored(repo)
    assert any(t.pnl_percentage is None for t in closed(trades))
    for where in [{}, {"bot_id": "alpha"}, {"symbol": "ETHUSDT"}, {"trade_type": "live"},
                  {"since": "2024-03-03", "until": "2024-03-06"}, {"bot_id": "beta", "since": "2024-03-05"}]:
        expected = matching(trades, where)
        present = sorted((t for t in expected if getattr(t, sort) is not None), key=lambda t: (getattr(t, sort), t.id),
                         reverse=descending)
        missing = sorted((t for t in expected if getattr(t, sort) is None), key=lambda t: t.id, reverse=descending)
        for size in (5, 1000):
            seen: list[str] = []
            for page in range(1, -(-len(expected) // size) + 2):  # and one past the end: empty
                result = await repo.get_closed_trades_page(**where, sort=sort, descending=descending, page=page,
                                                           page_size=size)
                assert result.total == len(expected)
                seen += [t.id for t in result.trades]
            assert seen == [t.id for t in present + missing], (where, size)


@pytest.mark.parametrize("sort", ["net_pnl", "pnl_percentage"])
@pytest.mark.parametrize("descending", [True, False])
async def test_amount_orders_without_dates_walk_their_index(repo: tradedb.Repository, raw_sql: Any, backend: str,
                                                            sort: str, descending: bool) -> None:
    # A page sorted by an amount reads the page from idx_closed_trades_<amount>, not every closed trade then a sort
    # (on PostgreSQL, with table scans and sorts priced out: these few rows would be read and sorted otherwise).
    import psycopg

    from tradedb.queries import load_dialect

    await seed(repo)
    query = load_dialect(backend)[f"closed_trades_undated_by_{sort}_{'desc' if descending else 'asc'}"]
    params = query.bind({"bot_id": None, "symbol": None, "trade_type": None, "since": None, "until": None,
                         "limit": 50, "offset": 0})
    if backend == "sqlite":
        text = " | ".join(row[-1] for row in raw_sql.connection.execute("EXPLAIN QUERY PLAN " + query.sql, params))
        assert f"USING INDEX idx_closed_trades_{sort}" in text and "TEMP B-TREE" not in text, text
    else:
        with raw_sql.connection.transaction():
            raw_sql.connection.execute("SET LOCAL enable_seqscan = off")
            raw_sql.connection.execute("SET LOCAL enable_bitmapscan = off")
            raw_sql.connection.execute("SET LOCAL enable_sort = off")
            cursor = psycopg.RawCursor(raw_sql.connection)  # $1, $2: the placeholders tradedb sends
            text = "\n".join(row[0] for row in cursor.execute("EXPLAIN " + query.sql, params))
        assert f"Index Scan{' Backward' if descending else ''} using idx_closed_trades_{sort} " in text, text
        sorts = [line for line in text.splitlines() if "Sort" in line and "Sort Key" not in line]
        # The only sort allowed: of the two parts' pages (a descending pnl_percentage).
        assert len(sorts) == (1 if (sort, descending) == ("pnl_percentage", True) else 0), text
