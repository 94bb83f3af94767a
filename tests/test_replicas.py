"""Read replicas, on a real streaming standby of the test server (tests/replica_support.py): they fail, never skip."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import tradedb
from tradedb.queries import QUERIES
from tradedb.replicas import ReplicatedDatabase

from cli_support import cli
from conftest import trade_data
from pg_support import url_of
from procs import new_postgresql_database, read
from replica_support import Standby, make_standby

WAL_POSITION = QUERIES["server_wal_position"]
WORKER = str(Path(__file__).with_name("procs.py"))


@pytest.fixture(scope="module")
def standby() -> Iterator[Standby]:
    yield from make_standby()


@pytest.fixture
def primary_url() -> Iterator[str]:
    with new_postgresql_database() as url:
        async def migrate() -> None:
            async with tradedb.connect(url):
                pass
        asyncio.run(migrate())
        yield url


@pytest.fixture
async def replicated(primary_url: str, standby: Standby) -> AsyncIterator[tradedb.Repository]:
    await asyncio.to_thread(standby.wait_for_replay)  # the new database exists on the standby
    async with tradedb.connect(primary_url, replicas=[standby.url_of(primary_url)], replica_wait=0.5) as repo:
        yield repo


def replicated_db(repo: tradedb.Repository) -> ReplicatedDatabase:
    db = repo._db
    assert isinstance(db, ReplicatedDatabase)
    return db


async def served_by_standby(repo: tradedb.Repository) -> bool:
    """Whether a read of `repo` ran on a server in recovery (a standby)."""
    _, in_recovery, _ = await repo._db.read(lambda session: session.one(WAL_POSITION, {}))
    return bool(in_recovery)


async def test_reads_go_to_the_replica_writes_and_transactions_to_the_primary(replicated: tradedb.Repository) -> None:
    assert await served_by_standby(replicated)
    await replicated.create_bot_instance({"id": "bot-1", "type": "paper", "current_balance": "100"})
    # Read-your-writes: the bot just written is there, read from the standby once it replayed it.
    bot = await replicated.get_bot_instance("bot-1")
    assert bot is not None and bot.current_balance == Decimal(100)
    assert await served_by_standby(replicated)
    async with replicated.transaction():
        assert not await served_by_standby(replicated)
        await replicated.heartbeat("bot-1")
    assert replicated_db(replicated).states[0].reads >= 2


async def test_read_your_writes_holds_for_a_thousand_rounds_while_the_replica_lags(
    primary_url: str, standby: Standby
) -> None:
    await asyncio.to_thread(standby.wait_for_replay)
    async with tradedb.connect(primary_url, replicas=[standby.url_of(primary_url)], replica_wait=0.02) as repo:
        db = replicated_db(repo)
        await repo.create_bot_instance({"id": "bot-1", "type": "paper"})
        served = {"replica": 0, "primary": 0}
        try:
            for round_ in range(1000):
                if round_ % 100 == 0:  # replay paused for 50 rounds out of each 100: the replica lags behind
                    await asyncio.to_thread(standby.sql, "SELECT pg_wal_replay_pause()")
                elif round_ % 100 == 50:
                    await asyncio.to_thread(standby.sql, "SELECT pg_wal_replay_resume()")
                before = db.states[0].reads
                trade = await repo.create_trade(trade_data())
                if round_ % 2:
                    await repo.close_trade(trade.id, exit_price="50001")
                    open_ids = {t.id for t in await repo.get_open_trades("bot-1")}
                    assert trade.id not in open_ids, f"round {round_}: a closed trade read back as open"
                else:
                    again = await repo.get_trade_by_id(trade.id)
                    assert again is not None and again.status == "open", f"round {round_}: a new trade not read back"
                served["replica" if db.states[0].reads > before else "primary"] += 1
        finally:
            await asyncio.to_thread(standby.sql, "SELECT pg_wal_replay_resume()")
    # Both paths were taken: the replica when it had replayed the write, the primary when it lagged.
    assert served["replica"] > 100 and served["primary"] > 100, served


async def test_a_stopped_replica_sends_reads_to_the_primary_until_it_is_back(
    replicated: tradedb.Repository, standby: Standby, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="tradedb.replicas")
    await replicated.create_bot_instance({"id": "bot-1", "type": "paper"})
    assert await served_by_standby(replicated)
    await asyncio.to_thread(standby.stop)
    try:
        for _ in range(5):  # never raised to the caller, and answered by the primary
            assert await replicated.get_bot_instance("bot-1") is not None
            assert not await served_by_standby(replicated)
        report = await replicated.health()
        assert report["replicas"][0]["reachable"] is False and not report["ok"]
        assert "unreachable" in report["problems"][-1]
    finally:
        await asyncio.to_thread(standby.start)
    skipped = [r for r in caplog.records if "is skipped" in r.getMessage()]
    assert len(skipped) == 1  # logged once per change, not per read
    for _ in range(100):  # the background check finds it again
        await asyncio.sleep(0.1)
        if replicated_db(replicated).states[0].usable:
            break
    assert await served_by_standby(replicated)
    assert any("is back" in r.getMessage() for r in caplog.records)


async def test_health_reports_each_replica(replicated: tradedb.Repository, standby: Standby) -> None:
    report = await replicated.health()
    [entry] = report["replicas"]
    assert entry["reachable"] is True and entry["in_recovery"] is True and report["ok"], report
    assert entry["replay_lag_bytes"] >= 0 and entry["replay_lag_seconds"] < 5
    assert "@" not in entry["replica"] or ":***@" in entry["replica"] or "root@" in entry["replica"]
    assert list(report)[-1] == "problems"


async def test_a_replica_too_far_behind_is_skipped(primary_url: str, standby: Standby) -> None:
    await asyncio.to_thread(standby.wait_for_replay)
    async with tradedb.connect(primary_url, replicas=[standby.url_of(primary_url)], max_replica_lag=1.0) as repo:
        db = replicated_db(repo)
        await asyncio.to_thread(standby.sql, "SELECT pg_wal_replay_pause()")
        try:
            await repo.create_bot_instance({"id": "bot-1", "type": "paper"})
            for _ in range(40):
                await asyncio.sleep(0.1)
                await db.check()
                if not db.states[0].usable:
                    break
            assert not db.states[0].usable and db.states[0].lag_seconds > 1.0
            other = tradedb.connect(primary_url)  # another process's view: no read-your-writes to wait for
            async with other as writer:
                await writer.heartbeat("bot-1")
            assert not await served_by_standby(repo)
        finally:
            await asyncio.to_thread(standby.sql, "SELECT pg_wal_replay_resume()")


async def test_a_replica_that_is_not_a_standby_is_never_read(primary_url: str) -> None:
    # The primary itself, or another database on any primary: its WAL position says nothing of our writes.
    with new_postgresql_database() as other:
        async with tradedb.connect(other) as impostor:
            await impostor.create_bot_instance({"id": "IMPOSTOR", "type": "paper"})
        for n, replica in enumerate((other, primary_url)):
            async with tradedb.connect(primary_url, replicas=[replica]) as repo:
                await repo.create_bot_instance({"id": f"written-{n}", "type": "paper"})
                ids = [b.id for b in await repo.list_bot_instances()]
                assert f"written-{n}" in ids and "IMPOSTOR" not in ids
                assert not await served_by_standby(repo) and replicated_db(repo).states[0].reads == 0
                report = await repo.health()
                assert report["ok"] is False and report["replicas"][0]["used_for_reads"] is False
                assert "not a standby" in report["problems"][-1]


@pytest.mark.parametrize("replicas", [["sqlite:///x.db"], "postgresql://root@127.0.0.1/test", [42]])
async def test_bad_replicas_are_refused(replicas: Any, tmp_path: Path) -> None:
    with pytest.raises(tradedb.ValidationError) as raised:
        await tradedb.connect(url_of("test"), replicas=replicas)
    assert raised.value.field.startswith("replicas")


async def test_replicas_need_postgresql(tmp_path: Path) -> None:
    with pytest.raises(tradedb.ValidationError, match="read replicas are PostgreSQL's"):
        await tradedb.connect(tmp_path / "t.db", replicas=["postgresql://root@127.0.0.1:5432/test"])


async def test_eight_processes_with_a_replica_attached(primary_url: str, standby: Standby) -> None:
    await asyncio.to_thread(standby.wait_for_replay)
    env = {**__import__("os").environ, "TRADEDB_TEST_REPLICAS": standby.url_of(primary_url)}
    workers = [
        subprocess.Popen([sys.executable, WORKER, "lifecycles", primary_url, f"bot-{n % 4}", "100", str(n)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for n in range(8)
    ]
    reports = []
    for worker in workers:
        out, err = await asyncio.to_thread(worker.communicate, timeout=240)
        assert worker.returncode == 0, err
        reports.append(json.loads(out))
    assert [r["errors"] for r in reports] == [[]] * 8
    assert all(r["replica_reads"] > 0 for r in reports), [r["replica_reads"] for r in reports]
    statuses = dict(read(primary_url, "SELECT status, count(*) FROM trades GROUP BY status"))
    assert statuses == {"closed": 800}


def test_status_and_serve_take_replicas(primary_url: str, standby: Standby, tmp_path: Path) -> None:
    standby.wait_for_replay()
    replica = standby.url_of(primary_url)
    status = cli("status", "--database", primary_url, "--replica", replica, cwd=tmp_path)
    assert status.code == 0, status.err
    line = next(line for line in status.out.splitlines() if line.startswith("read replicas"))
    assert f"127.0.0.1:{standby.port}" in line and "reachable, replay lag" in line
    report = json.loads(cli("status", "--json", "--replica", replica, "--database", primary_url, cwd=tmp_path).out)
    assert report["replicas"][0]["in_recovery"] is True and report["ok"] is True
    broken = cli("status", "--database", primary_url, "--replica", "postgresql://root@127.0.0.1:1/none", cwd=tmp_path)
    assert broken.code == 1 and "unreachable" in broken.out
    server = subprocess.Popen([sys.executable, "-m", "tradedb", "serve", "--database", primary_url, "--replica", replica,
                               "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        address = server.stdout.readline().split(" at ")[1].split()[0]  # type: ignore[union-attr]
        import urllib.request

        with urllib.request.urlopen(f"{address}api/overview", timeout=10) as answer:
            assert json.load(answer)["bots"] == []
    finally:
        server.send_signal(__import__("signal").SIGINT)
        out, err = server.communicate(timeout=20)
    assert server.returncode == 0, err
