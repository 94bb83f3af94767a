"""Retention into an archive database (cleanup_old_data(archive=...), cleanup --archive), and books after retention."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import tradedb
from cli_support import cli
from pg_support import Databases, url_of

UTC = timezone.utc
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def trade(bot_id: str, n: int, days_ago: float, **values: Any) -> dict[str, Any]:
    entry = NOW - timedelta(days=days_ago, hours=5)
    data = {
        "bot_id": bot_id, "trade_type": "paper", "entry_logic_name": "E", "exit_logic_name": "X",
        "symbol": ("BTCUSDT", "ETHUSDT", "SOLUSDT")[n % 3], "interval": "1h", "direction": ("long", "short")[n % 2],
        "entry_time": entry, "entry_price": "100", "size": "0.5", "status": "closed",
        "exit_price": str(Decimal(100) + Decimal(n % 11 - 5) / 3), "exit_time": entry + timedelta(hours=4),
        "commission": "0.01", "extra_metadata": {"n": n, "ü": [1.5, {}]},
    }
    data.update(values)
    return data


async def demo_like(repo: tradedb.Repository) -> None:
    """Three bots trading over 200 days: closed, cancelled and open trades, and metrics of every age."""
    for bot_id, balance in (("bot-a", "10000"), ("bot-b", "2500.5"), ("bot-c", None)):
        await repo.start_bot({"id": bot_id, "type": "paper", "current_balance": balance})
        rows = [trade(bot_id, n, 200 - n) for n in range(0, 200, 2)]
        rows += [trade(bot_id, n, 150 - n, status="cancelled", exit_price=None, commission=None) for n in range(0, 100, 25)]
        await repo.create_trades(rows)
        await repo.create_trade(trade(bot_id, 999, 300, status="open", exit_price=None, exit_time=None))
        for age in (500, 400, 100):
            await repo.create_performance_metrics({"bot_id": bot_id, "calculated_at": NOW - timedelta(days=age)})
    await repo.calculate_performance_metrics("bot-a")


async def books(repo: tradedb.Repository) -> dict[str, tuple[Any, Any]]:
    return {bot.id: (bot.total_pnl, bot.current_balance) for bot in await repo.list_bot_instances()}


async def closed_sums(repo: tradedb.Repository) -> dict[str, tuple[int, Decimal]]:
    sums = {}
    for bot in await repo.list_bot_instances():
        summary = await repo.get_trade_summary(bot_id=bot.id)
        sums[bot.id] = (summary["closed_trades"] + summary["cancelled_trades"], summary["total_net_pnl"])
    return sums


@pytest.fixture
def archive_of(tmp_path: Path, pg_databases: Databases) -> Any:
    """A new archive location of the kind asked for: a SQLite file (not yet made) or a fresh PostgreSQL database."""
    names: list[str] = []

    def new(kind: str) -> Path | str:
        if kind == "sqlite":
            return tmp_path / "archive" / f"archive-{len(names)}.db"
        names.append(pg_databases.empty())
        return url_of(names[-1])

    yield new
    for name in names:
        pg_databases.release(name)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_archiving_moves_old_rows_into_an_ordinary_database_and_keeps_the_books(repo, archive_of, kind):
    await demo_like(repo)
    before_books, before_sums = await books(repo), await closed_sums(repo)
    counted = await repo.cleanup_old_data(days_to_keep=90, dry_run=True)
    archive = archive_of(kind)
    moved = await repo.cleanup_old_data(days_to_keep=90, batch_size=17, archive=archive)
    assert moved == counted and moved["trades"] > 100 and moved["performance_metrics"] == 6
    # The live books do not move, and they are right: health tells retention from an edit.
    assert await books(repo) == before_books
    report = await repo.health(full=True)
    assert report["ok"], report["problems"]
    assert await repo.cleanup_old_data(days_to_keep=90, dry_run=True) == {"trades": 0, "performance_metrics": 0}
    live_sums = await closed_sums(repo)
    async with tradedb.connect(archive, migrate=False) as old:
        assert (await old.health(full=True))["ok"]
        archived_sums = await closed_sums(old)
        # Live + archive = before, exactly, per bot.
        for bot_id, (count, net) in before_sums.items():
            assert (live_sums[bot_id][0] + archived_sums[bot_id][0], live_sums[bot_id][1] + archived_sums[bot_id][1]) \
                == (count, net)
        # The archive's books are its own: total_pnl the sum of its closed trades, the balance from the opening one.
        for bot in await old.list_bot_instances():
            assert bot.total_pnl == archived_sums[bot.id][1]
            live_bot = await repo.get_bot_instance(bot.id)
            if live_bot.current_balance is None:
                assert bot.current_balance is None
            else:
                assert bot.current_balance - bot.total_pnl == live_bot.current_balance - live_bot.total_pnl
        metrics = await old.calculate_performance_metrics("bot-a", store=False)
        closed = [t async for t in old.iter_trades(bot_id="bot-a", status="closed")]
        assert metrics.total_trades == len(closed) > 0
        assert metrics.total_return == (sum(t.net_pnl for t in closed) / Decimal(10000) * 100).quantize(Decimal("0.0001"))
        assert len(await old.get_performance_metrics("bot-b")) == 2
        assert not [t async for t in old.iter_trades(status="open")]
    # A second run finds nothing more to move.
    assert await repo.cleanup_old_data(days_to_keep=90, archive=archive) == {"trades": 0, "performance_metrics": 0}


async def test_retention_that_deletes_keeps_the_books_right(repo, raw_sql):
    await demo_like(repo)
    before_books, before_sums = await books(repo), await closed_sums(repo)
    deleted = await repo.cleanup_old_data(days_to_keep=90, batch_size=13)
    assert deleted["trades"] > 100
    assert await books(repo) == before_books
    report = await repo.health()
    assert report["ok"] and report["bots_with_wrong_books"] == 0, report["problems"]
    after = await closed_sums(repo)
    for bot_id, (_, net) in before_sums.items():
        archived = raw_sql.value("SELECT archived_pnl FROM bot_instances WHERE id = ?", (bot_id,))
        assert Decimal(str(archived)) + after[bot_id][1] == net
    # An edit of the books is still found, and the fix given counts archived_pnl.
    raw_sql.execute("UPDATE bot_instances SET total_pnl = '1.00000000' WHERE id = 'bot-a'")
    report = await repo.health()
    [problem] = [p for p in report["problems"] if "'bot-a' has total_pnl 1.00000000" in p]
    assert "and retention took out" in problem and "(archived_pnl): together" in problem
    raw_sql.execute(problem[problem.index("UPDATE bot_instances"):])
    assert (await repo.health())["ok"]
    assert (await repo.get_bot_instance("bot-a")).total_pnl == before_books["bot-a"][0]


KILLED = textwrap.dedent(
    """
    import asyncio, os, sys
    import tradedb, tradedb.copying

    batches = 0

    def crash():
        global batches
        batches += 1
        if batches == int(sys.argv[3]):
            os._exit(9)  # right after the archive committed, before the live delete

    tradedb.copying.after_archive_commit = crash

    async def main(live, archive):
        async with tradedb.connect(live) as repo:
            await repo.cleanup_old_data(days_to_keep=90, batch_size=10, archive=archive)

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
@pytest.mark.parametrize("crash_at", [1, 3])
async def test_an_archive_run_killed_between_the_archive_commit_and_the_delete_finishes_on_the_next_run(
    repo, database, archive_of, kind, crash_at
):
    await demo_like(repo)
    before_books, before_sums = await books(repo), await closed_sums(repo)
    counted = await repo.cleanup_old_data(days_to_keep=90, dry_run=True)
    archive = archive_of(kind)
    done = subprocess.run([sys.executable, "-c", KILLED, str(database), str(archive), str(crash_at)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 9, done.stderr
    # The batch it had committed is in both databases now.
    async with tradedb.connect(archive, migrate=False) as old:
        in_archive = (await old.health())["row_counts"]["trades"]
    assert in_archive == 10 * crash_at
    left = await repo.cleanup_old_data(days_to_keep=90, dry_run=True)
    assert left["trades"] == counted["trades"] - 10 * (crash_at - 1)
    moved = await repo.cleanup_old_data(days_to_keep=90, batch_size=10, archive=archive)
    assert moved["trades"] == left["trades"] and moved["performance_metrics"] == 6
    assert await books(repo) == before_books
    assert (await repo.health())["ok"]
    live_sums = await closed_sums(repo)
    async with tradedb.connect(archive, migrate=False) as old:
        report = await old.health(full=True)
        assert report["ok"], report["problems"]
        # No duplicates: every trade once, in one of the two databases.
        assert report["row_counts"]["trades"] == counted["trades"]
        archived_sums = await closed_sums(old)
        for bot_id, (count, net) in before_sums.items():
            assert live_sums[bot_id][0] + archived_sums[bot_id][0] == count
            assert live_sums[bot_id][1] + archived_sums[bot_id][1] == net
            assert (await old.get_bot_instance(bot_id)).total_pnl == archived_sums[bot_id][1]


async def test_an_archived_copy_that_differs_is_an_error_naming_it(repo, archive_of):
    await demo_like(repo)
    archive = archive_of("sqlite")
    # As a crash leaves it: the oldest trade in the archive too, then edited there.
    oldest = min([t async for t in repo.iter_trades(status="closed")], key=lambda t: t.exit_time)
    async with tradedb.connect(archive) as old:
        await old.create_bot_instance({"id": oldest.bot_id, "type": "paper"})
        fields = {k: getattr(oldest, k) for k in ("id", "bot_id", "trade_type", "entry_logic_name", "exit_logic_name",
                                                  "symbol", "interval", "direction", "entry_time", "entry_price",
                                                  "size", "exit_time", "exit_price", "commission", "status")}
        await old.create_trade({**fields, "exit_reason": "edited"})
    with pytest.raises(tradedb.ConflictError, match=f"trade '{oldest.id}' is in the archive .* another exit_reason"):
        await repo.cleanup_old_data(days_to_keep=90, archive=archive)
    assert await repo.get_trade_by_id(oldest.id) == oldest


async def test_the_cli_archives_and_refuses_the_live_database_as_its_archive(database, backend, repo, tmp_path):
    await demo_like(repo)
    await repo.close()
    archive = tmp_path / "old.db"
    dry = cli("cleanup", "--database", str(database), "--archive", str(archive), "--dry-run", "--json", cwd=tmp_path)
    assert dry.code == 0 and json.loads(dry.out)["trades"] > 100 and not archive.exists()
    done = cli("cleanup", "--database", str(database), "--archive", str(archive), cwd=tmp_path)
    assert done.code == 0 and done.out.startswith("moved ") and f"to {archive}" in done.out, done.err
    summary = cli("summary", "--database", str(archive), "--json", cwd=tmp_path)
    assert summary.code == 0 and json.loads(summary.out)["closed_trades"] > 100
    same = str(database) if backend == "sqlite" else str(database).replace("127.0.0.1", "localhost")
    refused = cli("cleanup", "--database", str(database), "--archive", same, "--days", "0", cwd=tmp_path)
    assert refused.code == 1 and "archive: is the same database as the live one" in refused.err, refused.err
