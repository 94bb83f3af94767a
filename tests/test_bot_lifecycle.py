"""Restart recovery, heartbeats, stale bots and idempotent retries."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

import tradedb
from conftest import ENTRY_TIME, trade_data

D = Decimal


async def test_start_bot_creates_a_new_bot_running(repo):
    before = datetime.now(timezone.utc)
    state = await repo.start_bot({"id": "bot-1", "type": "paper", "current_balance": "1000", "config_file": "a.json"})
    assert isinstance(state, tradedb.BotState) and state.open_trades == []
    bot = state.bot
    assert (bot.status, bot.current_balance, bot.total_pnl, bot.config_file) == ("running", D(1000), 0, "a.json")
    assert before <= bot.started_at == bot.last_heartbeat <= datetime.now(timezone.utc)
    assert await repo.get_bot_instance("bot-1") == bot


async def test_start_bot_resumes_open_positions_oldest_first_and_keeps_the_books(repo):
    await repo.start_bot({"id": "bot-1", "type": "paper", "current_balance": "1000"})
    late = await repo.create_trade(trade_data(entry_time=ENTRY_TIME + timedelta(hours=5)))
    early = await repo.create_trade(trade_data(entry_time=ENTRY_TIME))
    done = await repo.create_trade(trade_data())
    await repo.close_trade(done.id, exit_price="51000")
    await repo.stop_bot("bot-1", "error")
    state = await repo.start_bot({"id": "bot-1"})
    assert [t.id for t in state.open_trades] == [early.id, late.id]
    assert state.open_trades[0] == await repo.get_trade_by_id(early.id)
    assert (state.bot.status, state.bot.total_pnl, state.bot.current_balance) == ("running", D(100), D(1100))


@pytest.mark.parametrize("given", ["1000", "750.5", None])
async def test_restarting_a_bot_keeps_its_books_whatever_balance_is_given(repo, given):
    data = {"id": "bot-1", "type": "paper", "current_balance": "1000"}
    await repo.start_bot(data)
    first = (await repo.get_bot_instance("bot-1")).started_at
    trade = await repo.create_trade(trade_data())
    await repo.close_trade(trade.id, exit_price="51000", commission="2.5")
    state = await repo.start_bot({**data, "current_balance": given})
    assert (state.bot.total_pnl, state.bot.current_balance) == (D("97.5"), D("1097.5"))
    assert state.bot.started_at > first and await repo.get_bot_instance("bot-1") == state.bot
    metrics = await repo.calculate_performance_metrics("bot-1")
    assert metrics.extra_metadata["starting_balance"] == "1000.00000000" and metrics.total_return == D("9.75")


async def test_set_bot_balance_moves_the_balance_and_leaves_total_pnl_to_the_trades(repo):
    await repo.start_bot({"id": "bot-1", "type": "live", "current_balance": "1000"})
    trade = await repo.create_trade(trade_data(trade_type="live"))
    await repo.close_trade(trade.id, exit_price="51000")
    synced = await repo.set_bot_balance("bot-1", "1500.25")
    assert (synced.current_balance, synced.total_pnl) == (D("1500.25"), D(100))
    assert await repo.get_bot_instance("bot-1") == synced
    restarted = await repo.start_bot({"id": "bot-1", "type": "live", "current_balance": "1000"})
    assert (restarted.bot.current_balance, restarted.bot.total_pnl) == (D("1500.25"), D(100))
    for bad in (None, "abc"):
        with pytest.raises(tradedb.ValidationError) as caught:
            await repo.set_bot_balance("bot-1", bad)
        assert caught.value.field == "current_balance"
    with pytest.raises(tradedb.NotFoundError, match="ghost"):
        await repo.set_bot_balance("ghost", "1")


@pytest.mark.parametrize(
    "data, field",
    [
        ({"type": "paper"}, "id"),
        ({"id": "new-bot"}, "type"),
        ({"id": "bot-1", "type": "paper", "status": "stopped"}, "status"),
        ({"id": "bot-1", "type": "paper", "started_at": "2024-01-01T00:00:00Z"}, "started_at"),
        ({"id": "bot-1", "type": "paper", "colour": "red"}, "colour"),
    ],
)
async def test_start_bot_refuses_bad_data(repo, data, field):
    with pytest.raises(tradedb.ValidationError) as caught:
        await repo.start_bot(data)
    assert caught.value.field == field
    assert await repo.list_bot_instances() == []


async def test_start_bot_is_one_transaction(repo):
    await repo.start_bot({"id": "bot-1", "type": "paper"})
    await repo.stop_bot("bot-1")
    with pytest.raises(tradedb.ValidationError):
        await repo.start_bot({"id": "bot-1", "current_balance": "abc"})
    assert (await repo.get_bot_instance("bot-1")).status == "stopped"


@pytest.mark.parametrize("status", ["stopped", "error"])
async def test_stop_bot(repo, bot, status):
    stopped = await repo.stop_bot("bot-1", status)
    assert stopped.status == status and await repo.get_bot_instance("bot-1") == stopped


async def test_stop_bot_refuses_running_and_unknown_bots(repo, bot):
    with pytest.raises(tradedb.ValidationError):
        await repo.stop_bot("bot-1", "running")
    with pytest.raises(tradedb.NotFoundError):
        await repo.stop_bot("ghost")


async def test_heartbeat_sets_time_and_optionally_status_and_never_the_books(repo, bot):
    beat = await repo.heartbeat("bot-1")
    assert beat.last_heartbeat > bot.updated_at - timedelta(seconds=1) and beat.current_balance == D(1000)
    later = await repo.heartbeat("bot-1", status="error")
    assert later.last_heartbeat > beat.last_heartbeat
    assert (later.current_balance, later.total_pnl, later.status) == (D(1000), 0, "error")
    with pytest.raises(TypeError):
        await repo.heartbeat("bot-1", current_balance=D(990))  # set_bot_balance does that, on purpose
    with pytest.raises(tradedb.ValidationError):
        await repo.heartbeat("bot-1", status="asleep")
    with pytest.raises(tradedb.NotFoundError):
        await repo.heartbeat("ghost")


async def test_stale_bots_are_running_bots_silent_for_too_long(repo):
    long_ago = datetime.now(timezone.utc) - timedelta(hours=1)
    await repo.create_bot_instance({"id": "silent", "type": "paper", "last_heartbeat": long_ago})
    await repo.create_bot_instance({"id": "never-beat", "type": "paper", "started_at": long_ago})
    await repo.create_bot_instance({"id": "fresh", "type": "paper", "last_heartbeat": datetime.now(timezone.utc)})
    await repo.create_bot_instance({"id": "stopped", "type": "paper", "status": "stopped", "last_heartbeat": long_ago})
    await repo.create_bot_instance({"id": "recent-start-old-beat", "type": "live"})
    await repo.update_bot_instance("recent-start-old-beat", {"last_heartbeat": long_ago})
    assert [b.id for b in await repo.get_stale_bots()] == ["never-beat", "recent-start-old-beat", "silent"]
    assert [b.id for b in await repo.get_stale_bots(timedelta(hours=2))] == []
    await repo.heartbeat("silent")
    assert "silent" not in [b.id for b in await repo.get_stale_bots()]


async def test_a_running_bot_with_no_sign_of_life_at_all_is_stale(repo, raw_sql):
    raw_sql.execute("INSERT INTO bot_instances (id, type, status) VALUES ('ghost', 'paper', 'running')")
    assert [b.id for b in await repo.get_stale_bots(timedelta(days=3650))] == ["ghost"]
    with pytest.raises(tradedb.ValidationError):
        await repo.get_stale_bots(5)


async def test_a_retried_create_returns_the_same_trade(repo, bot):
    trade_id = str(uuid.uuid4())
    first = await repo.create_trade(trade_data(id=trade_id, entry_price=0.1, size=2))
    again = await repo.create_trade(trade_data(id=trade_id, entry_price=Decimal("0.1"), size="2.000"))
    assert again == first
    assert len(await repo.get_open_trades()) == 1


async def test_a_retry_after_the_trade_was_closed_returns_it_as_it_is_now(repo, bot):
    trade_id = uuid.uuid4()
    first = await repo.create_trade(trade_data(id=trade_id))
    closed = await repo.close_trade(first.id, exit_price="51000")
    again = await repo.create_trade(trade_data(id=trade_id))
    assert again == closed
    assert (await repo.get_bot_instance("bot-1")).total_pnl == D(100)  # booked once


@pytest.mark.parametrize(
    "change",
    [{"symbol": "ETHUSDT"}, {"entry_price": "50000.00000001"}, {"size": "0.2"}, {"direction": "short"},
     {"entry_time": ENTRY_TIME + timedelta(microseconds=1)}, {"exit_logic_name": "Other"}],
)
async def test_a_retry_with_different_entry_data_is_a_conflict(repo, bot, change):
    trade_id = str(uuid.uuid4())
    first = await repo.create_trade(trade_data(id=trade_id))
    with pytest.raises(tradedb.ConflictError, match=next(iter(change))):
        await repo.create_trade(trade_data(id=trade_id, **change))
    assert await repo.get_trade_by_id(trade_id) == first


async def test_retried_create_trades_only_adds_what_is_new(repo, bot):
    ids = [str(uuid.uuid4()) for _ in range(3)]
    batch = [trade_data(id=i, status="closed", exit_price="51000", exit_time=ENTRY_TIME + timedelta(hours=1)) for i in ids]
    first = await repo.create_trades(batch[:2])
    again = await repo.create_trades(batch)
    assert again[:2] == first and again[2].id == ids[2]
    assert (await repo.get_bot_instance("bot-1")).total_pnl == D(300)
    with pytest.raises(tradedb.ConflictError):
        await repo.create_trades([trade_data(id=str(uuid.uuid4())), trade_data(id=ids[0], size="9")])
    assert len(await repo.get_closed_trades()) == 3 and await repo.get_open_trades() == []


async def test_start_bot_refuses_to_change_a_bots_type(repo):
    await repo.start_bot({"id": "bot-1", "type": "paper"})
    with pytest.raises(tradedb.ConflictError, match="paper"):
        await repo.start_bot({"id": "bot-1", "type": "live"})
    assert (await repo.get_bot_instance("bot-1")).type == "paper"


async def test_stale_bots_with_a_huge_max_age_are_those_that_never_showed_life(repo, raw_sql):
    await repo.create_bot_instance({"id": "alive", "type": "paper"})
    raw_sql.execute("INSERT INTO bot_instances (id, type, status) VALUES ('ghost', 'paper', 'running')")
    assert [b.id for b in await repo.get_stale_bots(timedelta(days=10**6))] == ["ghost"]


def readme_example() -> str:
    """The first Python example of README.md's "Using it" section."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    start = readme.index("```python\n", readme.index("## Using it")) + len("```python\n")
    return readme[start:readme.index("\n```", start)]


@pytest.mark.sqlite_only("the README's example opens the SQLite file db/trading.db")
def test_the_readme_example_run_twice_keeps_the_books(tmp_path):
    example = tmp_path / "example.py"
    example.write_text(readme_example())
    env = {k: v for k, v in os.environ.items() if k != "TRADEDB_DATABASE"}
    outputs = []
    for _ in range(2):
        done = subprocess.run([sys.executable, str(example)], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout.splitlines()[-1])
    assert outputs == ["97.50000000 1097.50000000", "195.00000000 1195.00000000"]

    async def metrics() -> tradedb.PerformanceMetrics:
        async with tradedb.connect(tmp_path / "db" / "trading.db") as repo:
            return await repo.calculate_performance_metrics("my_bot_001", store=False)

    measured = asyncio.run(metrics())
    assert measured.extra_metadata["starting_balance"] == "1000.00000000" and measured.total_return == D("19.5")
