"""Transactions: all or nothing, nesting, and coroutines that never see or join each other's work."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time

import psycopg
import pytest

import tradedb
from conftest import trade_data


class Boom(Exception):
    pass


async def test_an_exception_rolls_back_every_call_in_the_transaction(repo):
    with pytest.raises(Boom):
        async with repo.transaction():
            await repo.create_bot_instance({"id": "bot-1", "type": "paper", "current_balance": "10"})
            trade = await repo.create_trade(trade_data())
            await repo.close_trade(trade.id, exit_price="51000")
            raise Boom
    assert await repo.get_bot_instance("bot-1") is None
    assert await repo.get_trade_by_id(trade.id) is None


async def test_a_transaction_commits_together_and_sees_its_own_writes(repo):
    async with repo.transaction():
        await repo.create_bot_instance({"id": "bot-1", "type": "paper"})
        trade = await repo.create_trade(trade_data())
        assert (await repo.get_trade_by_id(trade.id)).status == "open"
        assert [t.id for t in await repo.get_open_trades("bot-1")] == [trade.id]
    assert await repo.get_trade_by_id(trade.id) == trade


async def test_a_failed_call_inside_a_transaction_leaves_the_rest(repo, bot):
    async with repo.transaction():
        kept = await repo.create_trade(trade_data())
        with pytest.raises(tradedb.ValidationError):
            await repo.create_trades([trade_data(), trade_data(size="-1")])
    assert [t.id for t in await repo.get_open_trades()] == [kept.id]


async def test_nested_transactions_are_savepoints(repo, bot):
    async with repo.transaction():
        outer = await repo.create_trade(trade_data())
        with pytest.raises(Boom):
            async with repo.transaction():
                await repo.create_trade(trade_data(symbol="ETHUSDT"))
                raise Boom
        async with repo.transaction():
            inner = await repo.create_trade(trade_data(symbol="SOLUSDT"))
    assert {t.id for t in await repo.get_open_trades()} == {outer.id, inner.id}


async def test_other_coroutines_read_the_last_commit_while_a_transaction_is_open(repo, bot):
    committed = await repo.create_trade(trade_data())
    opened, release = asyncio.Event(), asyncio.Event()

    async def writer():
        async with repo.transaction():
            await repo.create_trade(trade_data(symbol="ETHUSDT"))
            await repo.close_trade(committed.id, exit_price="51000")
            opened.set()
            await release.wait()

    task = asyncio.create_task(writer())
    await opened.wait()
    # These complete while the writer's transaction is still open, and see none of it.
    seen = await asyncio.wait_for(repo.get_open_trades(), timeout=2)
    assert [t.id for t in seen] == [committed.id]
    assert (await asyncio.wait_for(repo.get_bot_instance("bot-1"), timeout=2)).total_pnl == 0
    release.set()
    await task
    assert (await repo.get_trade_by_id(committed.id)).status == "closed"


async def test_a_write_from_another_coroutine_never_joins_the_open_transaction(repo, bot, backend):
    opened = asyncio.Event()
    release = asyncio.Event()

    async def failing_writer():
        async with repo.transaction():
            await repo.create_trade(trade_data(symbol="ETHUSDT"))
            opened.set()
            await release.wait()
            raise Boom

    failing = asyncio.create_task(failing_writer())
    await opened.wait()
    other = asyncio.create_task(repo.create_trade(trade_data(symbol="SOLUSDT")))
    if backend == "sqlite":
        await asyncio.sleep(0.05)
        assert not other.done()  # one writer: it waits for its turn rather than writing inside the open transaction
    else:
        await asyncio.wait_for(asyncio.shield(other), timeout=2)  # a connection of its own: it commits meanwhile
    release.set()
    with pytest.raises(Boom):
        await failing
    survivor = await other
    assert [t.id for t in await repo.get_open_trades()] == [survivor.id]


async def test_a_task_started_inside_a_transaction_does_not_join_it(repo, bot):
    async with repo.transaction():
        await repo.create_trade(trade_data())
        child = asyncio.create_task(repo.get_open_trades())
        assert await child == []  # reads the last commit, not the parent's open transaction


async def test_waiting_longer_than_busy_timeout_for_this_repository_raises_database_busy(database):
    # pool_size=1: on PostgreSQL the open transaction holds the only connection, as SQLite's one writer.
    async with tradedb.connect(database, busy_timeout=0.2, pool_size=1) as repo:
        await repo.create_bot_instance({"id": "bot-1", "type": "paper"})
        opened, release = asyncio.Event(), asyncio.Event()

        async def slow_writer():
            async with repo.transaction():
                opened.set()
                await release.wait()

        task = asyncio.create_task(slow_writer())
        await opened.wait()
        with pytest.raises(tradedb.DatabaseBusy, match="busy_timeout"):
            await repo.create_trade(trade_data())
        release.set()
        await task
        assert await repo.get_open_trades() == []


async def test_another_connection_holding_the_lock_gives_database_busy_and_writes_nothing(database):
    async with tradedb.connect(database, busy_timeout=0.2) as first, tradedb.connect(database, busy_timeout=0.2) as second:
        await first.create_bot_instance({"id": "bot-1", "type": "paper", "current_balance": "1"})
        async with second.transaction():
            await second.create_bot_instance({"id": "bot-2", "type": "paper"})
            await second.update_bot_instance("bot-1", {"current_balance": "2"})  # locks bot-1's row on PostgreSQL
            with pytest.raises(tradedb.DatabaseBusy, match="busy_timeout"):
                await first.update_bot_instance("bot-1", {"current_balance": "3"})
        assert (await first.get_bot_instance("bot-1")).current_balance == 2
        assert await first.get_bot_instance("bot-2") is not None


def hold_write_lock(database, seconds):
    """Another process's writer, as far as tradedb can tell: holds the lock writes to bot-1 need for `seconds`.

    SQLite: the database's write lock. PostgreSQL: bot-1's row, locked FOR UPDATE.
    """
    locked = threading.Event()

    def hold():
        if isinstance(database, str):
            with psycopg.connect(database, autocommit=True) as connection:
                with connection.transaction():
                    connection.execute("SELECT id FROM bot_instances WHERE id = 'bot-1' FOR UPDATE")
                    locked.set()
                    time.sleep(seconds)
            return
        connection = sqlite3.connect(database, isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        locked.set()
        time.sleep(seconds)
        connection.execute("COMMIT")
        connection.close()

    thread = threading.Thread(target=hold)
    thread.start()
    locked.wait()
    return thread


def assert_lock_free(database):
    """No transaction of tradedb's is left open, and the lock bot-1's writes need is free."""
    if isinstance(database, str):
        with psycopg.connect(database, autocommit=True) as other:
            left_open = other.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state LIKE 'idle in transaction%'"
            ).fetchone()[0]
            assert left_open == 0
            with other.transaction():
                other.execute("SET LOCAL lock_timeout = 1")
                other.execute("SELECT id FROM bot_instances WHERE id = 'bot-1' FOR UPDATE")
        return
    other = sqlite3.connect(database, isolation_level=None, timeout=0)
    other.execute("BEGIN IMMEDIATE")  # the write lock is free again
    other.execute("ROLLBACK")
    other.close()


@pytest.mark.parametrize("write", ["create_trade", "transaction"])
async def test_a_write_waits_for_another_connections_lock_then_goes_through(database, write):
    async with tradedb.connect(database, busy_timeout=5) as repo:
        await repo.create_bot_instance({"id": "bot-1", "type": "paper"})
        holder = hold_write_lock(database, 0.3)
        started = time.monotonic()
        if write == "create_trade":
            await repo.create_trade(trade_data())
        else:
            async with repo.transaction():
                await repo.create_trade(trade_data())
        waited = time.monotonic() - started
        holder.join()
        assert waited >= 0.25  # it waited for the lock rather than failing or skipping it
        assert len(await repo.get_open_trades()) == 1


async def test_database_busy_comes_only_after_waiting_busy_timeout(database):
    async with tradedb.connect(database, busy_timeout=0.3) as repo:
        await repo.create_bot_instance({"id": "bot-1", "type": "paper"})
        holder = hold_write_lock(database, 1.0)
        started = time.monotonic()
        with pytest.raises(tradedb.DatabaseBusy, match="busy_timeout=0.3"):
            await repo.create_trade(trade_data())
        waited = time.monotonic() - started
        holder.join()
        assert waited >= 0.3
        assert await repo.get_open_trades() == []


async def test_cancelling_a_transaction_that_waits_for_the_lock_leaves_no_transaction_open(database):
    async with tradedb.connect(database, busy_timeout=5) as repo:
        await repo.create_bot_instance({"id": "bot-1", "type": "paper"})
        holder = hold_write_lock(database, 0.5)

        async def write_in_a_transaction():
            async with repo.transaction():
                await repo.create_trade(trade_data())

        task = asyncio.create_task(write_in_a_transaction())
        await asyncio.sleep(0.1)  # waiting for the other connection's lock
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        holder.join()
        assert_lock_free(database)
        await repo.create_trade(trade_data())  # and the writer works
        assert len(await repo.get_open_trades()) == 1


@pytest.mark.sqlite_only("SQLite's busy_timeout PRAGMA of the writer's connection")
def test_the_writer_leaves_waiting_to_sqlite_unless_the_database_is_in_wal_mode(db_path):
    from tradedb.sqlite import _open

    for path, expected in ((db_path, 0), (":memory:", 2500)):  # an in-memory database cannot use WAL
        connection = _open(path, 2.5, reader=False)
        assert connection.execute("PRAGMA busy_timeout").fetchone() == (expected,)
        connection.close()


async def test_a_closed_repository_says_so(database):
    repo = await tradedb.connect(database)
    await repo.close()
    await repo.close()
    with pytest.raises(tradedb.TradeDBError, match="closed"):
        await repo.list_bot_instances()


@pytest.mark.sqlite_only("the version of the sqlite3 library Python was built with")
async def test_an_sqlite_too_old_for_the_queries_is_refused_with_what_to_do(db_path, monkeypatch):
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 29, 0))
    with pytest.raises(tradedb.TradeDBError, match=r"needs SQLite 3\.30\.0 or newer .* use a Python built with a newer"):
        await tradedb.connect(db_path)


async def test_calls_in_flight_when_the_repository_closes_end_in_tradedb_errors_only(database, bot):
    async with tradedb.connect(database) as repo:
        calls = [asyncio.create_task(repo.create_trade(trade_data())) for _ in range(20)]
        await asyncio.sleep(0)
        await repo.close()
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
    failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    assert all(isinstance(failure, tradedb.TradeDBError) for failure in failures), failures
    assert all("closed" in str(failure) for failure in failures), failures
