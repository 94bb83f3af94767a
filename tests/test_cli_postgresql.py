"""The `tradedb` command on PostgreSQL, end to end: every command by URL, on a database of each test's own.

The server is TRADEDB_TEST_POSTGRESQL_URL (default postgresql://root@127.0.0.1:5432/test).
Without one these tests FAIL saying so; none skips. Each test gets a new database
(tdcli_<pid>_<n>), dropped after it. The URLs given to the command carry a password
(trust authentication ignores it), and no output of any command may show it.
"""

from __future__ import annotations

import itertools
import logging
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg  # a missing psycopg fails these tests, never skips them
import pytest
from psycopg import sql

import tradedb
import tradedb.postgresql
from cli_support import Result, assert_one_line_error, cli
from tradedb.cli.app import main

SERVER_URL = os.environ.get("TRADEDB_TEST_POSTGRESQL_URL", "postgresql://root@127.0.0.1:5432/test")
# Given in every URL: trust authentication ignores it, and no output may show it.
PASSWORD = "Sekr3t-pw-for-cli-tests"
_numbers = itertools.count(1)


def with_password(url: str, password: str = PASSWORD) -> str:
    """`url` with `password` in its user part (the server's own password, if it has one, is kept)."""
    parts = urlsplit(url)
    if parts.password is not None:
        return url
    user = parts.username or "root"
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:{quote(password, safe='')}@{host}"))


def secret_of(url: str) -> str:
    return urlsplit(url).password or PASSWORD


def url_of(name: str, base: str = SERVER_URL) -> str:
    return urlunsplit(urlsplit(with_password(base))._replace(path=f"/{name}"))


def without_password(url: str) -> str:
    return tradedb.postgresql.redacted(url)


def admin() -> "psycopg.Connection":
    try:
        return psycopg.connect(SERVER_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        pytest.fail(
            f"PostgreSQL is unreachable at {without_password(SERVER_URL)} ({' '.join(str(error).split())}): these tests "
            "need a server; set TRADEDB_TEST_POSTGRESQL_URL, or start the local one with "
            "pg_ctlcluster --skip-systemctl-redirect 15 main start",
            pytrace=False,
        )


_drops: list[threading.Thread] = []


def drop(name: str) -> None:
    with admin() as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="module", autouse=True)
def dropped_at_the_end() -> Iterator[None]:
    """Wait, after the last test, for the databases being dropped (a drop forces a checkpoint: slow, so in the background)."""
    yield
    for thread in _drops:
        thread.join()


@pytest.fixture
def url() -> Iterator[str]:
    """The URL (with a password) of a new, empty database of this test's own; dropped after the test."""
    name = f"tdcli_{os.getpid()}_{next(_numbers)}"
    with admin() as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield url_of(name)
    finally:
        thread = threading.Thread(target=drop, args=(name,))
        thread.start()
        _drops.append(thread)


def run(*args: str, url: str, cwd: Path, env: dict[str, str] | None = None, database: bool = True) -> Result:
    """`tradedb ARGS --database URL`, checking that no output shows the URL's password."""
    result = cli(*args, *(("--database", url) if database else ()), cwd=cwd, env=env)
    assert_no_password(result, url)
    return result


def in_process(*args: str, capsys: pytest.CaptureFixture[str]) -> Result:
    """main(ARGS) in this process (no interpreter start: for the long lists of cases), its output captured."""
    try:
        code = main(list(args))
    finally:
        # Its log handler holds this test's captured stderr: the next call makes a new one.
        root = logging.getLogger("tradedb")
        for handler in [h for h in root.handlers if getattr(h, "tradedb_cli", False)]:
            root.removeHandler(handler)
    out, err = capsys.readouterr()
    return Result(code, out, err)


def assert_no_password(result: Result, url: str) -> None:
    secret = secret_of(url)
    for stream in (result.out, result.err):
        assert secret not in stream and quote(secret, safe="") not in stream, stream
        assert url not in stream, stream


def psql(url: str, statement: str) -> str:
    done = subprocess.run(["psql", url, "-At", "-c", statement], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


# migrate ------------------------------------------------------------------


def test_migrate_applies_everything_then_has_nothing_to_do(url, tmp_path):
    pending = json.loads(run("migrate", "--list", "--json", url=url, cwd=tmp_path).out)
    assert pending == {"database": without_password(url), "migrations": [
        {"migration": "0001.initial-schema", "status": "pending"},
        {"migration": "0002.books-and-views", "status": "pending"},
        {"migration": "0003.closed-trade-stats", "status": "pending"},
        {"migration": "0004.archived-pnl", "status": "pending"},
        {"migration": "0005.faster-stats-triggers", "status": "pending"},
        {"migration": "0006.closed-trade-sort-indexes", "status": "pending"},
    ]}
    first = run("migrate", url=url, cwd=tmp_path)
    assert first.code == 0, first
    assert (f"applied 0001.initial-schema, 0002.books-and-views, 0003.closed-trade-stats, 0004.archived-pnl, 0005.faster-stats-triggers, 0006.closed-trade-sort-indexes to {without_password(url)}"
            in first.out)
    assert "no backup was needed first" in first.out and "transaction" in first.out
    again = run("migrate", url=url, cwd=tmp_path)
    assert again.code == 0 and again.out.strip() == f"{without_password(url)} is up to date (6 migrations applied)"
    listed = json.loads(run("migrate", "--list", "--json", url=url, cwd=tmp_path).out)["migrations"]
    assert [m["status"] for m in listed] == ["applied"] * 6
    as_json = json.loads(run("migrate", "--json", url=url, cwd=tmp_path).out)
    assert as_json == {"database": without_password(url), "applied": [], "pending": [], "backup": None,
                       "transactional": True}
    assert psql(url, "SELECT count(*) FROM _yoyo_migration") == "6"
    assert list(tmp_path.iterdir()) == [], "nothing is written beside a server's database"


def test_a_database_with_an_unknown_migration_is_refused(url, tmp_path, monkeypatch, capsys):
    assert run("migrate", url=url, cwd=tmp_path).code == 0
    psql(url, "INSERT INTO _yoyo_migration (migration_hash, migration_id, applied_at_utc) "
              "VALUES ('f00', '0099.from-the-future', now() AT TIME ZONE 'UTC')")
    refused = run("migrate", url=url, cwd=tmp_path)
    assert_one_line_error(refused, "0099.from-the-future", "newer tradedb", "Upgrade tradedb", without_password(url))
    monkeypatch.chdir(tmp_path)
    listed = in_process("migrate", "--list", "--database", url, capsys=capsys)
    assert listed.code == 0 and "unknown (from a newer tradedb)  0099.from-the-future" in listed.out
    status = in_process("status", "--json", "--database", url, capsys=capsys)
    report = json.loads(status.out)
    assert status.code == 1 and report["ok"] is False and any("0099.from-the-future" in p for p in report["problems"])
    for command in (("trades",), ("demo", "--days", "1")):
        refused = in_process(*command, "--database", url, capsys=capsys)
        assert_one_line_error(refused, "0099.from-the-future")
        assert_no_password(refused, url)
    for result in (listed, status):
        assert_no_password(result, url)
    assert psql(url, "SELECT count(*) FROM _yoyo_migration") == "7"  # tradedb's six and the one from the future


# demo, then looking at it ---------------------------------------------------


def test_demo_fills_the_database_and_every_command_and_psql_see_it(url, tmp_path, monkeypatch, capsys):
    demo = run("demo", "--bots", "2", "--days", "4", url=url, cwd=tmp_path)
    assert demo.code == 0, demo
    shown = without_password(url)
    assert f"database {shown}, run 1" in demo.out
    hint = demo.out.strip().splitlines()[-1]
    assert f"--database {shown}" in hint and f"; psql {shown} (the password is left out" in hint
    assert "sqlite3" not in hint
    assert list(tmp_path.iterdir()) == []

    monkeypatch.chdir(tmp_path)

    def look(*args: str) -> Result:
        result = in_process(*args, "--database", url, capsys=capsys)
        assert_no_password(result, url)
        assert result.code == 0, (args, result)
        return result

    summary = json.loads(look("summary", "--json").out)
    stored = int(psql(url, "SELECT count(*) FROM trades"))
    assert stored > 0 and summary["total_trades"] == stored
    bots = json.loads(look("bots", "--json").out)
    assert sorted(bot["id"] for bot in bots) == sorted(psql(url, "SELECT id FROM bot_instances").split())
    assert len(bots) == 2 and all(bot["status"] == "stopped" for bot in bots)
    trades = json.loads(look("trades", "--json", "--limit", "0").out)
    assert len(trades) == int(psql(url, "SELECT count(*) FROM trades WHERE status <> 'cancelled'"))
    assert len(look("trades", "--closed", "--limit", "3").out.strip().splitlines()) == 5  # header, rule, 3 trades
    assert len(look("export", "trades", "--format", "jsonl").out.splitlines()) == stored
    assert json.loads(look("metrics", bots[0]["id"], "--json").out)["stored"] is True
    assert psql(url, f"SELECT count(*) FROM performance_metrics WHERE bot_id = '{bots[0]['id']}'") == "2"
    assert json.loads(look("cleanup", "--dry-run", "--json").out)["dry_run"] is True
    # psql reads what the demo wrote, by the URL the hint shows (trust authentication here; else $PGPASSWORD).
    assert psql(shown, "SELECT count(*) FROM trades") == str(stored)
    # $TRADEDB_DATABASE takes a URL too; a second run adds bots and leaves the first run's alone.
    again = run("demo", "--bots", "1", "--days", "2", url=url, cwd=tmp_path, env={"TRADEDB_DATABASE": url},
                database=False)
    assert again.code == 0 and f"database {shown}, run 2" in again.out
    assert psql(url, "SELECT count(*) FROM bot_instances") == "3"
    status = json.loads(look("status", "--json").out)
    assert status["ok"] is True, status["problems"]
    assert status["row_counts"]["trades"] == int(psql(url, "SELECT count(*) FROM trades"))


# status ---------------------------------------------------------------------


def test_status_reports_the_server_and_the_size(url, tmp_path):
    assert run("migrate", url=url, cwd=tmp_path).code == 0
    result = run("status", "--json", url=url, cwd=tmp_path)
    report = json.loads(result.out)
    assert result.code == 0 and report["ok"] is True, report
    assert report["database"] == without_password(url)
    assert report["server_version"] == psql(url, "SHOW server_version")
    assert report["applied_migrations"] == [
        "0001.initial-schema", "0002.books-and-views", "0003.closed-trade-stats", "0004.archived-pnl",
        "0005.faster-stats-triggers", "0006.closed-trade-sort-indexes"]
    assert report["pending_migrations"] == [] and report["foreign_key_violations"] == 0
    assert report["database_size_bytes"] > 0 and report["stale_bots"] == 0
    assert report["row_counts"] == {"bot_instances": 0, "trades": 0, "performance_metrics": 0}
    text = run("status", url=url, cwd=tmp_path)
    lines = dict(line.split(None, 1) if "  " not in line else [p.strip() for p in line.split("  ", 1)]
                 for line in text.out.splitlines() if line.strip())
    assert text.code == 0 and lines["database"] == without_password(url)
    assert lines["PostgreSQL"] == report["server_version"] and "bytes)" in lines["size"]


def test_status_of_a_database_not_yet_migrated_says_to_migrate(url, tmp_path):
    result = run("status", "--json", url=url, cwd=tmp_path)
    report = json.loads(result.out)
    assert result.code == 1 and report["ok"] is False and report["database"] == without_password(url)
    assert report["pending_migrations"] == [
        "0001.initial-schema", "0002.books-and-views", "0003.closed-trade-stats", "0004.archived-pnl",
        "0005.faster-stats-triggers", "0006.closed-trade-sort-indexes"]
    assert any("tradedb migrate" in problem for problem in report["problems"])
    # Looking never migrates.
    assert psql(url, "SELECT to_regclass('trades') IS NULL") == "t"
    assert_one_line_error(run("bots", url=url, cwd=tmp_path), "tradedb migrate")


# backup ---------------------------------------------------------------------


def test_backup_writes_a_pg_dump_custom_archive_and_refuses_what_sqlite_refuses(url, tmp_path, monkeypatch, capsys):
    assert run("migrate", url=url, cwd=tmp_path).code == 0
    psql(url, "INSERT INTO bot_instances (id, type) VALUES ('kept', 'paper')")
    dest = tmp_path / "copies" / "one.dump"
    written = run("backup", str(dest), url=url, cwd=tmp_path)
    assert written.code == 0 and Path(written.out.strip()) == dest
    assert dest.read_bytes().startswith(b"PGDMP")
    listing = subprocess.run(["pg_restore", "--list", str(dest)], capture_output=True, text=True, timeout=60)
    assert listing.returncode == 0 and "TABLE public trades" in listing.stdout
    assert "TABLE DATA public bot_instances" in listing.stdout
    # No DEST: backups/ in the current folder, named after the database; a folder: the same name in it.
    default = Path(run("backup", url=url, cwd=tmp_path).out.strip())
    name = urlsplit(url).path[1:]
    assert default.parent == tmp_path / "backups" and default.name.startswith(name) and default.suffix == ".dump"
    into = json.loads(run("backup", "--json", str(tmp_path / "copies"), url=url, cwd=tmp_path).out)
    assert into["database"] == without_password(url) and Path(into["backup"]).parent == tmp_path / "copies"

    before = dest.read_bytes()
    (tmp_path / "link.dump").symlink_to(dest)
    (tmp_path / "dangling.dump").symlink_to(tmp_path / "nowhere.dump")
    (tmp_path / "afile").write_text("x")
    monkeypatch.chdir(tmp_path)
    for target, words in (
        (str(dest), ("exists already",)),
        (str(tmp_path / "link.dump"), ("exists already",)),
        (str(tmp_path / "dangling.dump"), ("symbolic link",)),
        (str(tmp_path / "afile") + "/", ("is a file, not a folder",)),
    ):
        refused = in_process("backup", target, "--database", url, capsys=capsys)
        assert_one_line_error(refused, *words)
        assert_no_password(refused, url)
    assert dest.read_bytes() == before and not (tmp_path / "nowhere.dump").exists()
    assert not [p for p in (tmp_path / "copies").iterdir() if p.name.startswith(".")], "no partial file is left"


def test_backup_says_when_pg_dump_is_missing(url, tmp_path, monkeypatch, capsys):
    assert run("migrate", url=url, cwd=tmp_path).code == 0
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr(tradedb.postgresql, "find_pg_dump", lambda: shutil.which("pg_dump"))
    monkeypatch.chdir(tmp_path)
    result = in_process("backup", str(tmp_path / "b.dump"), "--database", url, capsys=capsys)
    assert result.out == ""
    assert_one_line_error(result, "pg_dump is missing", "postgresql-client")
    assert_no_password(result, url)
    assert list(tmp_path.iterdir()) == [empty]


# the password -----------------------------------------------------------------

COMMANDS = [("migrate",), ("migrate", "--list"), ("status",), ("status", "--json"), ("bots",), ("trades",),
            ("summary",), ("metrics", "somebot"), ("cleanup",), ("backup", "x.dump"), ("export", "trades"),
            ("demo", "--bots", "1", "--days", "1")]


def test_no_failure_shows_the_password(url, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    name = urlsplit(url).path[1:]
    odd = "p@ss:w/rd?" + PASSWORD
    failing = {
        # The server is there, the database is not.
        url_of(name + "_missing"): "does not exist",
        # Nothing listens on port 1.
        urlunsplit(urlsplit(url)._replace(netloc=f"root:{PASSWORD}@127.0.0.1:1")): "Connection refused",
        # A password that needs quoting, the other scheme, and a password given as a parameter.
        url_of(name + "_missing").replace(PASSWORD, quote(odd, safe="")).replace("postgresql://", "postgres://", 1):
            "does not exist",
        urlunsplit(urlsplit(url_of(name + "_missing"))._replace(netloc="root@127.0.0.1:5432",
                                                                 query=f"password={PASSWORD}")): "does not exist",
        # One libpq cannot read.
        urlunsplit(urlsplit(url)._replace(netloc=f"root:{PASSWORD}@127.0.0.1:notaport")): "port",
    }

    for target, expected in failing.items():
        for command in [*COMMANDS, ("trades", "--debug")]:
            result = in_process(*command, "--database", target, capsys=capsys)
            for stream in (result.out, result.err):
                assert PASSWORD not in stream and quote(PASSWORD) not in stream, (command, stream)
            assert result.code == 1, (command, result)
            if "--debug" not in command:
                assert_one_line_error(result, f"tradedb {command[0]}: error:", expected)
    # The same through the real entry point (and $TRADEDB_DATABASE), a few at once.
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda t: cli("status", cwd=tmp_path, env={"TRADEDB_DATABASE": t}), failing))
    for target, result in zip(failing, results):
        assert_one_line_error(result, failing[target])
        assert PASSWORD not in result.out + result.err and quote(PASSWORD) not in result.out + result.err
    # A URL given where none belongs is hidden in the usage error too.
    stray = cli("trades", url, cwd=tmp_path)
    assert stray.code == 2 and "unrecognized arguments" in stray.err
    assert_no_password(stray, url)
    assert list(tmp_path.iterdir()) == []
    with admin() as connection:
        assert connection.execute("SELECT count(*) FROM pg_database WHERE datname LIKE %s",
                                  [name + "_missing%"]).fetchone()[0] == 0


def test_debug_logs_and_tracebacks_never_show_the_password(url, tmp_path):
    first = run("migrate", "--debug", url=url, cwd=tmp_path)
    assert first.code == 0 and "applying migration(s)" in first.err and without_password(url) in first.err
    refused = run("bots", "--debug", url=url.replace(urlsplit(url).path, "/nosuch_" + urlsplit(url).path[1:]),
                  cwd=tmp_path)
    assert refused.code == 1 and "Traceback" in refused.err
