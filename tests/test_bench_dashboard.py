"""bench/dashboard.py at a tiny size: it runs on both backends, its exactness checks pass, and a wrong figure fails it.

Timing is never tested here (the 300 ms target is reported by the script,
not enforced). The PostgreSQL run uses the test server
(TRADEDB_TEST_POSTGRESQL_URL, by default postgresql://root@127.0.0.1:5432/test)
and must leave no scratch database behind; without a server it FAILS, never
skips.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "dashboard.py"
POSTGRESQL_URL = os.environ.get("TRADEDB_TEST_POSTGRESQL_URL", "postgresql://root@127.0.0.1:5432/test")
TINY = ["--trades", "2000", "--bots", "4", "--reps", "1", "--csv-reps", "1"]


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *TINY, *args], capture_output=True, text=True, timeout=120)


def checks_of(report: str, backend: str) -> list[str]:
    """The check lines of one backend's section of the report."""
    begin, end = f"<!-- {backend} -->", f"<!-- /{backend} -->"
    assert begin in report and end in report, report[:2000]
    part = report[report.index(begin):report.index(end)]
    return [line for line in part.splitlines() if line.startswith(("- ok: ", "- **FAILED**"))]


def scratch_databases(pid: int) -> list[str]:
    import psycopg

    with psycopg.connect(POSTGRESQL_URL, autocommit=True, connect_timeout=5) as conn:
        return [row[0] for row in conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (f"tdbench\\_{pid}\\_%",))]


def test_the_dashboard_benchmark_runs_and_proves_its_figures_on_both_backends(tmp_path: Path) -> None:
    output = tmp_path / "RESULTS-dashboard.md"
    sqlite_run = bench("--backend", "sqlite", "--no-cache", "--output", str(output))
    assert sqlite_run.returncode == 0, sqlite_run.stderr[-3000:]
    proc = subprocess.Popen([sys.executable, str(SCRIPT), *TINY, "--backend", "postgresql", "--no-cache",
                             "--postgresql-url", POSTGRESQL_URL, "--output", str(output)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.terminate()  # SIGTERM: the run still drops its scratch database
        _, err = proc.communicate()
        pytest.fail(f"the PostgreSQL run took over 120 s:\n{err[-3000:]}")
    assert proc.returncode == 0, err[-3000:]
    assert scratch_databases(proc.pid) == []
    report = output.read_text()
    for backend in ("sqlite", "postgresql"):  # one report, a section per backend, the other kept
        checks = checks_of(report, backend)
        assert len(checks) > 100 and all(line.startswith("- ok: ") for line in checks), "\n".join(checks)
        for figure in ("overview totals: total PnL = get_trade_summary()",
                       "sum of the daily PnL = get_trade_summary total net PnL",
                       "last cumulative value = get_trade_summary total net PnL",
                       "trades page total (no filter) = get_trade_summary closed trades",
                       "trades page total (since=", "CSV of dash_bot_000: sum of net_pnl"):
            assert any(figure in line for line in checks), (backend, figure)
    assert "| overview | `/api/overview` |" in report and "rows/s" in report
    assert "PostgreSQL server 15" in report


def test_a_wrong_figure_fails_the_run(tmp_path: Path) -> None:
    """closed_trade_stats made to disagree with the trades (one cent more on one row): the run says where, exits 1."""
    cache, output = tmp_path / "cache", tmp_path / "r.md"
    first = bench("--backend", "sqlite", "--cache", str(cache), "--output", str(output))
    assert first.returncode == 0, first.stderr[-3000:]
    (database,) = cache.glob("tdbench_dashboard_*.db")
    with sqlite3.connect(database) as conn:
        conn.execute("UPDATE closed_trade_stats SET net_pnl_units = net_pnl_units + 1000000 "
                     "WHERE (bot_id, day, symbol, bucket) = (SELECT bot_id, day, symbol, bucket FROM closed_trade_stats "
                     "ORDER BY bot_id, day, symbol, bucket LIMIT 1)")
    conn.close()
    second = bench("--backend", "sqlite", "--cache", str(cache), "--output", str(output))
    assert second.returncode == 1, second.stderr[-3000:]
    assert "using the cached database" in second.stderr
    assert "checks failed: the dashboard's figures are not exact" in second.stderr
    failed = [line for line in checks_of(output.read_text(), "sqlite") if line.startswith("- **FAILED**")]
    assert any("sum of the daily PnL = get_trade_summary total net PnL" in line for line in failed), failed
