"""`tradedb demo` at a small size: a crash with positions open, their recovery, stored metrics, determinism."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import asdict
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

import tradedb
from tradedb.cli.market import SYMBOLS
from tradedb.cli.paperbot import build_market
from tradedb.cli.strategies import atr_price

SMALL = ["--bots", "2", "--days", "4", "--seed", "3"]  # the victim holds a position when it is killed
TRADE_ID = re.compile(r"trade ([0-9a-f-]{36})$")


def demo(database: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "TRADEDB_DATABASE"}
    done = subprocess.run([sys.executable, "-m", "tradedb", "demo", *args, "--database", str(database)],
                          cwd=database.parent, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def section(out: str, start: str, end: str) -> tuple[str, list[str]]:
    """The header line starting a section and the trade ids listed under it."""
    lines = out.splitlines()
    first = next(i for i, line in enumerate(lines) if start in line)
    ids = []
    for line in lines[first + 1:]:
        if end in line:
            break
        found = TRADE_ID.search(line.strip())
        if found:
            ids.append(found[1])
    return lines[first], ids


async def read_back(path: Path) -> dict[str, object]:
    async with tradedb.connect(path, migrate=False) as repo:
        bots = [bot for bot in await repo.list_bot_instances()]
        trades = {}
        for bot in bots:
            for trade in await repo.get_open_trades(bot_id=bot.id) + await repo.get_closed_trades(bot_id=bot.id):
                trades[trade.id] = trade
        stored = {bot.id: await repo.get_performance_metrics(bot.id) for bot in bots}
        fresh = {bot.id: await repo.calculate_performance_metrics(bot.id, store=False) for bot in bots}
        return {"bots": bots, "trades": trades, "stored": stored, "fresh": fresh}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    return path, demo(path, *SMALL)


def test_the_killed_bots_positions_are_recovered(small):
    path, out = small
    crash, held = section(out, "CRASH:", "RESTART:")
    _, recovered = section(out, "RESTART:", "the same trades")
    assert held and sorted(held) == sorted(recovered)
    assert "the same trades the killed bot held: yes" in out
    crashed_at = datetime.fromisoformat(crash.split()[0])
    victim = crash.split()[2]
    trades = asyncio.run(read_back(path))["trades"]
    for trade_id in recovered:
        trade = trades[trade_id]
        # Open when the bot died: entered by then, and not closed before it.
        assert trade.bot_id == victim and trade.entry_time <= crashed_at
        assert trade.exit_time is None or trade.exit_time > crashed_at


def test_trades_are_on_the_hour_and_the_books_add_up(small):
    path, _ = small
    found = asyncio.run(read_back(path))
    assert len(found["bots"]) == 2 and {bot.status for bot in found["bots"]} == {"stopped"}
    for trade in found["trades"].values():
        for moment in (trade.entry_time, trade.exit_time):
            assert moment is None or (moment.minute, moment.second, moment.microsecond) == (0, 0, 0)
    for bot in found["bots"]:
        closed = [t for t in found["trades"].values() if t.bot_id == bot.id and t.status == "closed"]
        assert closed, bot.id
        assert bot.total_pnl == sum(t.net_pnl for t in closed)
        assert bot.current_balance == 10000 + bot.total_pnl and bot.last_heartbeat is not None


def test_metrics_are_stored_once_per_bot_and_match_the_trades(small):
    path, out = small
    found = asyncio.run(read_back(path))
    for bot in found["bots"]:
        (stored,) = found["stored"][bot.id]
        fresh = found["fresh"][bot.id]
        closed = sum(1 for t in found["trades"].values() if t.bot_id == bot.id and t.status == "closed")
        assert stored.total_trades == closed
        ignore = {"id", "calculated_at", "created_at", "extra_metadata"}
        assert {k: v for k, v in asdict(stored).items() if k not in ignore} == \
               {k: v for k, v in asdict(fresh).items() if k not in ignore}
        assert bot.id in out and format(stored.max_drawdown, "f") in out


TIMES = ("entry_time", "exit_time", "buy_order_created", "buy_order_closed", "sell_order_created", "sell_order_closed")


def export(path: Path, out: str | None = None) -> list[dict[str, object]]:
    """Every trade (without created_at, updated_at); with the demo's output, times as hours since its market began."""
    done = subprocess.run([sys.executable, "-m", "tradedb", "export", "trades", "--format", "jsonl",
                           "--database", str(path)], capture_output=True, text=True, timeout=60)
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    if out is not None:
        start = market_start(out)
        for row in rows:
            for name in TIMES:
                if row[name] is not None:
                    row[name] = (datetime.fromisoformat(str(row[name])) - start) / timedelta(hours=1)
    return sorted(({k: v for k, v in row.items() if k not in ("created_at", "updated_at")} for row in rows),
                  key=lambda row: row["id"])


def market_start(out: str) -> datetime:
    """The first traded hour, as the demo prints it."""
    return datetime.fromisoformat(re.search(r"hourly candles from (\S+) to ", out)[1])


def test_the_same_seed_gives_the_same_trades(small, tmp_path):
    path, out = small
    again = tmp_path / "again.db"
    # The market ends at the current hour: runs an hour apart trade the same, shifted in time.
    assert export(again, demo(again, *SMALL)) == export(path, out)
    other = tmp_path / "other.db"
    assert export(other, demo(other, "--bots", "2", "--days", "4", "--seed", "4")) != export(path, out)


def test_the_market_ends_at_the_current_hour_and_a_seed_only_shifts_in_time():
    before = datetime.now(timezone.utc)
    market = build_market(3, 2)
    after = datetime.now(timezone.utc)
    last = next(iter(market.candles.values()))[-1].close_time
    assert last in {moment.replace(minute=0, second=0, microsecond=0) for moment in (before, after)}
    assert market.start == last - timedelta(days=2)
    end = datetime(2031, 6, 1, 5, tzinfo=timezone.utc)
    one, other = build_market(3, 2, end), build_market(3, 2, end + timedelta(hours=7))
    for symbol, candles in one.candles.items():
        shifted = [replace(c, time=c.time + timedelta(hours=7)) for c in candles]
        assert shifted == other.candles[symbol] and candles[-1].close_time == end
    assert one.signals == other.signals


def test_the_demos_data_is_recent_so_retention_and_date_filters_keep_it(small):
    path, out = small

    async def look() -> tuple[dict[str, int], dict[str, object], list[tradedb.Trade]]:
        async with tradedb.connect(path, migrate=False) as repo:
            return (await repo.cleanup_old_data(dry_run=True),
                    await repo.get_trade_summary(since=datetime.now(timezone.utc) - timedelta(days=5)),
                    await repo.get_closed_trades())

    kept, summary, closed = asyncio.run(look())
    assert kept == {"trades": 0, "performance_metrics": 0}
    assert closed and summary["total_trades"] == len(asyncio.run(read_back(path))["trades"])
    assert max(t.exit_time for t in closed) <= datetime.now(timezone.utc)
    assert min(t.entry_time for t in closed) >= market_start(out)


def test_running_twice_adds_a_new_run_and_keeps_the_database_valid(small, tmp_path):
    path, _ = small
    twice = tmp_path / "twice.db"
    twice.write_bytes(path.read_bytes())
    before = export(twice)
    out = demo(twice, *SMALL)
    assert "run 2" in out and "demo2-bot1-" in out
    after = export(twice)
    assert [row for row in after if str(row["bot_id"]).startswith("demo1-")] == before
    assert len(after) == 2 * len(before)
    status = subprocess.run([sys.executable, "-m", "tradedb", "status", "--json", "--database", str(twice)],
                            capture_output=True, text=True, timeout=60)
    assert status.returncode == 0 and json.loads(status.stdout)["ok"] is True


def test_stored_prices_sizes_and_stops_are_exact_decimals_on_the_tick(small):
    path, _ = small
    trades = asyncio.run(read_back(path))["trades"].values()
    assert trades
    for trade in trades:
        tick = Decimal(SYMBOLS[trade.symbol][1])
        for price in (trade.entry_price, trade.exit_price, Decimal(trade.extra_metadata["stop"])):
            assert price is None or price % tick == 0, (trade.id, price)
        assert trade.size % Decimal("0.0001") == 0 and trade.size > 0


def test_atr_prices_are_computed_in_decimal_and_rounded_half_even():
    # 100.02 - 2 x 0.0125 is 99.995 exactly: half-even to the cent is 100.00. In floats it is
    # 99.99499999999999, which rounds to 99.99.
    assert atr_price(Decimal("100.02"), Decimal("-2"), 0.0125, Decimal("0.01")) == Decimal("100.00")
    assert atr_price(Decimal("100.04"), Decimal("2"), 0.0125, Decimal("0.01")) == Decimal("100.06")
    assert atr_price(Decimal("95.5"), Decimal("2.5"), 0.1, Decimal("0.001")) == Decimal("95.750")


@pytest.mark.parametrize("on_path", [False, True])
def test_the_closing_hint_gives_commands_that_run(tmp_path, on_path):
    script = Path(sys.executable).with_name("tradedb")
    folders = [f for f in os.environ.get("PATH", "").split(os.pathsep) if f and Path(f) != script.parent]
    path = os.pathsep.join([str(script.parent)] * on_path + folders)
    env = {**{k: v for k, v in os.environ.items() if k != "TRADEDB_DATABASE"}, "PATH": path}
    done = subprocess.run([str(script), "demo", "--bots", "1", "--days", "2", "--database", "my demo.db"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    hint = next(line for line in done.stdout.splitlines() if "Look around: " in line).split("Look around: ")[1]
    commands = hint.split("; ")
    assert commands[0].startswith("tradedb bots" if on_path else f"{shlex.quote(str(script))} bots")
    outputs = []
    for command in commands[:3]:  # bots, trades --open, summary
        ran = subprocess.run(command, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        assert ran.returncode == 0 and ran.stderr == "", (command, ran.stderr)
        outputs.append(ran.stdout)
    assert "demo1-bot1-" in outputs[0] and "total_trades" in outputs[2]
