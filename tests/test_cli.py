"""The `tradedb` command, driven through its real entry points (`python -m tradedb` and the console script)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import re
import shutil
import stat
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

import tradedb

from cli_support import T0, assert_one_line_error, cli, digest


def test_help_lists_every_subcommand_through_the_console_script(tmp_path):
    result = cli("--help", cwd=tmp_path, script=True)
    assert result.code == 0
    for name in ("migrate", "status", "bots", "trades", "summary", "metrics", "cleanup", "backup", "export", "demo"):
        assert name in result.out
    assert cli("--version", cwd=tmp_path).out.strip() == f"tradedb {tradedb.__version__}"


def test_no_subcommand_prints_the_help_on_stderr_and_exits_2(tmp_path):
    for args in ((), ("--debug",)):
        result = cli(*args, cwd=tmp_path)
        assert result.code == 2 and result.out == ""
        assert result.err.startswith("usage: tradedb") and "subcommands" in result.err
    assert list(tmp_path.iterdir()) == []


def test_migrate_counts_in_the_singular_for_one(tmp_path):
    target = tmp_path / "t.db"
    assert cli("migrate", "--database", str(target), cwd=tmp_path).code == 0
    applied = [m for m in json.loads(cli("migrate", "--list", "--json", "--database", str(target), cwd=tmp_path).out)
               ["migrations"] if m["status"] == "applied"]
    again = cli("migrate", "--database", str(target), cwd=tmp_path)
    noun = "migration" if len(applied) == 1 else "migrations"
    assert again.code == 0 and again.out.strip().endswith(f"is up to date ({len(applied)} {noun} applied)")


def test_migrate_creates_lists_and_is_idempotent(tmp_path):
    target = tmp_path / "new" / "folder" / "t.db"
    listed = cli("migrate", "--list", "--json", "--database", str(target), cwd=tmp_path)
    assert json.loads(listed.out)["migrations"] == [
        {"migration": "0001.initial-schema", "status": "pending"}, {"migration": "0002.books-and-views", "status": "pending"},
        {"migration": "0003.closed-trade-stats", "status": "pending"}, {"migration": "0004.archived-pnl", "status": "pending"},
        {"migration": "0005.faster-stats-triggers", "status": "pending"},
        {"migration": "0006.closed-trade-sort-indexes", "status": "pending"},
    ]
    assert not target.exists(), "--list must not create the database"
    first = cli("migrate", "--database", str(target), cwd=tmp_path)
    assert first.code == 0 and "applied 0001.initial-schema" in first.out
    again = cli("migrate", "--database", f"sqlite:///{target}", cwd=tmp_path)
    assert again.code == 0 and "up to date" in again.out
    table = cli("migrate", "--list", "--database", str(target), cwd=tmp_path).out
    assert "applied" in table and "0001.initial-schema" in table


def test_the_default_database_is_db_trading_db_or_the_environment(tmp_path):
    assert cli("migrate", cwd=tmp_path).code == 0
    assert (tmp_path / "db" / "trading.db").exists()
    env_db = tmp_path / "elsewhere.db"
    env = {**os.environ, "TRADEDB_DATABASE": str(env_db)}
    done = subprocess.run([sys.executable, "-m", "tradedb", "migrate"], cwd=tmp_path, env=env, capture_output=True)
    assert done.returncode == 0 and env_db.exists()


def test_status_reports_health_and_exits_1_when_unhealthy(db, tmp_path):
    result = cli("status", "--json", "--database", str(db), cwd=tmp_path)
    report = json.loads(result.out)
    assert result.code == 0 and report["ok"] is True
    assert report["row_counts"] == {"bot_instances": 3, "trades": 4, "performance_metrics": 1}
    assert report["applied_migrations"] == [
        "0001.initial-schema", "0002.books-and-views", "0003.closed-trade-stats", "0004.archived-pnl",
        "0005.faster-stats-triggers", "0006.closed-trade-sort-indexes",
    ] and report["stale_bots"] == 1
    text = cli("status", "--database", str(db), cwd=tmp_path).out
    assert "integrity" in text and "0001.initial-schema" in text
    bare = tmp_path / "bare.db"
    sqlite3.connect(bare).close()
    before = digest(bare)
    unhealthy = cli("status", "--json", "--database", str(bare), cwd=tmp_path)
    assert unhealthy.code == 1 and json.loads(unhealthy.out)["pending_migrations"] == [
        "0001.initial-schema", "0002.books-and-views", "0003.closed-trade-stats", "0004.archived-pnl",
        "0005.faster-stats-triggers", "0006.closed-trade-sort-indexes",
    ]
    assert digest(bare) == before


def test_bots_shows_books_open_trades_and_stale_marker(db, tmp_path):
    rows = {row["id"]: row for row in json.loads(cli("bots", "--json", "--database", str(db), cwd=tmp_path).out)}
    assert rows["alpha"]["current_balance"] == "998.50000000" and rows["alpha"]["total_pnl"] == "-1.50000000"
    assert rows["alpha"]["open_trades"] == 1 and rows["alpha"]["stale"] is False
    assert rows["beta"]["stale"] is True and rows["beta"]["heartbeat_age_seconds"] >= 3600
    assert rows["gamma"]["stale"] is False  # stopped bots are never stale
    fresh = json.loads(cli("bots", "--json", "--stale-after", "2h", "--database", str(db), cwd=tmp_path).out)
    assert not any(row["stale"] for row in fresh)
    table = cli("bots", "--database", str(db), cwd=tmp_path).out.splitlines()
    assert "STALE" in next(line for line in table if line.startswith("beta"))
    assert "1h" in next(line for line in table if line.startswith("beta"))


def test_trades_filters_and_prints_exact_decimals(db, tmp_path):
    def trades(*args: str) -> list[dict[str, object]]:
        result = cli("trades", "--json", *args, "--database", str(db), cwd=tmp_path)
        assert result.code == 0, result.err
        return json.loads(result.out)

    everything = trades()
    assert [t["status"] for t in everything] == ["open", "closed", "closed", "closed"]
    assert everything[0]["size"] == "0.00000001" and everything[0]["entry_time"] == "2024-03-04T12:00:00.000000Z"
    assert [t["symbol"] for t in trades("--closed", "--limit", "2")] == ["BTCUSDT", "ETHUSDT"]
    assert [t["symbol"] for t in trades("--open")] == ["SOLUSDT"]
    assert len(trades("--symbol", "BTCUSDT", "--bot", "alpha")) == 2
    table = cli("trades", "--limit", "1", "--database", str(db), cwd=tmp_path)
    assert "0.00000001" in table.out and "E-" not in table.out


def test_the_limit_notice_only_when_the_default_limit_cut_the_list(tmp_path):
    path = tmp_path / "sixty.db"
    asyncio.run(_closed_trades(path, 60, T0))
    cut = cli("trades", "--json", "--database", str(path), cwd=tmp_path)
    assert cut.code == 0 and len(json.loads(cut.out)) == 50
    assert "showing the first 50 trades" in cut.err and "--limit 0 shows all" in cut.err
    for limit, shown in (("3", 3), ("50", 50), ("0", 60), ("60", 60)):
        chosen = cli("trades", "--json", "--limit", limit, "--database", str(path), cwd=tmp_path)
        assert chosen.code == 0 and len(json.loads(chosen.out)) == shown and chosen.err == "", (limit, chosen.err)


async def _cancel_two(path: Path) -> None:
    async with tradedb.connect(path) as repo:
        common = {"bot_id": "alpha", "trade_type": "paper", "entry_logic_name": "E", "exit_logic_name": "X",
                  "interval": "1h", "direction": "long", "entry_price": "1", "size": "1"}
        for symbol in ("ADAUSDT", "XRPUSDT"):
            trade = await repo.create_trade({**common, "symbol": symbol, "entry_time": T0})
            await repo.cancel_trade(trade.id, "no fill")


def test_trades_cancelled_lists_only_cancelled_trades_newest_first(db, tmp_path):
    asyncio.run(_cancel_two(db))

    def symbols(*args: str) -> list[str]:
        result = cli("trades", "--json", *args, "--database", str(db), cwd=tmp_path)
        assert result.code == 0 and result.err == "", result.err
        return [trade["symbol"] for trade in json.loads(result.out)]

    result = cli("trades", "--cancelled", "--json", "--database", str(db), cwd=tmp_path)
    cancelled = json.loads(result.out)
    assert [t["symbol"] for t in cancelled] == ["XRPUSDT", "ADAUSDT"]  # newest cancellation first
    assert {t["status"] for t in cancelled} == {"cancelled"} and {t["exit_reason"] for t in cancelled} == {"no fill"}
    assert symbols("--cancelled", "--limit", "1") == ["XRPUSDT"]
    assert symbols("--cancelled", "--symbol", "ADAUSDT", "--bot", "alpha") == ["ADAUSDT"]
    assert symbols("--cancelled", "--bot", "gamma") == []
    assert "ADAUSDT" not in symbols() and "ADAUSDT" not in symbols("--open") + symbols("--closed")
    table = cli("trades", "--cancelled", "--database", str(db), cwd=tmp_path).out
    assert "cancelled" in table and "XRPUSDT" in table
    for other in ("--open", "--closed"):
        clash = cli("trades", "--cancelled", other, "--database", str(db), cwd=tmp_path)
        assert_one_line_error(clash, "not allowed with")
        assert clash.code == 2


def test_summary_with_dates_without_offset_meaning_utc(db, tmp_path):
    def summary(*args: str) -> dict[str, object]:
        result = cli("summary", "--json", "--bot", "alpha", *args, "--database", str(db), cwd=tmp_path)
        assert result.code == 0, result.err
        return json.loads(result.out)

    everything = summary()
    assert everything["total_trades"] == 4 and everything["closed_trades"] == 3
    assert everything["total_net_pnl"] == "-1.50000000"  # 97.5 - 100 + 1
    assert summary("--since", "2024-03-01T12:00")["total_trades"] == 4
    assert summary("--since", "2024-03-01T12:00:01")["total_trades"] == 3
    assert summary("--since", "2024-03-01T13:00:00+01:00")["total_trades"] == 4
    assert summary("--since", "2024-03-01", "--until", "2024-03-02")["total_trades"] == 1  # until is exclusive
    assert summary("--since", "2024-03-01", "--until", "2024-03-02T00:00:01")["total_trades"] == 2
    assert "win_rate" in cli("summary", "--database", str(db), cwd=tmp_path).out


def test_metrics_store_and_no_store(db, tmp_path):
    dry = cli("metrics", "alpha", "--starting-balance", "1000", "--no-store", "--json", "--database", str(db), cwd=tmp_path)
    figures = json.loads(dry.out)
    assert dry.code == 0 and figures["stored"] is False and figures["total_trades"] == 3
    assert figures["total_return"] == "-0.1500" and figures["largest_loss"] == "-100.00000000"
    stored = cli("metrics", "alpha", "--database", str(db), cwd=tmp_path)
    assert stored.code == 0 and "stored as" in stored.out

    async def count() -> int:
        async with tradedb.connect(db, migrate=False) as repo:
            return len(await repo.get_performance_metrics("alpha"))

    assert asyncio.run(count()) == 2  # the old row and the one just stored, not the --no-store one


def test_cleanup_dry_run_then_delete(db, tmp_path):
    dry = cli("cleanup", "--dry-run", "--json", "--database", str(db), cwd=tmp_path)
    assert json.loads(dry.out) == {"dry_run": True, "trades": 2, "performance_metrics": 1}
    before_dry = digest(db)
    assert cli("cleanup", "--dry-run", "--database", str(db), cwd=tmp_path).out.startswith("would delete 2")
    assert digest(db) == before_dry
    done = cli("cleanup", "--days", "90", "--metrics-days", "365", "--database", str(db), cwd=tmp_path)
    assert done.code == 0 and done.out.startswith("deleted 2 ")
    remaining = json.loads(cli("trades", "--json", "--database", str(db), cwd=tmp_path).out)
    assert sorted(t["symbol"] for t in remaining) == ["BTCUSDT", "SOLUSDT"]  # the open one and the recent one


def test_backup_to_a_file_a_folder_and_the_default_place(db, tmp_path):
    explicit = cli("backup", str(tmp_path / "copies" / "b.db"), "--database", str(db), cwd=tmp_path)
    assert explicit.code == 0 and Path(explicit.out.strip()) == tmp_path / "copies" / "b.db"
    into_folder = Path(cli("backup", str(tmp_path / "copies") + "/", "--database", str(db), cwd=tmp_path).out.strip())
    default = Path(cli("backup", "--database", str(db), cwd=tmp_path).out.strip())
    assert into_folder.parent == tmp_path / "copies" and default.parent == tmp_path / "backups"
    for copy in (tmp_path / "copies" / "b.db", into_folder, default):
        with sqlite3.connect(copy) as connection:
            assert connection.execute("SELECT count(*) FROM trades").fetchone() == (4,)
    again = cli("backup", str(tmp_path / "copies" / "b.db"), "--database", str(db), cwd=tmp_path)
    assert_one_line_error(again, "exists")


def test_export_trades_csv_and_jsonl(db, tmp_path):
    result = cli("export", "trades", "--database", str(db), cwd=tmp_path)
    rows = list(csv.DictReader(io.StringIO(result.out)))
    assert result.code == 0 and [row["symbol"] for row in rows] == ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BTCUSDT"]
    assert rows[0]["net_pnl"] == "97.50000000" and rows[0]["exit_time"] == "2024-03-02T12:00:00Z"
    assert rows[2]["size"] == "0.00000001" and rows[2]["exit_time"] == "" and rows[2]["status"] == "open"
    only_open = cli("export", "trades", "--status", "open", "--symbol", "SOLUSDT", "--database", str(db), cwd=tmp_path)
    assert len(list(csv.DictReader(io.StringIO(only_open.out)))) == 1
    out = tmp_path / "out" / "t.jsonl"
    out.parent.mkdir()
    written = cli("export", "trades", "--format", "jsonl", "--bot", "alpha", "-o", str(out), "--database", str(db),
                  cwd=tmp_path)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert written.code == 0 and written.out == "" and len(lines) == 4
    assert {line["entry_price"] for line in lines} == {"50000.00000000", "3000.00000000", "100.50000000",
                                                       "60000.00000000"}
    assert not list(out.parent.glob("*.partial"))


def test_export_refuses_an_existing_file_unless_forced(db, tmp_path):
    target = tmp_path / "trades.csv"
    target.write_text("precious\n")
    refused = cli("export", "trades", "--output", str(target), "--database", str(db), cwd=tmp_path)
    assert_one_line_error(refused, str(target), "exists", "--force")
    assert target.read_text() == "precious\n"
    forced = cli("export", "trades", "-o", str(target), "--force", "--database", str(db), cwd=tmp_path)
    assert forced.code == 0 and "exported 4 trades to" in forced.err
    assert len(list(csv.DictReader(io.StringIO(target.read_text())))) == 4
    one = cli("export", "trades", "--status", "open", "-o", str(tmp_path / "one.csv"), "--database", str(db),
              cwd=tmp_path)
    assert one.code == 0 and "exported 1 trade to" in one.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.csv", "trades.csv", "trading.db"]


@pytest.mark.parametrize("suffix", ["", "-wal", "-shm", "-journal"])
@pytest.mark.parametrize("force", [False, True])
def test_export_never_writes_over_the_database_or_its_files(db, tmp_path, suffix, force):
    before = digest(db)
    link = tmp_path / "link.csv"
    link.symlink_to(db)
    for output in (str(db) + suffix, f"{tmp_path}/./{db.name}{suffix}", str(link)):
        if output == str(link) and suffix:
            continue
        result = cli("export", "trades", "-o", output, *(["--force"] if force else []), "--database", str(db),
                     cwd=tmp_path)
        assert_one_line_error(result, "refusing to write over the database", str(db))
    assert digest(db) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.csv", "trading.db"]


def test_export_into_a_missing_folder_says_so(db, tmp_path):
    result = cli("export", "trades", "-o", str(tmp_path / "nowhere" / "t.csv"), "--database", str(db), cwd=tmp_path)
    assert_one_line_error(result, "does not exist", str(tmp_path / "nowhere"))


def test_a_reader_that_goes_away_ends_the_command_quietly_with_success(tmp_path):
    path = tmp_path / "many.db"
    asyncio.run(_closed_trades(path, 3000, T0))  # far more than a pipe holds
    env = {k: v for k, v in os.environ.items() if k != "TRADEDB_DATABASE"}
    for args, lines in ((["export", "trades"], 1), (["export", "trades", "--format", "jsonl"], 0),
                        (["trades", "--limit", "0"], 2), (["bots"], 0)):
        child = subprocess.Popen([sys.executable, "-m", "tradedb", *args, "--database", str(path)], cwd=tmp_path,
                                 env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert child.stdout is not None and child.stderr is not None
        for _ in range(lines):  # `| head -n LINES`; 0: the reader is gone before anything is written
            child.stdout.readline()
        child.stdout.close()
        with child.stderr:
            err = child.stderr.read().decode()
        assert child.wait(timeout=60) == 0 and err == "", (args, err)


async def _closed_trades(path: Path, count: int, exit_time: datetime) -> None:
    async with tradedb.connect(path) as repo:
        await repo.create_bot_instance({"id": "many", "type": "paper"})
        await repo.create_trades([{"bot_id": "many", "trade_type": "paper", "entry_logic_name": "E",
                                   "exit_logic_name": "X", "symbol": "BTCUSDT", "interval": "1h", "direction": "long",
                                   "entry_time": exit_time - timedelta(hours=1), "entry_price": "1", "size": "1",
                                   "status": "closed", "exit_price": "2", "exit_time": exit_time + timedelta(hours=i % 3)}
                                  for i in range(count)])


def test_export_streams_past_page_boundaries_without_losing_rows(tmp_path):
    path = tmp_path / "many.db"
    asyncio.run(_closed_trades(path, 2345, T0))  # more than two pages of iter_trades
    result = cli("export", "trades", "--format", "jsonl", "--database", str(path), cwd=tmp_path)
    ids = [json.loads(line)["id"] for line in result.out.splitlines()]
    assert len(ids) == 2345 and len(set(ids)) == 2345


# Bad input: one line on stderr, non-zero exit, no traceback, and nothing written.


def test_export_never_replaces_a_device_a_pipe_or_another_database(db, tmp_path):
    device = tmp_path / "null"
    os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a /dev/null of its own
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    for target, words in ((device, "not a regular file"), (pipe, "not a regular file"), (db, "refusing to write over")):
        for force in ([], ["--force"]):
            result = cli("export", "trades", "-o", str(target), *force, "--database", str(db), cwd=tmp_path)
            assert_one_line_error(result, str(target), words)
    assert stat.S_ISCHR(device.stat().st_mode) and stat.S_ISFIFO(pipe.stat().st_mode)
    other = tmp_path / "other.db"
    shutil.copyfile(db, other)
    before = digest(other)
    forced = cli("export", "trades", "-o", str(other), "--force", "--database", str(db), cwd=tmp_path)
    assert_one_line_error(forced, "refusing to replace", "is a SQLite database")
    assert digest(other) == before
    for side in ("-wal", "-journal"):
        result = cli("export", "trades", "-o", f"{other}{side}", "--database", str(db), cwd=tmp_path)
        assert_one_line_error(result, f"of the SQLite database {other}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null", "other.db", "pipe", "trading.db"]


def test_export_through_a_symlink_replaces_the_file_it_leads_to(db, tmp_path):
    real = tmp_path / "real.csv"
    real.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    result = cli("export", "trades", "-o", str(link), "--force", "--database", str(db), cwd=tmp_path)
    assert result.code == 0, result.err
    assert link.is_symlink() and len(list(csv.DictReader(io.StringIO(real.read_text())))) == 4


# JSON: every column under its own name, one time format.


async def _records(path: Path) -> tuple[list[tradedb.BotInstance], list[tradedb.Trade]]:
    async with tradedb.connect(path, migrate=False) as repo:
        return await repo.list_bot_instances(), await repo.get_open_trades()


def test_bots_json_has_every_column_under_its_own_name(db, tmp_path):
    from tradedb.cli.output import plain

    rows = {row["id"]: row for row in json.loads(cli("bots", "--json", "--database", str(db), cwd=tmp_path).out)}
    bots, _ = asyncio.run(_records(db))
    assert len(rows) == len(bots) == 3
    for bot in bots:
        row = rows[bot.id]
        assert {name: row[name] for name in plain(bot)} == plain(bot)  # started_at, config_file, extra_metadata too
        assert set(row) - set(plain(bot)) == {"open_trades", "heartbeat_age_seconds", "stale"}
    assert "balance" not in rows["alpha"] and rows["alpha"]["current_balance"] == "998.50000000"


STORED_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d")  # the storage form, never in JSON
JSON_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")  # one fixed width


def _strings(value: object) -> list[str]:
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return [value] if isinstance(value, str) else []


def test_every_json_output_writes_times_one_way(db, tmp_path):
    stored = cli("metrics", "alpha", "--since", "2024-03-01", "--until", "2030-01-01", "--database", str(db), cwd=tmp_path)
    assert stored.code == 0, stored.err
    outputs = [json.loads(cli(*args, "--json", "--database", str(db), cwd=tmp_path).out) for args in (
        ["bots"], ["trades", "--limit", "0"], ["summary"], ["status"],
        ["metrics", "alpha", "--no-store", "--since", "2024-03-01T00:00:00+01:00"],
    )]
    jsonl = cli("export", "trades", "--format", "jsonl", "--database", str(db), cwd=tmp_path).out
    outputs += [json.loads(line) for line in jsonl.splitlines()]
    strings = [s for output in outputs for s in _strings(output)]
    assert not [s for s in strings if STORED_TIME.search(s)]
    metadata = outputs[-5]["extra_metadata"]
    assert metadata["since"] == "2024-02-29T23:00:00.000000Z" and metadata["until"] is None
    assert metadata["first_exit_time"] == "2024-03-02T12:00:00.000000Z" and JSON_TIME.fullmatch(metadata["last_exit_time"])

    async def latest() -> dict[str, object]:
        async with tradedb.connect(db, migrate=False) as repo:
            return (await repo.get_performance_metrics("alpha", limit=1))[0].extra_metadata

    kept = asyncio.run(latest())  # as stored by the metrics command above
    assert kept["since"] == "2024-03-01T00:00:00.000000Z" and kept["until"] == "2030-01-01T00:00:00.000000Z"


# Global options before or after the subcommand.


def test_global_options_work_before_the_subcommand_and_after_it_wins(db, tmp_path):
    before = cli("--database", str(db), "--json", "bots", cwd=tmp_path)
    after = cli("bots", "--json", "--database", str(db), cwd=tmp_path)
    assert before.code == 0 and json.loads(before.out)[0]["id"] == "alpha"
    assert [b["id"] for b in json.loads(before.out)] == [b["id"] for b in json.loads(after.out)]
    both = cli("--database", str(tmp_path / "nope.db"), "bots", "--json", "--database", str(db), cwd=tmp_path)
    assert both.code == 0 and len(json.loads(both.out)) == 3
    other_way = cli("--database", str(db), "bots", "--database", str(tmp_path / "nope.db"), cwd=tmp_path)
    assert_one_line_error(other_way, "no database at", "nope.db")
    assert cli("--debug", "--database", str(db), "trades", "--limit", "1", cwd=tmp_path).code == 0
    no_json = cli("--json", "export", "trades", "--database", str(db), cwd=tmp_path)
    assert_one_line_error(no_json, "--json", "export")
    assert no_json.code == 2 and no_json.out == ""


# The trades table fits the terminal.


def test_trades_fit_the_terminal_and_wide_shows_every_column(db, tmp_path):
    full = json.loads(cli("trades", "--json", "--database", str(db), cwd=tmp_path).out)
    every = ["id", "bot_id", "symbol", "direction", "status", "entry_time", "entry_price", "size", "exit_time",
             "exit_price", "net_pnl"]
    for columns in (None, "100", "80", "60", "20"):
        env = None if columns is None else {"COLUMNS": columns}
        result = cli("trades", "--database", str(db), cwd=tmp_path, env=env)
        lines = result.out.splitlines()
        assert result.code == 0 and result.err == "" and len(lines) == 2 + len(full)
        if columns != "20":  # too narrow for even the id, the symbol and the net PnL: those show anyway
            assert max(len(line) for line in lines) <= int(columns or 120), (columns, result.out)
        header = lines[0].split()
        assert {"id", "symbol", "net_pnl"} <= set(header) and set(header) <= set(every)
        for trade, line in zip(full, lines[2:]):
            cells = line.split()
            assert cells[0] == trade["id"][:8]
            for name in ("entry_price", "size", "exit_price", "net_pnl", "entry_time", "exit_time"):
                if name in header and trade[name] is not None:
                    # Amounts and times: whole, or not shown (tables drop a zero fraction of a second; JSON keeps it).
                    assert trade[name].replace(".000000Z", "Z") in cells
    narrow = cli("trades", "--database", str(db), cwd=tmp_path, env={"COLUMNS": "80"}).out.splitlines()[0].split()
    assert "exit_time" not in narrow and "net_pnl" in narrow
    wide = cli("trades", "--wide", "--database", str(db), cwd=tmp_path, env={"COLUMNS": "80"}).out.splitlines()
    assert wide[0].split() == every and len(wide[0]) > 120
    assert [line.split()[0] for line in wide[2:]] == [trade["id"] for trade in full]


async def _huge_symbol(path: Path) -> None:
    async with tradedb.connect(path) as repo:
        await repo.create_bot_instance({"id": "many", "type": "paper"})
        common = {"bot_id": "many", "trade_type": "paper", "entry_logic_name": "E", "exit_logic_name": "X",
                  "interval": "1h", "direction": "long", "entry_time": T0, "entry_price": "1", "size": "1"}
        await repo.create_trades([{**common, "symbol": "BTCUSDT"} for _ in range(500)]
                                 + [{**common, "symbol": "\x1b[2J" + "X" * 1_000_000}])


def test_a_huge_value_is_cut_in_tables_not_padded_into_every_row(tmp_path):
    path = tmp_path / "huge.db"
    asyncio.run(_huge_symbol(path))
    for wide in ([], ["--wide"]):
        result = cli("trades", "--limit", "0", *wide, "--database", str(path), cwd=tmp_path)
        lines = result.out.splitlines()
        assert result.code == 0 and len(lines) == 503
        assert max(len(line) for line in lines) <= (200 if wide else 120), max(len(line) for line in lines)
        huge = next(line for line in lines if "\\x1b[2J" in line)  # escaped: it cannot clear the terminal
        assert "\x1b" not in result.out and "X…" in huge
    whole = json.loads(cli("trades", "--json", "--limit", "0", "--database", str(path), cwd=tmp_path).out)
    assert max(len(trade["symbol"]) for trade in whole) == 1_000_004  # full values in --json
