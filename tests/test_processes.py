"""Many processes on one database, and writers killed with SIGKILL at random points: on a SQLite
file and on a PostgreSQL database of the test server (each test a new one, dropped afterwards).

The PostgreSQL runs need the server (TRADEDB_TEST_POSTGRESQL_URL, by default
postgresql://root@127.0.0.1:5432/test): without it they FAIL, saying so; they never skip.
"""

from __future__ import annotations

import asyncio
import json
import random
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal, localcontext
from pathlib import Path

import pytest

import tradedb
from procs import is_url, new_postgresql_database, read, wait_for_sessions_to_end

WORKER = str(Path(__file__).with_name("procs.py"))
PROCESSES, LIFECYCLES = 8, 300
# CI's full run: each kill costs about a second (a process start and the checks).
# On PostgreSQL a kill tests the same thing as on SQLite, on a server that does
# the recovery itself (the killed session's transaction dies with it): 20 kills
# cover the same kinds of moments, and keep the test within its SQLite twin's time.
KILLS = {"sqlite": 50, "postgresql": 20}


@pytest.fixture(params=["sqlite", "postgresql"])
def new_database(request: pytest.FixtureRequest, db_path: Path) -> Iterator[str]:
    """A database that does not exist yet (SQLite: a path) or is empty (PostgreSQL: a new database's URL)."""
    if request.param == "sqlite":
        yield str(db_path)
        return
    with new_postgresql_database() as url:
        yield url


def exact_sum(values: list[object]) -> Decimal:
    with localcontext(prec=80):
        return sum((Decimal(v) for v in values), Decimal(0))


def settled(database: str) -> None:
    """Wait until nothing a killed process sent can still change the database (PostgreSQL: its sessions ended)."""
    if is_url(database):
        wait_for_sessions_to_end(database)


def check_books(database: str) -> None:
    """Every closed trade is whole, and every bot's total_pnl is the exact sum of its trades' net_pnl."""
    if is_url(database):
        # The server checks its pages itself; the foreign keys are real ones, yet a row without its bot is looked for.
        orphans = read(database, "SELECT count(*) FROM trades t WHERE NOT EXISTS "
                                 "(SELECT 1 FROM bot_instances b WHERE b.id = t.bot_id AND b.type = t.trade_type)")
        assert orphans == [(0,)]
    else:
        assert read(database, "PRAGMA integrity_check") == [("ok",)]
        assert read(database, "PRAGMA foreign_key_check") == []
    half_written = read(
        database,
        "SELECT count(*) FROM trades WHERE status = 'closed' AND "
        "(exit_price IS NULL OR exit_time IS NULL OR net_pnl IS NULL OR gross_pnl IS NULL OR exit_value IS NULL)",
    )
    assert half_written == [(0,)]
    nets: dict[str, list[object]] = {}
    for bot_id, net_pnl in read(database, "SELECT bot_id, net_pnl FROM trades WHERE status = 'closed'"):
        nets.setdefault(bot_id, []).append(net_pnl)
    books = dict(read(database, "SELECT id, total_pnl FROM bot_instances"))
    assert nets.keys() <= books.keys()
    for bot_id, total_pnl in books.items():
        # Decimal of the stored text (SQLite) or of the NUMERIC (psycopg's Decimal): exact either way.
        assert Decimal(total_pnl) == exact_sum(nets.get(bot_id, [])), bot_id


def stored_trades(database: str) -> dict[str, str]:
    """Each trade's id (as text) and status."""
    return dict(read(database, "SELECT CAST(id AS TEXT), status FROM trades"))


async def test_eight_processes_share_one_database_without_errors(new_database):
    database = new_database
    async with tradedb.connect(database):
        pass  # migrate once, as an operator would before starting the bots
    workers = [
        subprocess.Popen(
            [sys.executable, WORKER, "lifecycles", database, f"bot-{n % 4}", str(LIFECYCLES), str(n)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for n in range(PROCESSES)
    ]
    reports = []
    for worker in workers:
        out, err = await asyncio.to_thread(worker.communicate, timeout=240)
        assert worker.returncode == 0, err
        reports.append(json.loads(out))
    assert [r["errors"] for r in reports] == [[]] * PROCESSES
    statuses = dict(read(database, "SELECT status, count(*) FROM trades GROUP BY status"))
    assert statuses == {"closed": PROCESSES * LIFECYCLES}
    assert stored_trades(database).keys() == {trade_id for r in reports for trade_id in r["trades"]}
    check_books(database)


def read_log(lines: list[str]) -> tuple[set[str], set[str]]:
    created, closed = set(), set()
    for line in lines:
        parts = line.split()
        if len(parts) == 2 and parts[0] in ("created", "closed"):  # a line cut by the kill is ignored
            (created if parts[0] == "created" else closed).add(parts[1])
    return created, closed


async def test_a_writer_killed_at_random_points_loses_nothing_it_saw_committed(new_database, tmp_path):
    database = new_database
    rng = random.Random(20261123)
    seen_created: set[str] = set()
    seen_closed: set[str] = set()
    kills = KILLS["postgresql" if is_url(database) else "sqlite"]
    for round_ in range(kills):
        errors = tmp_path / f"writer-{round_}.err"
        with errors.open("w") as stderr:
            writer = subprocess.Popen(
                [sys.executable, WORKER, "writer", database, "crashy", str(round_)],
                stdout=subprocess.PIPE, stderr=stderr, text=True,
            )
        # Wait until it is writing, but not forever: the whole test stays bounded in time.
        if not select.select([writer.stdout], [], [], 60)[0]:
            writer.kill()
            writer.wait()
            raise AssertionError(f"the writer wrote nothing within 60 s: {errors.read_text()}")
        first = writer.stdout.readline()
        assert first, errors.read_text()
        time.sleep(rng.uniform(0.0, 0.4))
        writer.send_signal(signal.SIGKILL)
        # Read through the same buffered stream as readline did, so no logged line is lost.
        rest = writer.stdout.read()
        writer.stdout.close()
        writer.wait(timeout=30)
        assert writer.returncode == -signal.SIGKILL
        created, closed = read_log([first, *rest.splitlines()])
        seen_created |= created
        seen_closed |= closed

        settled(database)
        check_books(database)
        stored = stored_trades(database)
        assert seen_created <= stored.keys()
        assert all(stored[trade_id] == "closed" for trade_id in seen_closed)
        async with tradedb.connect(database) as repo:
            state = await repo.start_bot({"id": "crashy"})
            # exactly the positions open at the last commit, whatever the log managed to say
            assert {t.id for t in state.open_trades} == {i for i, s in stored.items() if s == "open"}
            # A close can commit just before the kill and never reach the log: at most one per kill.
            closed_unlogged = {i for i in seen_created - seen_closed if stored[i] == "closed"}
            assert len(closed_unlogged) <= round_ + 1
            open_ids = {t.id for t in state.open_trades}
            assert (seen_created - seen_closed) - open_ids == closed_unlogged
            # ...and a batch (up to 3 trades) can commit just before the kill without being logged.
            assert len(open_ids - seen_created) <= 3 * (round_ + 1)
    assert len(seen_closed) > 10
