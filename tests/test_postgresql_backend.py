"""What only the PostgreSQL backend does: its pool, URLs and passwords, migrations on a server, retried
serialization conflicts between processes, and a server restart.

These tests need the server of TRADEDB_TEST_POSTGRESQL_URL (see tests/pg_support.py); when it cannot
be reached they FAIL, never skip. The restart test stops and starts that server (a local cluster
only), for a few seconds, and always starts it again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
import sys
import textwrap
import time
import traceback
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

import tradedb
import tradedb.postgresql
from conftest import trade_data
from pg_support import PG_BIN, SERVER_URL, Databases, connect, server_is_local, url_of

ROOT = Path(__file__).resolve().parent.parent
SECRET = "s3cr3t-Pa55word"
D = Decimal


@pytest.fixture
def url(pg_databases: Databases) -> Iterator[str]:
    """The URL of a fresh, migrated database of this test."""
    name = pg_databases.acquire()
    try:
        yield url_of(name)
    finally:
        pg_databases.release(name)


@pytest.fixture
def new_url(pg_databases: Databases) -> Iterator[str]:
    """The URL of a new database without any schema yet."""
    name = pg_databases.empty()
    try:
        yield url_of(name)
    finally:
        pg_databases.release(name)


def with_password(url: str, password: str = SECRET) -> str:
    """`url` with `password` written in it (the test server trusts local logins, so any password goes)."""
    parts = urlsplit(url)
    user = parts.username or "root"
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{host}"))


def database_of(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


# The pool ------------------------------------------------------------------


async def test_transactions_of_different_coroutines_run_at_once(url):
    async with tradedb.connect(url, pool_size=4, busy_timeout=5) as repo:
        await repo.create_bot_instance({"id": "bot-a", "type": "paper", "current_balance": "1"})
        await repo.create_bot_instance({"id": "bot-b", "type": "paper", "current_balance": "1"})
        a_open, b_open, release = asyncio.Event(), asyncio.Event(), asyncio.Event()

        async def hold(bot_id: str, opened: asyncio.Event, other: asyncio.Event) -> None:
            async with repo.transaction():
                await repo.update_bot_instance(bot_id, {"current_balance": "2"})
                opened.set()
                await asyncio.wait_for(other.wait(), timeout=3)  # both transactions are open together
                await release.wait()

        both = asyncio.gather(hold("bot-a", a_open, b_open), hold("bot-b", b_open, a_open))
        await asyncio.wait_for(asyncio.gather(a_open.wait(), b_open.wait()), timeout=3)
        release.set()
        await both

        # A statement waiting for a lock holds only its own connection: other coroutines go on.
        with connect(url) as holder:
            with holder.transaction():
                holder.execute("SELECT id FROM bot_instances WHERE id = 'bot-a' FOR UPDATE")
                waiting = asyncio.create_task(repo.update_bot_instance("bot-a", {"current_balance": "3"}))
                await asyncio.sleep(0.2)
                started = time.monotonic()
                await repo.update_bot_instance("bot-b", {"current_balance": "3"})
                assert await repo.get_bot_instance("bot-b") is not None
                assert time.monotonic() - started < 1 and not waiting.done()
        assert (await waiting).current_balance == 3


async def test_a_coroutines_transaction_sees_its_own_writes_and_no_other_coroutine_does(url):
    async with tradedb.connect(url, pool_size=2) as repo:
        await repo.create_bot_instance({"id": "bot-1", "type": "paper"})
        written, checked = asyncio.Event(), asyncio.Event()
        seen_inside: list[object] = []

        async def writer() -> str:
            async with repo.transaction():
                trade = await repo.create_trade(trade_data())
                seen_inside.append(await repo.get_trade_by_id(trade.id))
                written.set()
                await checked.wait()
            return trade.id

        task = asyncio.create_task(writer())
        await written.wait()
        [inside] = seen_inside
        assert inside is not None and await repo.get_trade_by_id(inside.id) is None  # not yet committed
        assert await repo.get_open_trades() == []
        checked.set()
        assert (await repo.get_trade_by_id(await task)) == inside


@pytest.mark.parametrize("bad", [0, -1, True, "4", 2.5, None])
async def test_pool_size_is_validated(url, bad):
    with pytest.raises(tradedb.ValidationError) as caught:
        await tradedb.connect(url, pool_size=bad)
    assert caught.value.field == "pool_size"


async def test_pool_size_one_still_serves_every_coroutine_in_turn(url):
    async with tradedb.connect(url, pool_size=1) as repo:
        await repo.create_bot_instance({"id": "bot-1", "type": "paper"})
        trades = await asyncio.gather(*(repo.create_trade(trade_data()) for _ in range(10)))
        assert len({t.id for t in trades}) == 10 and len(await repo.get_open_trades()) == 10


# URLs and passwords --------------------------------------------------------


def assert_secret_not_in(error: BaseException) -> None:
    shown = "".join(traceback.format_exception(error))
    assert SECRET not in shown, shown


@pytest.mark.parametrize("where", ["unknown database", "closed port"])
async def test_a_password_appears_in_no_error(url, where):
    if where == "unknown database":
        bad = with_password(url_of("tdtest_no_such_database"))
    else:
        bad = with_password(url).replace(f":{urlsplit(url).port or 5432}/", ":1/")
    with pytest.raises(tradedb.TradeDBError) as caught:
        await tradedb.connect(bad, busy_timeout=1)
    assert SECRET not in str(caught.value)
    assert_secret_not_in(caught.value)
    if where == "closed port":
        assert isinstance(caught.value, tradedb.ServerUnreachable)
    else:
        assert "tdtest_no_such_database" in str(caught.value)


async def test_a_password_appears_in_no_location_status_or_log_line(url, caplog, tmp_path):
    secret_url = with_password(url) + f"?password={SECRET}&application_name=tdtest"
    # The logger tradedb.sql by name: a CLI test run in this process may have quieted it.
    with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, logger="tradedb.sql"):
        async with tradedb.connect(secret_url) as repo:
            await repo.create_bot_instance({"id": "bot-1", "type": "paper"})
            trade = await repo.create_trade(trade_data())
            await repo.close_trade(trade.id, exit_price="51000")
            assert SECRET not in repo.location and database_of(url) in repo.location
            report = await repo.health(full=True)
            assert SECRET not in repr(report)
            with pytest.raises(tradedb.ValidationError) as caught:
                await repo.create_trade(trade_data(bot_id="ghost"))
            assert_secret_not_in(caught.value)
            backup = await repo.backup(tmp_path / "copy.dump")
            assert backup.exists()
    assert caplog.records  # SQL is logged at DEBUG
    for record in caplog.records:
        assert SECRET not in record.getMessage(), record.getMessage()


async def test_the_postgres_scheme_and_libpq_parameters_pass_through(url):
    short = "postgres://" + url.split("://", 1)[1]
    async with tradedb.connect(short + "?application_name=tdtest_xyz") as repo:
        await repo.create_bot_instance({"id": "bot-1", "type": "paper"})
        with connect(url) as other:
            names = {row[0] for row in other.execute(
                "SELECT application_name FROM pg_stat_activity WHERE datname = current_database()"
            )}
        assert "tdtest_xyz" in names


async def test_a_url_of_several_hosts_connects_to_one_that_answers(url):
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 5432
    user = parts.netloc.rpartition("@")[0]
    several = urlunsplit(parts._replace(netloc=f"{user}@{host}:1,{host}:{port}", query="target_session_attrs=read-write"))
    async with tradedb.connect(several, busy_timeout=2) as repo:
        await repo.create_bot_instance({"id": "bot-1", "type": "paper"})
        assert (await repo.get_bot_instance("bot-1")) is not None


# Migrations ----------------------------------------------------------------


async def test_a_database_with_a_migration_this_version_does_not_know_is_refused(url):
    with connect(url) as raw:
        raw.execute(
            "INSERT INTO _yoyo_migration (migration_hash, migration_id, applied_at_utc) "
            "VALUES ('f' || md5('x'), '0099.from-the-future', now())"
        )
    with pytest.raises(tradedb.MigrationError, match="0099.from-the-future"):
        await tradedb.connect(url)


@pytest.fixture
def pg_migrations(tmp_path, monkeypatch) -> Path:
    """A copy of migrations/postgresql that tests can add to, read by tradedb instead of its own."""
    folder = tmp_path / "migrations"
    folder.mkdir()
    for path in (ROOT / "migrations" / "postgresql").glob("*.sql"):
        shutil.copy(path, folder)
    monkeypatch.setattr(tradedb.postgresql, "migrations_folder", lambda: folder)
    tradedb.postgresql.known_ids.cache_clear()
    yield folder
    tradedb.postgresql.known_ids.cache_clear()


def add_migration(folder: Path, migration_id: str, sql: str, depends: str) -> None:
    (folder / f"{migration_id}.sql").write_text(f"-- A test migration.\n-- depends: {depends}\n" + sql)
    tradedb.postgresql.known_ids.cache_clear()  # read once per process: a new version's files, as after an upgrade


SCHEMA_AND_ROWS = """
SELECT (SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class WHERE relnamespace = 'public'::regnamespace),
       (SELECT string_agg(migration_id, ',' ORDER BY migration_id) FROM _yoyo_migration),
       (SELECT string_agg(id || ':' || total_pnl, ',' ORDER BY id) FROM bot_instances),
       (SELECT count(*) FROM trades)
"""
BROKEN = "CREATE TABLE trades (x INTEGER);\n"  # trades exists: fails


@pytest.mark.parametrize("good_first", [False, True], ids=["one-failing", "second-of-two"])
async def test_a_failing_migration_leaves_the_database_as_it_was(url, pg_migrations, good_first):
    async with tradedb.connect(url) as repo:
        await repo.create_bot_instance({"id": "bot-1", "type": "paper"})
        trade = await repo.create_trade(trade_data())
        await repo.close_trade(trade.id, exit_price="51000")
    with connect(url) as raw:
        before = raw.execute(SCHEMA_AND_ROWS).fetchone()
    depends = "0006.closed-trade-sort-indexes"
    if good_first:
        add_migration(pg_migrations, "0007.good", "CREATE TABLE extra (x INTEGER);\nINSERT INTO extra VALUES (1);\n", depends)
        depends = "0007.good"
    add_migration(pg_migrations, "0008.broken", BROKEN, depends)
    with pytest.raises(tradedb.MigrationError, match="0008.broken|failed"):
        await tradedb.connect(url)
    with connect(url) as raw:
        assert raw.execute(SCHEMA_AND_ROWS).fetchone() == before


async def test_a_failing_migration_on_a_new_database_leaves_it_empty(new_url, pg_migrations):
    add_migration(pg_migrations, "0007.broken", BROKEN, "0006.closed-trade-sort-indexes")
    with pytest.raises(tradedb.MigrationError):
        await tradedb.connect(new_url)
    with connect(new_url) as raw:
        tables = [row[0] for row in raw.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        applied = raw.execute(
            "SELECT CASE WHEN to_regclass('_yoyo_migration') IS NULL THEN 0 ELSE "
            "(SELECT count(*) FROM _yoyo_migration) END"
        ).fetchone()[0] if "_yoyo_migration" in tables else 0
    # Either nothing at all, or yoyo's bookkeeping only: no table of tradedb's, no migration recorded.
    assert not {"trades", "bot_instances", "performance_metrics"} & set(tables), tables
    assert applied == 0


MIGRATE = textwrap.dedent(
    """
    import asyncio, sys, tradedb

    async def main(url):
        sys.stdin.readline()  # all start together
        async with tradedb.connect(url, busy_timeout=30) as repo:
            print(len(await repo.list_bot_instances()), flush=True)

    asyncio.run(main(sys.argv[1]))
    """
)


def start_together(script: str, *argv_sets: tuple[str, ...]) -> list[subprocess.CompletedProcess[str]]:
    """Run `script` in one process per argument set, released at the same moment; their results."""
    processes = [
        subprocess.Popen([sys.executable, "-c", script, *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for argv in argv_sets
    ]
    time.sleep(0.5)  # interpreters up and tradedb imported
    for process in processes:
        process.stdin.write("go\n")
        process.stdin.flush()
    results = []
    for process, argv in zip(processes, argv_sets):
        out, err = process.communicate(timeout=120)
        results.append(subprocess.CompletedProcess(argv, process.returncode, out, err))
    return results


async def test_two_processes_migrating_a_new_database_at_once_both_succeed_and_migrate_once(new_url):
    results = start_together(MIGRATE, (new_url,), (new_url,))
    for result in results:
        assert result.returncode == 0 and result.stdout.strip() == "0", result.stderr
    with connect(new_url) as raw:
        assert [row[0] for row in raw.execute("SELECT migration_id FROM _yoyo_migration ORDER BY migration_id")] == [
            "0001.initial-schema", "0002.books-and-views", "0003.closed-trade-stats", "0004.archived-pnl",
            "0005.faster-stats-triggers", "0006.closed-trade-sort-indexes",
        ]
        applies = raw.execute("SELECT count(*) FROM _yoyo_log WHERE operation = 'apply'").fetchone()[0]
        assert applies == 6


async def test_a_stale_yoyo_lock_row_does_not_block_connect(new_url):
    with connect(new_url) as raw:  # as a killed `yoyo apply` leaves it
        raw.execute("CREATE TABLE yoyo_lock (locked INT DEFAULT 1, ctime TIMESTAMP, pid INT NOT NULL, PRIMARY KEY (locked))")
        raw.execute("INSERT INTO yoyo_lock (locked, ctime, pid) VALUES (1, now() - interval '1 hour', 999999)")
    started = time.monotonic()
    async with tradedb.connect(new_url, busy_timeout=2) as repo:
        await repo.create_bot_instance({"id": "bot-1", "type": "paper"})
    assert time.monotonic() - started < 10


# What is sent ---------------------------------------------------------------


async def test_every_statement_sent_begins_with_its_query_name(url):
    async with tradedb.connect(url, busy_timeout=5) as repo:
        await repo.create_bot_instance({"id": "bot-1", "type": "paper"})
        with connect(url) as holder:
            with holder.transaction():
                holder.execute("SELECT id FROM bot_instances WHERE id = 'bot-1' FOR UPDATE")
                waiting = asyncio.create_task(repo.update_bot_instance("bot-1", {"config_file": "x.yaml"}))
                query = None
                for _ in range(100):
                    await asyncio.sleep(0.02)
                    row = holder.execute(
                        "SELECT query FROM pg_stat_activity WHERE datname = current_database() "
                        "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
                    ).fetchone()
                    if row:
                        query = row[0]
                        break
        await waiting
    assert query is not None and query.startswith("-- name: "), query


# Serialization conflicts between processes ---------------------------------

CLOSER = textwrap.dedent(
    """
    import asyncio, random, sys, tradedb

    async def main(url, who, ids, shared):
        sys.stdin.readline()  # all start together
        async with tradedb.connect(url, pool_size=4, busy_timeout=30) as repo:
            async def close(trade_id):
                await repo.close_trade(trade_id, exit_price=str(random.randint(49000, 51000)) + ".12345678")

            async def correct(n):
                await repo.update_trade(shared, {"net_pnl": f"{random.randint(-999, 999)}.{n:08d}"})

            await asyncio.gather(*(close(t) for t in ids.split(",")), *(correct(n) for n in range(25)))
        print("done", flush=True)

    asyncio.run(main(*sys.argv[1:]))
    """
)


async def test_two_processes_closing_and_correcting_trades_of_one_bot_leave_exact_books(url):
    async with tradedb.connect(url) as repo:
        await repo.create_bot_instance({"id": "bot-1", "type": "paper", "current_balance": "100000"})
        opened = await repo.create_trades([trade_data() for _ in range(101)])
        shared = opened[0].id
        await repo.close_trade(shared, exit_price="50000")
        ids = [t.id for t in opened[1:]]
        results = start_together(CLOSER, (url, "a", ",".join(ids[:50]), shared), (url, "b", ",".join(ids[50:]), shared))
        for result in results:
            assert result.returncode == 0 and result.stdout.strip() == "done" and result.stderr == "", result.stderr
        closed = await repo.get_closed_trades(limit=1000)
        assert len(closed) == 101
        total = sum((t.net_pnl for t in closed), D(0))
        bot = await repo.get_bot_instance("bot-1")
        assert bot.total_pnl == total
        assert bot.current_balance == D(100000) + total
        assert (await repo.health())["bots_with_wrong_books"] == 0


# A server restart ---------------------------------------------------------------


def cluster_command(action: str) -> list[str]:
    """pg_ctlcluster for the local cluster serving the test server's port (Debian's layout)."""
    port = str(urlsplit(SERVER_URL).port or 5432)
    for line in subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=True).stdout.splitlines():
        version, cluster, cluster_port = line.split()[:3]
        if cluster_port == port:
            command = ["pg_ctlcluster", "--skip-systemctl-redirect", version, cluster, action]
            return command + (["--", "-m", "fast"] if action == "stop" else [])
    pytest.fail(f"no local cluster serves port {port} (pg_lsclusters): the restart test needs the server on this host")


def wait_until_ready(seconds: float = 30) -> None:
    parts = urlsplit(SERVER_URL)
    ready = shutil.which("pg_isready") or f"{PG_BIN}/pg_isready"
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if subprocess.run([ready, "-q", "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432)]).returncode == 0:
            return
        time.sleep(0.1)
    pytest.fail("the PostgreSQL server did not come back within 30 s")


async def test_a_server_restart_raises_server_unreachable_then_calls_succeed_again_and_nothing_is_lost(url):
    if not server_is_local():
        pytest.fail("the restart test stops the server: TRADEDB_TEST_POSTGRESQL_URL must name a local cluster")
    stop, start = cluster_command("stop"), cluster_command("start")
    async with tradedb.connect(url, busy_timeout=2) as repo:
        await repo.create_bot_instance({"id": "bot-1", "type": "paper", "current_balance": "1000"})
        committed = [await repo.create_trade(trade_data()) for _ in range(3)]
        await repo.close_trade(committed[0].id, exit_price="51000")
        try:
            async with repo.transaction():
                half = await repo.create_trade(trade_data(symbol="ETHUSDT"))
                subprocess.run(stop, check=True, capture_output=True, timeout=60)
                with pytest.raises(tradedb.ServerUnreachable):
                    await repo.close_trade(committed[1].id, exit_price="51000")
        except tradedb.ServerUnreachable:
            pass  # the open transaction could not commit: nothing of it was written
        try:
            for call in (repo.get_open_trades(), repo.create_trade(trade_data()), repo.get_bot_instance("bot-1")):
                with pytest.raises(tradedb.ServerUnreachable) as caught:
                    await call
                message = str(caught.value)
                assert "unreachable" in message or "cannot be reached" in message, message
        finally:
            subprocess.run(start, check=True, capture_output=True, timeout=60)
            wait_until_ready()
        # The same repository, without reconnecting by hand.
        assert (await repo.get_bot_instance("bot-1")).total_pnl == D(100)
        assert {t.id for t in await repo.get_open_trades()} == {committed[1].id, committed[2].id}
        assert await repo.get_trade_by_id(half.id) is None
        after = await repo.create_trade(trade_data())
        await repo.close_trade(after.id, exit_price="51000")
        assert (await repo.get_bot_instance("bot-1")).total_pnl == D(200)


def closed_trade(**overrides: object) -> dict:
    return trade_data(status="closed", exit_price="50100", exit_time="2024-03-02T00:00:00Z", **overrides)


async def test_bot_writes_and_trade_writes_of_one_bot_from_two_hosts_never_deadlock(url):
    # heartbeat & co. once named the bot's type (a key its trades refer to) in their UPDATE, locking the row
    # against every trade insert of the bot: creates and heartbeats of one bot deadlocked and stalled.
    deadlocks_before = deadlocks_of(url)
    async with tradedb.connect(url) as bot_host, tradedb.connect(url) as monitor:
        await bot_host.start_bot({"id": "bot-1", "type": "paper", "current_balance": "1000"})

        async def creator() -> None:
            for _ in range(20):
                await bot_host.create_trade(closed_trade())

        async def beater() -> None:
            for _ in range(30):
                await monitor.heartbeat("bot-1")
                await monitor.set_bot_balance("bot-1", "1000")

        await asyncio.gather(creator(), creator(), creator(), beater(), beater())
        trades = [t async for t in bot_host.iter_trades()]
        bot = await bot_host.get_bot_instance("bot-1")
    assert len(trades) == 60 and bot.total_pnl == sum((t.net_pnl for t in trades), D(0))
    assert deadlocks_of(url) == deadlocks_before


def deadlocks_of(url: str) -> int:
    with connect(url) as raw:
        raw.execute("SELECT pg_stat_clear_snapshot()")
        row = raw.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()").fetchone()
    return int(row[0]) if row else 0


@pytest.mark.parametrize("same_entry", [True, False])
async def test_a_batch_racing_another_with_the_same_ids_answers_as_a_retry_would(url, same_entry):
    ids = ["11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"]
    async with tradedb.connect(url) as first, tradedb.connect(url) as second:
        await first.create_bot_instance({"id": "bot-1", "type": "paper"})
        batch = [trade_data(id=trade_id) for trade_id in ids]
        retried = [trade_data(id=trade_id, entry_price="50000" if same_entry else "999") for trade_id in ids]
        async with first.transaction():
            await first.create_trades(batch)
            racing = asyncio.create_task(second.create_trades(retried))
            await asyncio.sleep(0.3)  # the second waits on the first's uncommitted rows
        if same_entry:
            assert [t.id for t in await racing] == ids
        else:
            with pytest.raises(tradedb.ConflictError, match="different entry_price"):
                await racing
        stored = [await first.get_trade_by_id(trade_id) for trade_id in ids]
    assert [t.entry_price for t in stored] == [D("50000"), D("50000")]


@pytest.mark.parametrize("bad", ["postgresql://bot:p@ss{s}@127.0.0.1:5432/test", "postgresql://bot:{s}@[::1:5432/test"])
async def test_a_url_libpq_would_read_otherwise_is_refused_without_its_password(bad):
    with pytest.raises(tradedb.ValidationError) as caught:
        await tradedb.connect(bad.format(s=SECRET))
    assert caught.value.field == "database"
    text = "".join(traceback.format_exception(caught.value))
    assert SECRET not in text
