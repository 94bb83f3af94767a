"""Bot instances and performance metrics through the public API."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

import tradedb

D = Decimal


async def test_create_bot_instance_defaults(repo):
    before = datetime.now(timezone.utc)
    bot = await repo.create_bot_instance({"id": "b1", "type": "live", "config_file": "cfg.json"})
    assert (bot.status, bot.total_pnl, bot.current_balance, bot.last_heartbeat) == ("running", 0, None, None)
    assert before <= bot.started_at <= datetime.now(timezone.utc)
    assert await repo.get_bot_instance("b1") == bot


async def test_a_stopped_bot_has_not_started(repo):
    bot = await repo.create_bot_instance({"id": "b1", "type": "paper", "status": "stopped"})
    assert bot.started_at is None


async def test_an_existing_bot_id_is_a_conflict(repo):
    await repo.create_bot_instance({"id": "b1", "type": "paper"})
    with pytest.raises(tradedb.ConflictError, match="b1"):
        await repo.create_bot_instance({"id": "b1", "type": "live"})
    assert (await repo.get_bot_instance("b1")).type == "paper"


@pytest.mark.parametrize(
    "data, field",
    [
        ({"type": "paper"}, "id"),
        ({"id": "b1"}, "type"),
        ({"id": "b1", "type": "backtest"}, "type"),
        ({"id": "", "type": "paper"}, "id"),
        ({"id": "x" * 256, "type": "paper"}, "id"),
        ({"id": "b1", "type": "paper", "status": "sleeping"}, "status"),
        ({"id": "b1", "type": "paper", "balance": 5}, "balance"),
        ({"id": "b1", "type": "paper", "created_at": "2024-01-01T00:00:00Z"}, "created_at"),
        ({"id": "b1", "type": "paper", "last_heartbeat": datetime(2024, 1, 1)}, "last_heartbeat"),
        ({"id": "b1", "type": "paper", "total_pnl": "500"}, "total_pnl"),  # a new bot's books start at 0
    ],
)
async def test_create_bot_instance_refuses_bad_data(repo, data, field):
    with pytest.raises(tradedb.ValidationError) as caught:
        await repo.create_bot_instance(data)
    assert caught.value.field == field
    assert await repo.list_bot_instances() == []


async def test_update_bot_instance(repo):
    bot = await repo.create_bot_instance({"id": "b1", "type": "paper"})
    heartbeat = datetime(2024, 5, 1, 8, 0, tzinfo=timezone.utc)
    updated = await repo.update_bot_instance(
        "b1", {"status": "error", "current_balance": 1050.25, "last_heartbeat": heartbeat, "extra_metadata": {"v": 2}}
    )
    assert (updated.status, updated.current_balance, updated.last_heartbeat) == ("error", D("1050.25"), heartbeat)
    assert updated.extra_metadata == {"v": 2} and updated.updated_at > bot.updated_at
    assert await repo.get_bot_instance("b1") == updated


@pytest.mark.parametrize("changes, error", [
    ({"id": "b2"}, tradedb.ValidationError),
    ({"created_at": "2024-01-01T00:00:00Z"}, tradedb.ValidationError),
    ({"statsu": "stopped"}, tradedb.ValidationError),
    ({"total_pnl": None}, tradedb.ValidationError),
    ({"total_pnl": "5"}, tradedb.ValidationError),  # the books follow the trades
    ({"type": None}, tradedb.ValidationError),
])
async def test_update_bot_instance_refuses_bad_changes(repo, changes, error):
    bot = await repo.create_bot_instance({"id": "b1", "type": "paper"})
    with pytest.raises(error):
        await repo.update_bot_instance("b1", changes)
    assert await repo.get_bot_instance("b1") == bot


async def test_unknown_bots(repo):
    assert await repo.get_bot_instance("ghost") is None
    with pytest.raises(tradedb.NotFoundError, match="ghost"):
        await repo.update_bot_instance("ghost", {"status": "stopped"})


async def test_list_bot_instances_by_status(repo):
    for bot_id, status in [("c", "running"), ("a", "stopped"), ("b", "running")]:
        await repo.create_bot_instance({"id": bot_id, "type": "paper", "status": status})
    assert [b.id for b in await repo.list_bot_instances()] == ["a", "b", "c"]
    assert [b.id for b in await repo.list_bot_instances("running")] == ["b", "c"]
    with pytest.raises(tradedb.ValidationError):
        await repo.list_bot_instances("asleep")


async def test_performance_metrics_newest_first(repo, bot):
    first = await repo.create_performance_metrics(
        {"bot_id": "bot-1", "sharpe_ratio": 1.5, "win_rate": "65", "total_trades": 100, "winning_trades": 65,
         "calculated_at": datetime(2024, 1, 1, tzinfo=timezone.utc), "avg_win": "12.345678901"}
    )
    assert (first.sharpe_ratio, first.win_rate, first.avg_win) == (D("1.5"), D("65"), D("12.34567890"))
    second = await repo.create_performance_metrics({"bot_id": "bot-1", "profit_factor": "2.1"})
    assert second.calculated_at > first.calculated_at and second.total_trades is None
    assert [m.id for m in await repo.get_performance_metrics("bot-1")] == [second.id, first.id]
    assert [m.id for m in await repo.get_performance_metrics("bot-1", limit=1)] == [second.id]
    assert await repo.get_performance_metrics("ghost") == []


@pytest.mark.parametrize(
    "data, field",
    [
        ({"bot_id": "ghost"}, "bot_id"),
        ({}, "bot_id"),
        ({"bot_id": "bot-1", "win_rate": "100.01"}, "win_rate"),
        ({"bot_id": "bot-1", "win_rate": "-1"}, "win_rate"),
        ({"bot_id": "bot-1", "total_trades": -1}, "total_trades"),
        ({"bot_id": "bot-1", "total_trades": 2.5}, "total_trades"),
        ({"bot_id": "bot-1", "sharpe_ratio": "1234567.1"}, "sharpe_ratio"),
        ({"bot_id": "bot-1", "sharp_ratio": "1"}, "sharp_ratio"),
    ],
)
async def test_performance_metrics_refuse_bad_data(repo, bot, data, field):
    with pytest.raises(tradedb.ValidationError) as caught:
        await repo.create_performance_metrics(data)
    assert caught.value.field == field
    assert await repo.get_performance_metrics("bot-1") == []
