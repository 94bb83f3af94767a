"""The benchmark's own checks, on a few rows: the floor and tradedb store and return the same, and a difference is caught.

Timing is never tested here (targets live in bench/run.py). SQLAlchemy is
only in the bench extra, so its implementation is checked when installed.
The PostgreSQL benchmark runs end to end, at a cut-down small scale, on the
test server (TRADEDB_TEST_POSTGRESQL_URL, by default
postgresql://root@127.0.0.1:5432/test): without a server it FAILS, never skips.
"""

from __future__ import annotations

import os
import subprocess
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


# PostgreSQL: the whole benchmark, end to end, on the test server -------------------------------

POSTGRESQL_URL = os.environ.get("TRADEDB_TEST_POSTGRESQL_URL", "postgresql://root@127.0.0.1:5432/test")
RUN = Path(__file__).resolve().parent.parent / "bench" / "run.py"
# The small scale, cut to run in well under a minute; every workload and check still runs.
QUICK = ["--scale", "small", "--reps", "1", "--size", "w1=1000", "--size", "w2=60", "--size", "w3=10000",
         "--size", "w3_base=2000", "--size", "w3_queries=50", "--size", "w5_cycles=6"]


def scratch_databases(pid: int) -> list[str]:
    """The scratch databases a run with this pid left on the server (it must leave none)."""
    import psycopg

    with psycopg.connect(POSTGRESQL_URL, autocommit=True, connect_timeout=5) as conn:
        return [row[0] for row in conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (f"tdbench\\_{pid}\\_%",))]


def test_the_benchmark_runs_on_postgresql_end_to_end(tmp_path: Path) -> None:
    """Fails, never skips, without a server: run.py says the server is unreachable and exits non-zero."""
    output = tmp_path / "RESULTS-postgresql.md"
    proc = subprocess.Popen([sys.executable, str(RUN), "--backend", "postgresql", "--postgresql-url", POSTGRESQL_URL,
                             *QUICK, "--output", str(output)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        proc.terminate()  # SIGTERM: the run still drops its databases
        out, err = proc.communicate()
        pytest.fail(f"the PostgreSQL benchmark took over 240 s:\n{err[-3000:]}")
    assert proc.returncode == 0, f"bench/run.py --backend postgresql failed:\n{err[-3000:]}"
    report = output.read_text()
    assert "| W5 zero errors |" in report and "not run" not in report
    checks = [line for line in report.splitlines() if line.startswith("- ok: ") or line.startswith("- **FAILED**")]
    assert checks and all(line.startswith("- ok: ") for line in checks), "\n".join(checks)
    for name in ("floor", "tradedb", "sqlalchemy"):  # every implementation was checked, through every workload
        for workload in ("W1", "W2", "W3", "W4", "W5", "Memory"):
            assert any(line.startswith(f"- ok: {workload} {name}") for line in checks), (workload, name)
    assert "PostgreSQL server 15" in report
    assert scratch_databases(proc.pid) == []


def test_the_benchmark_fails_when_postgresql_is_unreachable(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(RUN), "--backend", "postgresql", "--postgresql-url",
                           "postgresql://root@127.0.0.1:1/test", "--output", str(tmp_path / "r.md")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "PostgreSQL is unreachable at postgresql://root@127.0.0.1:1/test" in proc.stderr
    assert not (tmp_path / "r.md").exists()
