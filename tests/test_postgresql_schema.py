"""tradedb's schema on PostgreSQL: its migrations, its drift from sql/postgresql/sqlite/schema.sql,
every rule held against rows typed into psql, and the open-trades index.

These tests need a PostgreSQL 15 server: TRADEDB_TEST_POSTGRESQL_URL, by default
postgresql://root@127.0.0.1:5432/test. When it cannot be reached they FAIL, saying so;
they never skip. Each test (the rule tests: the module) works in a database of its own,
created on the server and dropped afterwards.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

try:
    import psycopg
    from psycopg import sql
except ModuleNotFoundError:
    pytest.fail("psycopg 3 is missing: .venv/bin/pip install -e '.[test,postgresql]'", pytrace=False)
from yoyo import get_backend, read_migrations

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = ROOT / "migrations" / "postgresql"
SCHEMA = ROOT / "sql" / "postgresql" / "schema.sql"
SQLITE_SCHEMA = ROOT / "sql" / "sqlite" / "schema.sql"
SERVER_URL = os.environ.get("TRADEDB_TEST_POSTGRESQL_URL", "postgresql://root@127.0.0.1:5432/test")
YOYO = str(Path(sys.executable).with_name("yoyo"))
YOYO_TABLES = {"_yoyo_migration", "_yoyo_log", "_yoyo_version", "yoyo_lock"}
FIRST, SECOND, THIRD, FOURTH, FIFTH, SIXTH = (
    "0001.initial-schema", "0002.books-and-views", "0003.closed-trade-stats", "0004.archived-pnl", "0005.faster-stats-triggers",
    "0006.closed-trade-sort-indexes",
)


# -- The server and databases of our own -------------------------------------------------

def without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)))


def connect(url: str, **options) -> psycopg.Connection:
    """A connection, or a failed test that says the server is unreachable (never a skip)."""
    try:
        return psycopg.connect(url, connect_timeout=5, **options)
    except psycopg.OperationalError as error:
        reason = " ".join(str(error).split()) or type(error).__name__
        pytest.fail(
            f"PostgreSQL is unreachable at {without_password(url)} ({reason}). These tests need a server: "
            "set TRADEDB_TEST_POSTGRESQL_URL to one, or start the local one with "
            "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
            pytrace=False,
        )


def database_url(name: str) -> str:
    return urlunsplit(urlsplit(SERVER_URL)._replace(path=f"/{name}"))


def yoyo_url(url: str) -> str:
    return "postgresql+psycopg://" + url.split("://", 1)[1]


class Databases:
    """Fresh databases on the server, each with a unique name, all dropped at the end."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def new(self) -> str:
        name = f"tradedb_test_{os.getpid()}_{uuid.uuid4().hex[:12]}"
        with connect(SERVER_URL, autocommit=True) as server:
            server.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self.names.append(name)
        return database_url(name)

    def drop_all(self) -> None:
        if not self.names:
            return
        with connect(SERVER_URL, autocommit=True) as server:
            for name in self.names:
                server.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def databases() -> Iterator[Databases]:
    made = Databases()
    yield made
    made.drop_all()


def migrate(url: str, folder: Path = MIGRATIONS, *, only: set[str] | None = None) -> None:
    migrations = read_migrations(str(folder))
    if only is not None:
        migrations = migrations.filter(lambda m: m.id in only)
    backend = get_backend(yoyo_url(url))
    with backend:
        with backend.lock():
            backend.apply_migrations(backend.to_apply(migrations))


def roll_back(url: str, migration_id: str) -> None:
    migrations = read_migrations(str(MIGRATIONS)).filter(lambda m: m.id == migration_id)
    backend = get_backend(yoyo_url(url))
    with backend:
        with backend.lock():
            backend.rollback_migrations(backend.to_rollback(migrations))


def yoyo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([YOYO, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def applied(url: str) -> list[str]:
    with connect(url) as connection:
        return [row[0] for row in connection.execute("SELECT migration_id FROM _yoyo_migration ORDER BY migration_id")]


# What a database's schema is, from the catalogs, yoyo's own tables left out.
CATALOG = {
    "columns": """
        SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
               pg_get_expr(d.adbin, d.adrelid)
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'v')
          AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY c.relname, a.attnum""",
    "constraints": """
        SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
        FROM pg_constraint WHERE connamespace = 'public'::regnamespace
        ORDER BY 1, 2""",
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1, 2",
    "triggers": """
        SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid)
        FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1, 2""",
    "functions": """
        SELECT '', proname, pg_get_functiondef(oid)
        FROM pg_proc WHERE pronamespace = 'public'::regnamespace ORDER BY 2""",
    "views": """
        SELECT viewname, '', pg_get_viewdef(viewname::regclass)
        FROM pg_views WHERE schemaname = 'public' ORDER BY 1""",
}


def schema_of(url: str) -> dict[str, list[tuple]]:
    with connect(url) as connection:
        return {
            kind: [row for row in connection.execute(query) if row[0] not in YOYO_TABLES]
            for kind, query in CATALOG.items()
        }


# -- Migrations ------------------------------------------------------------------------

def test_the_postgresql_migrations_have_the_sqlite_ids_rollbacks_and_descriptions():
    def ids(folder: Path) -> set[str]:
        return {p.stem for p in folder.glob("*.sql") if not p.name.endswith(".rollback.sql")}

    # Every SQLite migration has its PostgreSQL twin under the same id, so a database of
    # either kind is at the same version when the same ids are applied.
    assert ids(MIGRATIONS) == ids(ROOT / "migrations" / "sqlite") and FIRST in ids(MIGRATIONS)
    for migration_id in ids(MIGRATIONS):
        text = (MIGRATIONS / f"{migration_id}.sql").read_text()
        assert text.startswith("-- ") and "-- depends:" in text, migration_id
        assert (MIGRATIONS / f"{migration_id}.rollback.sql").exists(), migration_id


def test_yoyo_cli_applies_both_migrations_and_records_them(databases):
    url = databases.new()
    done = yoyo("apply", "--batch", "--database", yoyo_url(url), "migrations/postgresql")
    assert done.returncode == 0, done.stderr
    assert applied(url) == [FIRST, SECOND, THIRD, FOURTH, FIFTH, SIXTH]
    with connect(url) as connection:
        tables = {row[0] for row in connection.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert tables - YOYO_TABLES == {"bot_instances", "trades", "performance_metrics", "closed_trade_stats"}
    # Run again: nothing left to apply, nothing changes.
    before = schema_of(url)
    done = yoyo("apply", "--batch", "--database", yoyo_url(url), "migrations/postgresql")
    assert done.returncode == 0, done.stderr
    assert applied(url) == [FIRST, SECOND, THIRD, FOURTH, FIFTH, SIXTH] and schema_of(url) == before


def test_the_migrations_produce_exactly_the_readable_schema(databases):
    migrated, written = databases.new(), databases.new()
    migrate(migrated)
    with connect(written, autocommit=True) as connection:
        connection.execute(SCHEMA.read_text())
    expected = schema_of(written)
    assert all(expected.values()), expected
    got = schema_of(migrated)
    for kind in CATALOG:
        assert got[kind] == expected[kind], kind


def test_a_failed_migration_leaves_the_database_as_it_was(databases, tmp_path):
    url = databases.new()
    migrate(url)
    with connect(url) as connection:
        connection.execute("INSERT INTO bot_instances (id, type) VALUES ('bot-1', 'paper')")
    before = schema_of(url)
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, folder)
    (folder / "0007.broken.sql").write_text(
        "-- Changes schema and data, then fails.\n"
        f"-- depends: {SIXTH}\n\n"
        "CREATE TABLE leftovers (id INTEGER);\n"
        "ALTER TABLE trades ADD COLUMN leftover INTEGER;\n"
        "DROP VIEW trades_view;\n"
        "DROP TRIGGER trades_status_transition ON trades;\n"
        "UPDATE bot_instances SET status = 'stopped';\n"
        "INSERT INTO bot_instances (id, type) VALUES ('leftover', 'live');\n"
        "SELECT 1 / 0;\n"
    )
    done = yoyo("apply", "--batch", "--database", yoyo_url(url), str(folder))
    assert done.returncode != 0 and "division by zero" in done.stderr, done.stderr
    assert schema_of(url) == before
    assert applied(url) == [FIRST, SECOND, THIRD, FOURTH, FIFTH, SIXTH]
    with connect(url) as connection:
        assert connection.execute("SELECT id, status FROM bot_instances").fetchall() == [("bot-1", "running")]
        assert connection.execute("SELECT count(*) FROM yoyo_lock").fetchone() == (0,)


def test_each_rollback_undoes_its_migration_exactly(databases):
    first_only, first_two, first_three, first_four, first_five, both, empty = (databases.new() for _ in range(7))
    migrate(first_only, only={FIRST})
    migrate(first_two, only={FIRST, SECOND})
    migrate(first_three, only={FIRST, SECOND, THIRD})
    migrate(first_four, only={FIRST, SECOND, THIRD, FOURTH})
    migrate(first_five, only={FIRST, SECOND, THIRD, FOURTH, FIFTH})
    migrate(both)
    migrate(empty, only=set())
    migrated = schema_of(both)

    roll_back(both, SIXTH)
    assert applied(both) == [FIRST, SECOND, THIRD, FOURTH, FIFTH]
    assert schema_of(both) == schema_of(first_five)

    roll_back(both, FIFTH)
    assert applied(both) == [FIRST, SECOND, THIRD, FOURTH]
    assert schema_of(both) == schema_of(first_four)

    roll_back(both, FOURTH)
    assert applied(both) == [FIRST, SECOND, THIRD]
    assert schema_of(both) == schema_of(first_three)

    roll_back(both, THIRD)
    assert applied(both) == [FIRST, SECOND]
    assert schema_of(both) == schema_of(first_two)

    roll_back(both, SECOND)
    assert applied(both) == [FIRST]
    assert schema_of(both) == schema_of(first_only)

    roll_back(both, FIRST)
    assert applied(both) == []
    assert schema_of(both) == schema_of(empty)
    assert not any(schema_of(both).values())

    migrate(both)
    assert schema_of(both) == migrated


# -- Every rule, typed into psql ----------------------------------------------------------

TRADE_ID = "0b6f3a9e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
METRICS_ID = "1c7e4b0f-2d3e-4f60-9bac-1d2e3f4a5b6c"
OTHER_ID = "2d8f5c1a-3e4f-4a71-8cbd-2e3f4a5b6c7d"
NEW_TRADE = (
    "INSERT INTO trades (id, bot_id, trade_type, entry_logic_name, exit_logic_name, symbol, interval, direction{}) "
    f"VALUES ('{OTHER_ID}', 'bot-1', 'paper', 'e', 'x', 'BTCUSDT', '1h', 'long'{{}})"
)
CLOSED = (", status, entry_price, size, exit_price, exit_time",
          ", 'closed', 1, 1, 2, '2024-03-02 00:00:00Z'")
TOO_BIG_JSON = "json_build_array(repeat('x', 1048573))"  # 1048577 bytes of JSON text
TABLES = {"trades": TRADE_ID, "bot_instances": "bot-1", "performance_metrics": METRICS_ID}

# Rules SQLite holds with a CHECK that PostgreSQL's column types hold themselves:
# the refusal is the type's (its SQLSTATE), no constraint is needed.
TYPE_ENFORCED = {
    "trades_id_uuid": "22P02",  # UUID: invalid_text_representation
    "performance_metrics_id_uuid": "22P02",
    "trades_extra_metadata_json": "22P02",  # JSONB
    "bot_instances_extra_metadata_json": "22P02",
    "performance_metrics_extra_metadata_json": "22P02",
}

SQLITE_TEXT = SQLITE_SCHEMA.read_text()
# Rules SQLite holds with a trigger where PostgreSQL has a CHECK: a CHECK added
# by ALTER TABLE makes SQLite run a query whose (empty) result yoyo prints.
# SQLite's message, and the CHECK that holds the rule here.
CHECKED_HERE = {
    "bot_instances.archived_pnl: is not decimal text with 8 places, such as 0.00000000": "bot_instances_archived_pnl_decimal",
}
SQLITE_CHECKS = re.findall(r"CONSTRAINT (\w+) CHECK", SQLITE_TEXT)
SQLITE_MESSAGES = {m.replace("''", "'") for m in re.findall(r"RAISE\(ABORT, '((?:[^']|'')*)'\)", SQLITE_TEXT)}


def columns_ending(suffix: str) -> list[tuple[str, str]]:
    """(table, column) of every SQLite CHECK named <table>_<column><suffix>."""
    found = []
    for name in SQLITE_CHECKS:
        for table in TABLES:
            if name.startswith(table + "_") and name.endswith(suffix):
                found.append((table, name[len(table) + 1:-len(suffix)]))
    return found


def update(table: str, assignment: str) -> str:
    return f"UPDATE {table} SET {assignment} WHERE id = '{TABLES[table]}'"


UNSIGNED = {"entry_price", "exit_price", "size", "entry_value", "exit_value", "commission"}

# (statement, the rule that refuses it: a constraint name or, for TYPE_ENFORCED, its SQLSTATE)
BAD_ROWS = [
    *[(update(t, f"{c} = 'infinity'"), f"{t}_{c}_utc") for t, c in columns_ending("_utc")],
    (update("trades", "entry_time = '10000-01-01 00:00:00Z'"), "trades_entry_time_utc"),
    (update("trades", "entry_time = NULL, exit_time = timestamptz '0001-01-01 00:00:00Z' - interval '1 microsecond'"),
     "trades_exit_time_utc"),
    *[(update(t, f"{c} = 'NaN'"), f"{t}_{c}_decimal") for t, c in columns_ending("_decimal")],
    *[(update("trades", f"{c} = -0.00000001"), f"trades_{c}_decimal") for c in sorted(UNSIGNED)],
    (update("bot_instances", "id = ''"), "bot_instances_id_not_empty"),
    (update("bot_instances", "id = repeat('b', 256)"), "bot_instances_id_not_empty"),
    ("INSERT INTO bot_instances (id, type) VALUES ('b', 'backtest')", "bot_instances_type_known"),
    (update("bot_instances", "status = 'sleeping'"), "bot_instances_status_known"),
    # A trade of an existing bot with another type meets trades_trade_type_of_bot first (a trigger runs
    # before the CHECKs, as on SQLite); a bot that does not exist leaves it to the CHECK.
    (NEW_TRADE.format("", "").replace("'bot-1', 'paper'", "'ghost', 'backtest'"), "trades_trade_type_known"),
    (update("trades", "direction = 'sideways'"), "trades_direction_known"),
    (update("trades", "status = 'pending'"), "trades_status_known"),
    *[(update("trades", f"{c} = ''"), "trades_names_not_empty")
      for c in ("entry_logic_name", "exit_logic_name", "symbol", "interval")],
    (update("trades", "status = 'closed', gross_pnl = 1, net_pnl = 1"), "trades_closed_has_exit"),
    (update("trades", "exit_time = entry_time - interval '1 microsecond'"), "trades_exit_after_entry"),
    (update("performance_metrics", "win_rate = 100.01"), "performance_metrics_win_rate_percent"),
    (update("performance_metrics", "win_rate = -0.01"), "performance_metrics_win_rate_percent"),
    (update("performance_metrics", "win_rate = 'NaN'"), "performance_metrics_win_rate_percent"),
    *[(update("performance_metrics", f"{c} = -1"), "performance_metrics_counts_not_negative")
      for c in ("total_trades", "winning_trades", "losing_trades")],
    (update("trades", "id = 'not-a-uuid'"), "trades_id_uuid"),
    (update("trades", f"id = '{TRADE_ID}x'"), "trades_id_uuid"),
    (update("performance_metrics", "id = 'not-a-uuid'"), "performance_metrics_id_uuid"),
    *[(update(t, "extra_metadata = '{not json'"), f"{t}_extra_metadata_json") for t in TABLES],
    (update("bot_instances", "archived_pnl = 'NaN'"), "bot_instances_archived_pnl_decimal"),
]

# SQLite's trigger messages, each with what PostgreSQL refuses in its place:
# (setup, statement, constraint). Triggers raise SQLite's very message; the
# foreign keys (which replace SQLite's foreign-key triggers) give their own.
FOREIGN_KEY_MESSAGES = {
    "trades.bot_id: no such bot instance; create the bot first",
    "performance_metrics.bot_id: no such bot instance; create the bot first",
    "bot_instances: this bot has trades or metrics and cannot be deleted",
    "bot_instances.id: this bot has trades or metrics; its id cannot change",
}
CLOSE_IT = update("trades", "status = 'closed', exit_price = 2, exit_time = '2024-03-02 00:00:00Z', "
                            "gross_pnl = 1, net_pnl = 1")
TRIGGER_RULES = [
    ("trades.status: a closed or cancelled trade cannot change status",
     CLOSE_IT, update("trades", "status = 'open'"), "trades_status_transition"),
    ("trades.status: a closed or cancelled trade cannot change status",
     update("trades", "status = 'cancelled', exit_time = '2024-03-02 00:00:00Z'"),
     update("trades", "status = 'closed', exit_price = 2, gross_pnl = 1, net_pnl = 1"), "trades_status_transition"),
    ("trades.bot_id: no such bot instance; create the bot first",
     None, NEW_TRADE.format("", "").replace("'bot-1'", "'ghost'"), "trades_bot_id_fkey"),
    ("trades.bot_id: no such bot instance; create the bot first",
     None, update("trades", "bot_id = 'ghost'"), "trades_bot_id_fkey"),
    ("trades.trade_type: is not the type of its bot; a bot's trades have its type (paper, live or optimization)",
     None, NEW_TRADE.format("", "").replace("'paper'", "'live'"), "trades_trade_type_of_bot"),
    ("trades.trade_type: is not the type of its bot; a bot's trades have its type (paper, live or optimization)",
     None, update("trades", "trade_type = 'live'"), "trades_trade_type_of_bot"),
    ("trades.trade_type: is not the type of its bot; a bot's trades have its type (paper, live or optimization)",
     "INSERT INTO bot_instances (id, type) VALUES ('live-bot', 'live')",
     update("trades", "bot_id = 'live-bot'"), "trades_trade_type_of_bot"),
    ("trades.extra_metadata: longer than 1048576 bytes of JSON text; store less",
     None, NEW_TRADE.format(", extra_metadata", f", {TOO_BIG_JSON}"), "trades_extra_metadata_size"),
    ("trades.extra_metadata: longer than 1048576 bytes of JSON text; store less",
     None, update("trades", f"extra_metadata = {TOO_BIG_JSON}"), "trades_extra_metadata_size"),
    ("trades.gross_pnl: a closed trade needs its gross_pnl; close it with close_trade or give the value",
     None, NEW_TRADE.format(CLOSED[0], CLOSED[1]), "trades_closed_has_pnl"),
    ("trades.net_pnl: a closed trade needs its net_pnl; close it with close_trade or give the value",
     None, NEW_TRADE.format(CLOSED[0] + ", gross_pnl", CLOSED[1] + ", 1"), "trades_closed_has_pnl"),
    ("trades.net_pnl: a closed trade needs its net_pnl; close it with close_trade or give the value",
     CLOSE_IT, update("trades", "net_pnl = NULL"), "trades_closed_has_pnl"),
    ("trades.gross_pnl: a closed trade needs its gross_pnl; close it with close_trade or give the value",
     None, update("trades", "status = 'closed', exit_price = 2, exit_time = '2024-03-02 00:00:00Z'"),
     "trades_closed_has_pnl"),
    ("performance_metrics.bot_id: no such bot instance; create the bot first",
     None, f"INSERT INTO performance_metrics (id, bot_id) VALUES ('{OTHER_ID}', 'ghost')",
     "performance_metrics_bot_id_fkey"),
    ("performance_metrics.bot_id: no such bot instance; create the bot first",
     None, update("performance_metrics", "bot_id = 'ghost'"), "performance_metrics_bot_id_fkey"),
    ("bot_instances: this bot has trades or metrics and cannot be deleted",
     "DELETE FROM performance_metrics", "DELETE FROM bot_instances WHERE id = 'bot-1'", "trades_bot_id_fkey"),
    ("bot_instances: this bot has trades or metrics and cannot be deleted",
     "DELETE FROM trades", "DELETE FROM bot_instances WHERE id = 'bot-1'", "performance_metrics_bot_id_fkey"),
    ("bot_instances.id: this bot has trades or metrics; its id cannot change",
     "DELETE FROM performance_metrics", update("bot_instances", "id = 'renamed'"), "trades_bot_id_fkey"),
    ("bot_instances.id: this bot has trades or metrics; its id cannot change",
     "DELETE FROM trades", update("bot_instances", "id = 'renamed'"), "performance_metrics_bot_id_fkey"),
    ("bot_instances.extra_metadata: longer than 1048576 bytes of JSON text; store less",
     None, f"INSERT INTO bot_instances (id, type, extra_metadata) VALUES ('b', 'paper', {TOO_BIG_JSON})",
     "bot_instances_extra_metadata_size"),
    ("bot_instances.extra_metadata: longer than 1048576 bytes of JSON text; store less",
     None, update("bot_instances", f"extra_metadata = {TOO_BIG_JSON}"), "bot_instances_extra_metadata_size"),
    ("bot_instances.type: this bot has trades of its type, so its type cannot change; "
     "start a bot with an id of its own",
     None, update("bot_instances", "type = 'live'"), "bot_instances_type_fixed"),
    ("performance_metrics.extra_metadata: longer than 1048576 bytes of JSON text; store less",
     None, "INSERT INTO performance_metrics (id, bot_id, extra_metadata) "
           f"VALUES ('{OTHER_ID}', 'bot-1', {TOO_BIG_JSON})",
     "performance_metrics_extra_metadata_size"),
    ("performance_metrics.extra_metadata: longer than 1048576 bytes of JSON text; store less",
     None, update("performance_metrics", f"extra_metadata = {TOO_BIG_JSON}"),
     "performance_metrics_extra_metadata_size"),
]


@pytest.fixture(scope="module")
def rules_database() -> Iterator[str]:
    """A migrated database holding bot-1 (paper), one open trade of it and one metrics row."""
    made = Databases()
    try:
        url = made.new()
        migrate(url)
        with connect(url) as connection:
            connection.execute("INSERT INTO bot_instances (id, type, current_balance) VALUES ('bot-1', 'paper', 1000)")
            connection.execute(
                "INSERT INTO trades (id, bot_id, trade_type, entry_logic_name, exit_logic_name, symbol, interval, "
                "direction, entry_time, entry_price, size, entry_value) VALUES "
                f"('{TRADE_ID}', 'bot-1', 'paper', 'e', 'x', 'BTCUSDT', '1h', 'long', '2024-03-01 12:00:00Z', "
                "50000, 0.1, 5000)"
            )
            connection.execute(
                "INSERT INTO performance_metrics (id, bot_id, win_rate, total_trades, winning_trades, losing_trades) "
                f"VALUES ('{METRICS_ID}', 'bot-1', 50, 2, 1, 1)"
            )
        yield url
    finally:
        made.drop_all()


@pytest.fixture
def psql(rules_database) -> Iterator[psycopg.Connection]:
    """A session like psql's, in a transaction rolled back at the end: each test sees the same rows."""
    connection = connect(rules_database)
    yield connection
    connection.rollback()
    connection.close()


def refused(connection: psycopg.Connection, statement: str) -> psycopg.Error:
    with pytest.raises(psycopg.Error) as caught:
        connection.execute(statement)
    connection.rollback()
    return caught.value


def test_every_sqlite_rule_has_its_postgresql_twin_and_a_bad_row_here(rules_database):
    with connect(rules_database) as connection:
        checks = {row[0] for row in connection.execute(
            "SELECT conname FROM pg_constraint WHERE contype = 'c' AND connamespace = 'public'::regnamespace")}
    assert len(SQLITE_CHECKS) == len(set(SQLITE_CHECKS)) > 40
    assert checks == set(SQLITE_CHECKS) - set(TYPE_ENFORCED) | set(CHECKED_HERE.values())
    assert set(TYPE_ENFORCED) <= set(SQLITE_CHECKS)
    assert {rule for _, rule in BAD_ROWS} == set(SQLITE_CHECKS) | set(CHECKED_HERE.values())
    assert len(SQLITE_MESSAGES) == 13
    assert {message for message, *_ in TRIGGER_RULES} | set(CHECKED_HERE) == SQLITE_MESSAGES


@pytest.mark.parametrize("statement, rule", BAD_ROWS, ids=[f"{r}-{i}" for i, (_, r) in enumerate(BAD_ROWS)])
def test_psql_cannot_break_a_check(psql, statement, rule):
    error = refused(psql, statement)
    if rule in TYPE_ENFORCED:
        assert error.sqlstate == TYPE_ENFORCED[rule], error
    else:
        assert (error.sqlstate, error.diag.constraint_name) == ("23514", rule), error


@pytest.mark.parametrize(
    "message, setup, statement, constraint", TRIGGER_RULES,
    ids=[f"{c}-{i}" for i, (_, _, _, c) in enumerate(TRIGGER_RULES)],
)
def test_psql_cannot_break_a_rule_sqlite_holds_with_a_trigger(psql, message, setup, statement, constraint):
    if setup:
        psql.execute(setup)
    before = psql.execute("SELECT * FROM trades ORDER BY id").fetchall(), \
        psql.execute("SELECT * FROM bot_instances ORDER BY id").fetchall()
    psql.execute("SAVEPOINT attempt")
    with pytest.raises(psycopg.errors.IntegrityError) as caught:
        psql.execute(statement)
    psql.execute("ROLLBACK TO SAVEPOINT attempt")
    error = caught.value
    assert error.diag.constraint_name == constraint, error
    if message in FOREIGN_KEY_MESSAGES:
        assert error.sqlstate == "23503", error
    else:
        assert (error.sqlstate, error.diag.message_primary) == ("23514", message)
        table, _, column = message.split(":")[0].partition(".")
        assert (error.diag.table_name, error.diag.column_name) == (table, column)
    after = psql.execute("SELECT * FROM trades ORDER BY id").fetchall(), \
        psql.execute("SELECT * FROM bot_instances ORDER BY id").fetchall()
    assert after == before


@pytest.mark.parametrize(
    "statement",
    [
        update("trades", "entry_price = 999999999999.99999999, size = 0"),
        update("trades", "gross_pnl = -123456789012345678901234.12345678"),  # computed: never refused for size
        update("trades", "entry_value = 123456789012345678901234.12345678"),
        update("trades", "pnl_percentage = -123456789012345678.1234"),
        update("trades", "entry_time = '2024-02-29 23:59:59.999999Z', exit_time = '9999-12-31 23:59:59.999999Z'"),
        update("trades", "extra_metadata = '{\"a\": [1, 2]}'"),
        update("trades", "extra_metadata = json_build_array(repeat('x', 1048572))"),  # exactly 1048576 bytes
        CLOSE_IT,
        update("trades", "status = 'cancelled', exit_time = entry_time"),
        update("bot_instances", "current_balance = -1, total_pnl = -1001"),
        update("performance_metrics", "win_rate = 100, total_trades = 0, sharpe_ratio = -3.5"),
        NEW_TRADE.format(CLOSED[0] + ", gross_pnl, net_pnl", CLOSED[1] + ", 1, 0.9"),
        "INSERT INTO bot_instances (id, type) VALUES ('b', 'live')",
    ],
)
def test_psql_can_write_valid_rows(psql, statement):
    psql.execute(statement)


def test_amounts_round_trip_exactly_and_times_come_back_as_utc_instants(psql):
    psql.execute("SET TimeZone = 'Asia/Tokyo'")
    psql.execute(
        "UPDATE trades SET entry_price = %s, size = %s, gross_pnl = %s, entry_time = %s, id = %s",
        (Decimal("123456789012.12345678"), "0.00000001", Decimal("-98765432109876543210.12345678"),
         datetime(2024, 3, 1, 14, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2))), TRADE_ID.upper()),
    )
    row = psql.execute("SELECT entry_price, size, gross_pnl, entry_time, id::text FROM trades").fetchone()
    assert row[:3] == (
        Decimal("123456789012.12345678"), Decimal("0.00000001"), Decimal("-98765432109876543210.12345678"))
    assert str(row[0]) == "123456789012.12345678" and str(row[1]) == "1E-8"
    assert row[3] == datetime(2024, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert row[4] == TRADE_ID  # stored as a UUID: lowercase and hyphenated whatever the input's case
    psql.execute("SET TimeZone = 'UTC'")
    moment = psql.execute("SELECT entry_time FROM trades").fetchone()[0]
    assert moment.utcoffset() == timedelta(0) and moment.isoformat() == "2024-03-01T12:00:00.123456+00:00"


def test_amounts_keep_their_scale_and_defaults_are_filled(psql):
    psql.execute("INSERT INTO bot_instances (id, type) VALUES ('shell-bot', 'live')")
    status, total_pnl, created_at, updated_at = psql.execute(
        "SELECT status, total_pnl, created_at, updated_at FROM bot_instances WHERE id = 'shell-bot'").fetchone()
    assert (status, total_pnl) == ("running", Decimal("0E-8"))
    assert created_at.tzinfo is not None and created_at == updated_at
    psql.execute(update("trades", "commission = 1.5, pnl_percentage = 2"))
    shown = psql.execute("SELECT commission::text, pnl_percentage::text FROM trades").fetchone()
    assert shown == ("1.50000000", "2.0000")


def test_psql_edits_touch_updated_at_even_in_the_transaction_that_wrote_the_row(psql):
    psql.execute("INSERT INTO bot_instances (id, type) VALUES ('b', 'paper')")
    created = psql.execute("SELECT updated_at FROM bot_instances WHERE id = 'b'").fetchone()[0]
    psql.execute("UPDATE bot_instances SET status = 'stopped' WHERE id = 'b'")
    touched = psql.execute("SELECT updated_at FROM bot_instances WHERE id = 'b'").fetchone()[0]
    assert touched > created
    psql.execute(update("trades", "updated_at = '2000-01-01 00:00:00Z'"))
    psql.execute(update("trades", "exit_reason = 'manual'"))
    assert psql.execute("SELECT updated_at FROM trades").fetchone()[0] > datetime(2000, 1, 2, tzinfo=UTC)


def test_a_bot_without_trades_or_metrics_can_be_retyped_renamed_and_deleted(psql):
    psql.execute("INSERT INTO bot_instances (id, type) VALUES ('b', 'paper')")
    psql.execute("UPDATE bot_instances SET type = 'live' WHERE id = 'b'")
    psql.execute("UPDATE bot_instances SET id = 'renamed' WHERE id = 'b'")
    psql.execute(NEW_TRADE.format("", "").replace("'bot-1', 'paper'", "'renamed', 'live'"))
    psql.execute("DELETE FROM trades WHERE bot_id = 'renamed'")
    psql.execute("DELETE FROM bot_instances WHERE id = 'renamed'")
    assert psql.execute("SELECT count(*) FROM bot_instances").fetchone() == (1,)


def test_the_views_show_each_tables_columns_with_amounts_as_numbers(psql):
    psql.execute(NEW_TRADE.format(CLOSED[0] + ", gross_pnl, net_pnl, exit_reason", CLOSED[1] + ", 10.25, 10.25, 'a'"))
    psql.execute(NEW_TRADE.replace(OTHER_ID, str(uuid.uuid4())).format(
        CLOSED[0] + ", gross_pnl, net_pnl, exit_reason", CLOSED[1] + ", 97.5, 97.5, 'b'"))
    psql.execute(NEW_TRADE.replace(OTHER_ID, str(uuid.uuid4())).format(
        CLOSED[0] + ", gross_pnl, net_pnl, exit_reason", CLOSED[1] + ", -2, -2, 'c'"))
    for table in TABLES:
        def described(name):
            return psql.execute(
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = %s::regclass AND attnum > 0 ORDER BY attnum", (name,)).fetchall()
        view, stored = described(f"{table}_view"), described(table)
        assert [n for n, _ in view] == [n for n, _ in stored]
        for (name, shown), (_, kind) in zip(view, stored):
            assert shown == ("double precision" if kind.startswith("numeric") else kind), name
    # The shell SQL that works on SQLite's view works here, on numbers.
    rows = psql.execute("SELECT exit_reason FROM trades_view WHERE net_pnl > 5 ORDER BY net_pnl DESC").fetchall()
    assert rows == [("b",), ("a",)]
    assert psql.execute("SELECT max(net_pnl), min(net_pnl) FROM trades_view").fetchone() == (97.5, -2.0)


# -- Rules between sessions -----------------------------------------------------------------

def wait_until_blocked(url: str, pid: int) -> None:
    with connect(url, autocommit=True) as watcher:
        for _ in range(100):
            row = watcher.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
            if row and row[0] == "Lock":
                return
            time.sleep(0.05)
    raise AssertionError(f"session {pid} never waited for a lock")


def in_thread(url: str, statement: str) -> tuple[threading.Thread, dict, int]:
    outcome: dict = {}
    connection = connect(url, autocommit=True)
    pid = connection.info.backend_pid

    def run():
        try:
            connection.execute(statement)
        except psycopg.Error as error:
            outcome["error"] = error
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome, pid


NEW_PAPER_TRADE_OF_B = (
    "INSERT INTO trades (id, bot_id, trade_type, entry_logic_name, exit_logic_name, symbol, interval, direction) "
    f"VALUES ('{OTHER_ID}', 'b', 'paper', 'e', 'x', 'BTCUSDT', '1h', 'long')"
)


@pytest.mark.parametrize("first", ["bot type changes", "trade is written"])
def test_a_trade_and_a_concurrent_change_of_its_bots_type_never_both_commit(databases, first):
    url = databases.new()
    migrate(url)
    with connect(url, autocommit=True) as connection:
        connection.execute("INSERT INTO bot_instances (id, type) VALUES ('b', 'paper')")
    retype = "UPDATE bot_instances SET type = 'live' WHERE id = 'b'"
    holder = connect(url)
    try:
        holder.execute(retype if first == "bot type changes" else NEW_PAPER_TRADE_OF_B)
        thread, outcome, pid = in_thread(url, NEW_PAPER_TRADE_OF_B if first == "bot type changes" else retype)
        wait_until_blocked(url, pid)
        holder.commit()
        thread.join(timeout=30)
        assert not thread.is_alive()
    finally:
        holder.close()
    assert isinstance(outcome.get("error"), psycopg.errors.IntegrityError), outcome
    with connect(url) as connection:
        mismatched = connection.execute(
            "SELECT count(*) FROM trades t JOIN bot_instances b ON b.id = t.bot_id WHERE t.trade_type <> b.type"
        ).fetchone()
    assert mismatched == (0,)


# -- The open-trades index --------------------------------------------------------------------

# sql/queries/trades.sql's get_open_trades_of_bot, in PostgreSQL's words: no rowid
# (ties by id), and a NULL symbol parameter needs its type.
OPEN_TRADES_OF_BOT = """
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE bot_id = %(bot_id)s AND status = 'open' AND (%(symbol)s::text IS NULL OR symbol = %(symbol)s)
ORDER BY entry_time, id
"""


@pytest.fixture
def history(databases) -> str:
    """100 bots with 200 trades each, one in ten open: runs of open trades among closed ones on disk."""
    url = databases.new()
    migrate(url)
    with connect(url) as connection:
        connection.execute(
            "INSERT INTO bot_instances (id, type) SELECT 'bot-' || n, 'paper' FROM generate_series(1, 100) AS n")
        connection.execute(
            "INSERT INTO trades (id, bot_id, trade_type, entry_logic_name, exit_logic_name, symbol, interval, "
            "direction, status, entry_time, exit_time, entry_price, exit_price, size, gross_pnl, net_pnl) "
            "SELECT gen_random_uuid(), 'bot-' || (1 + n % 100), 'paper', 'e', 'x', 'BTCUSDT', '1h', 'long', "
            "CASE WHEN is_open THEN 'open' ELSE 'closed' END, entry, "
            "CASE WHEN NOT is_open THEN entry + interval '1 hour' END, 100, CASE WHEN NOT is_open THEN 101 END, 1, "
            "CASE WHEN NOT is_open THEN 1 END, CASE WHEN NOT is_open THEN 1 END "
            "FROM generate_series(1, 20000) AS n, "
            "LATERAL (SELECT n % 1000 < 100 AS is_open, "
            "timestamptz '2024-01-01Z' + n * interval '1 minute' AS entry) AS t"
        )
    with connect(url, autocommit=True) as connection:
        connection.execute("ANALYZE")
    return url


@pytest.mark.parametrize("symbol", [None, "BTCUSDT"])
def test_open_trades_of_a_bot_are_read_through_idx_open_trades(history, symbol):
    with connect(history) as connection:
        params = {"bot_id": "bot-1", "symbol": symbol}
        plan = "\n".join(row[0] for row in connection.execute("EXPLAIN " + OPEN_TRADES_OF_BOT, params))
        rows = connection.execute(OPEN_TRADES_OF_BOT, params).fetchall()
    # An index scan, or a bitmap scan of it: only this bot's open trades are read, never its history.
    assert re.search(r"Index Scan (using|on) idx_open_trades\b", plan), plan
    assert "Index Cond: (bot_id = 'bot-1'::text)" in plan, plan
    assert re.findall(r"idx_\w+", plan) == ["idx_open_trades"] and "Seq Scan" not in plan, plan
    with connect(history) as connection:
        expected = connection.execute(
            "SELECT count(*) FROM trades WHERE bot_id = 'bot-1' AND status = 'open'").fetchone()
    assert (len(rows),) == expected and len(rows) > 0
    assert [r[8] for r in rows] == sorted(r[8] for r in rows)


# -- An unreachable server --------------------------------------------------------------------

def test_an_unreachable_server_fails_the_test_with_what_to_do_never_skips():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends: nothing listens there
    url = f"postgresql://root:sekret@127.0.0.1:{port}/test"
    try:
        connect(url)
    except BaseException as outcome:  # pytest's fail and skip are BaseExceptions
        caught = outcome
    else:
        raise AssertionError(f"connected to {url}, where nothing listens")
    assert type(caught) is pytest.fail.Exception, repr(caught)  # a failed test, never a skip
    message = str(caught)
    assert f"PostgreSQL is unreachable at postgresql://root:***@127.0.0.1:{port}/test" in message
    assert "TRADEDB_TEST_POSTGRESQL_URL" in message and "pg_ctlcluster" in message
    assert "sekret" not in message
