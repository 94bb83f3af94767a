"""The named queries on PostgreSQL: every one parses and plans on a migrated database, reads
the indexes its SQLite twin reads, and answers as its SQLite twin does on the same rows.

The answers are compared through the units of work themselves (tradedb/trades.py,
analytics.py, ...), which are dialect-free: each runs once on a SQLite session and once on
a PostgreSQL one, over the same rows inserted into both with plain SQL. The PostgreSQL
session here hands values as tradedb/postgresql.py does: psycopg 3's RawCursor, NUMERIC,
UUID and JSON as text, TIMESTAMPTZ as UTC text ending in Z.

These tests need a PostgreSQL 15 server: TRADEDB_TEST_POSTGRESQL_URL, by default
postgresql://root@127.0.0.1:5432/test. When it cannot be reached they FAIL, saying so; they
never skip. The module works in a database of its own, created on the server and dropped
afterwards.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import sqlite3
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

try:
    import psycopg
    from psycopg import sql
    from psycopg.adapt import Loader
    from psycopg.types.string import TextLoader
except ModuleNotFoundError:
    pytest.fail("psycopg 3 is missing: .venv/bin/pip install -e '.[test,postgresql]'", pytrace=False)
from yoyo import get_backend, read_migrations

from tradedb import analytics, bots, metrics, trades, upkeep
from tradedb.migrations import apply_pending
from tradedb.queries import DIALECTS, Query
from tradedb.records import BOT_COLUMNS, METRICS_COLUMNS, TRADE_COLUMNS
from tradedb.sqlite import Session as SQLiteSession

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = ROOT / "migrations" / "postgresql"
SERVER_URL = os.environ.get("TRADEDB_TEST_POSTGRESQL_URL", "postgresql://root@127.0.0.1:5432/test")
SQLITE, POSTGRESQL = DIALECTS["sqlite"], DIALECTS["postgresql"]


# -- The server, a database of our own, and a session like tradedb's ---------------------------

def without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)))


def connect(url: str, **options: Any) -> psycopg.Connection:
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


class UtcTimeLoader(Loader):
    """TIMESTAMPTZ as tradedb stores times: 'YYYY-MM-DD HH:MM:SS.ffffffZ' (the session is in UTC)."""

    def load(self, data: Any) -> str:
        text = bytes(data).decode()
        if not text.endswith("+00"):
            raise ValueError(f"not a UTC time: {text!r}")
        day, _, clock = text[:-3].partition(" ")
        whole, _, fraction = clock.partition(".")
        return f"{day} {whole}.{fraction.ljust(6, '0')}Z"


def session_connection(url: str) -> psycopg.Connection:
    connection = connect(url, autocommit=True, cursor_factory=psycopg.RawCursor)
    for name in ("numeric", "uuid", "json", "jsonb"):
        connection.adapters.register_loader(name, TextLoader)
    connection.adapters.register_loader("timestamptz", UtcTimeLoader)
    connection.execute("SET TimeZone = 'UTC'")
    return connection


class PostgreSQLSession:
    """What a unit of work sees of tradedb/postgresql.py's Session: its dialect's query of the same name."""

    dialect = "postgresql"

    def __init__(self, connection: psycopg.Connection) -> None:
        self.connection = connection

    def _run(self, query: Query, kind: str, params: Mapping[str, Any]) -> psycopg.Cursor:
        query = POSTGRESQL[query.name]
        assert query.kind == kind and params.keys() == query.params, (query.name, kind, sorted(params))
        return self.connection.execute(query.sql, query.bind(params))

    def one(self, query: Query, params: Mapping[str, Any]) -> Any:
        rows = self._run(query, "one", params).fetchall()
        return rows[0] if rows else None

    def many(self, query: Query, params: Mapping[str, Any]) -> list[Any]:
        return self._run(query, "many", params).fetchall()

    def each(self, query: Query, params: Mapping[str, Any]) -> Iterator[Any]:
        return iter(self.many(query, params))

    def exec(self, query: Query, params: Mapping[str, Any]) -> int:
        return self._run(query, "exec", params).rowcount

    def exec_many(self, query: Query, rows: Sequence[Mapping[str, Any]]) -> int:
        return sum(self.exec(query, row) for row in rows)

    def sum_overflowed(self, error: BaseException) -> bool:
        return False

    @staticmethod
    def shell_literal(value: str) -> str:
        return "'" + value.replace("'", "''") + "'"


def migrated_database() -> Iterator[str]:
    """A database of our own on the server, migrated with yoyo; dropped at the end."""
    name = f"tradedb_test_queries_{os.getpid()}_{uuid.uuid4().hex[:12]}"
    with connect(SERVER_URL, autocommit=True) as server:
        server.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = urlunsplit(urlsplit(SERVER_URL)._replace(path=f"/{name}"))
    try:
        backend = get_backend("postgresql+psycopg://" + url.split("://", 1)[1])
        with backend:
            with backend.lock():
                backend.apply_migrations(backend.to_apply(read_migrations(str(MIGRATIONS))))
        yield url
    finally:
        with connect(SERVER_URL, autocommit=True) as server:
            server.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


server_database = pytest.fixture(scope="module", name="server_database")(migrated_database)
history_database = pytest.fixture(scope="module", name="history_database")(migrated_database)


@pytest.fixture(scope="module")
def pg(server_database: str) -> Iterator[psycopg.Connection]:
    connection = session_connection(server_database)
    yield connection
    connection.close()


@dataclass
class Both:
    """A SQLite database and the PostgreSQL one, holding the same rows."""

    sqlite: SQLiteSession
    postgresql: PostgreSQLSession

    def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        for row in rows:
            columns = ", ".join(row)
            self.sqlite.connection.execute(
                f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' * len(row))})", tuple(row.values()))
            self.postgresql.connection.execute(
                f"INSERT INTO {table} ({columns}) VALUES ({', '.join(f'${n}' for n in range(1, len(row) + 1))})",
                tuple(row.values()),
            )

    def run(self, unit: Callable[..., Any], *args: Any) -> tuple[Any, Any]:
        """The unit of work's answer on SQLite, and on PostgreSQL."""
        return unit(self.sqlite, *args), unit(self.postgresql, *args)

    def same(self, unit: Callable[..., Any], *args: Any) -> Any:
        mine, theirs = self.run(unit, *args)
        assert theirs == mine, (unit.__name__, args)
        return mine

    def rows(self, name: str, **params: Any) -> tuple[list[Any], list[Any]]:
        """A query's raw rows on SQLite and on PostgreSQL."""
        mine, theirs = SQLITE[name], POSTGRESQL[name]
        return (
            [tuple(r) for r in self.sqlite.connection.execute(mine.sql, mine.bind(params)).fetchall()],
            [tuple(r) for r in self.postgresql.connection.execute(theirs.sql, theirs.bind(params)).fetchall()],
        )


@pytest.fixture
def both(tmp_path: Path, pg: psycopg.Connection) -> Iterator[Both]:
    pg.execute("TRUNCATE trades, performance_metrics, bot_instances")
    path = tmp_path / "t.db"
    apply_pending(path)
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA foreign_keys = ON")
    yield Both(SQLiteSession(connection, 0.0, path), PostgreSQLSession(pg))
    connection.close()


# -- Rows, in their stored forms ----------------------------------------------------------------

def at(day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0, month: int = 3) -> str:
    return f"2024-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:{second:02d}.{micro:06d}Z"


_made = itertools.count(1)


def tid(n: int) -> str:
    return f"{n:08x}-0000-4000-8000-{n:012x}"


def bot(bot_id: str, **values: Any) -> dict[str, Any]:
    row = dict.fromkeys(BOT_COLUMNS)
    row.update(id=bot_id, type="paper", status="running", total_pnl="0.00000000", created_at=at(1), updated_at=at(1))
    row.update(values)
    return row


def trade(n: int, **values: Any) -> dict[str, Any]:
    """Trade n: open, long, of bot-1, entered on March 1st; created after every row made before it."""
    row = dict.fromkeys(TRADE_COLUMNS)
    row.update(
        id=tid(n), bot_id="bot-1", trade_type="paper", entry_logic_name="e", exit_logic_name="x",
        symbol="BTCUSDT", interval="1h", direction="long", status="open", entry_time=at(1),
        entry_price="100.00000000", size="1.00000000", entry_value="100.00000000",
        created_at=(made := at(1, micro=next(_made))), updated_at=made,
    )
    row.update(values)
    if row["status"] == "closed":
        for name, amount in (("exit_price", "101.00000000"), ("gross_pnl", "1.00000000"), ("net_pnl", "1.00000000")):
            row[name] = row[name] or amount
        row["exit_time"] = row["exit_time"] or at(2)
    return row


def closed(n: int, net_pnl: str, exit_time: str, **values: Any) -> dict[str, Any]:
    values = {"gross_pnl": net_pnl, "commission": "0.00000000", **values}
    return trade(n, status="closed", net_pnl=net_pnl, exit_time=exit_time, **values)


def metrics_row(n: int, **values: Any) -> dict[str, Any]:
    row = dict.fromkeys(METRICS_COLUMNS)
    row.update(id=tid(n), bot_id="bot-1", win_rate="50.00", total_trades=2, calculated_at=at(1), created_at=at(1, micro=next(_made)))
    row.update(values)
    return row


# -- Every query parses and plans -------------------------------------------------------------------

SAMPLE = {
    "id": tid(1), "ids": json.dumps([tid(1), tid(2)]), "bot_id": "bot-1", "symbol": "BTCUSDT", "status": "open",
    "type": "paper", "trade_type": "paper", "direction": "long", "limit": -1, "page_size": 10, "after": 0,
    "batch_size": 10, "pid": 4242, "ctime": "2024-03-01T12:00:00.000000", "table_name": "trades",
    "extra_metadata": '{"a": 1}', "win_rate": "50.00", "total_trades": 2, "winning_trades": 1, "losing_trades": 1,
    "pnl_percentage": "1.0000", "sharpe_ratio": "1.0000", "profit_factor": "1.0000", "max_drawdown": "1.0000",
    "total_return": "1.0000", "offset": 0, "day": "2024-03-01", "after_id": tid(1), "page_after": tid(1),
}
TIMES = {"since", "until", "cutoff", "entry_time", "exit_time", "created_at", "updated_at", "started_at",
         "last_heartbeat", "calculated_at", "buy_order_created", "buy_order_closed", "sell_order_created",
         "sell_order_closed", "after_time"}


def sample(name: str) -> Any:
    if name in SAMPLE:
        return SAMPLE[name]
    if name in TIMES:
        return at(1, 12)
    if name in ("config_file", "strategy_name", "entry_logic_name", "exit_logic_name", "interval", "exit_reason"):
        return "x"
    return "1.00000000"  # an amount


@pytest.mark.parametrize("name", sorted(POSTGRESQL))
def test_every_postgresql_query_plans_with_null_and_with_sample_parameters(pg, name):
    # NULL is sent untyped, as is text: PostgreSQL must find each parameter's type in the SQL.
    query = POSTGRESQL[name]
    pg.execute("EXPLAIN " + query.sql, query.bind(dict.fromkeys(query.params)))
    pg.execute("EXPLAIN " + query.sql, query.bind({param: sample(param) for param in query.params}))


def test_every_read_returns_the_columns_of_its_sqlite_twin(both):
    checked = 0
    for name, query in SQLITE.items():
        if query.kind == "exec":
            continue
        params = {param: sample(param) for param in query.params}
        mine = both.sqlite.connection.execute(query.sql, query.bind(params)).description
        theirs = both.postgresql.connection.execute(POSTGRESQL[name].sql, POSTGRESQL[name].bind(params)).description
        assert [d[0] for d in theirs] == [d[0] for d in mine], name
        checked += 1
    assert checked >= 30


# -- Answers, through the units of work ----------------------------------------------------------

def test_open_trades_oldest_entry_first_ties_in_the_order_stored_no_entry_time_first(both):
    both.insert("bot_instances", [bot("bot-1"), bot("bot-2")])
    # Ids fall as trades are stored, so that id order is not the order stored.
    both.insert("trades", [
        trade(90, entry_time=at(1, 10)),
        trade(80, entry_time=at(1, 10), symbol="ETHUSDT"),
        trade(70, entry_time=at(1, 9)),
        trade(60, entry_time=None),
        trade(50, entry_time=at(1, 10), bot_id="bot-2"),
        trade(40, entry_time=at(1, 10)),
        closed(30, "1.00000000", at(2), entry_time=at(1, 8)),
        trade(20, status="cancelled", entry_time=at(1, 7), exit_time=at(1, 8)),
    ])
    mine = both.same(trades.get_open_trades, "bot-1", None)
    assert [t.id for t in mine] == [tid(60), tid(70), tid(90), tid(80), tid(40)]
    both.same(trades.get_open_trades, "bot-1", "ETHUSDT")
    assert [t.id for t in both.same(trades.get_open_trades, None, None)] == [tid(n) for n in (60, 70, 90, 80, 50, 40)]
    both.same(trades.get_open_trades, None, "BTCUSDT")
    assert both.same(trades.get_open_trades, "bot-3", None) == []


def test_closed_trades_newest_exit_first_limited_and_bounded(both):
    both.insert("bot_instances", [bot("bot-1"), bot("bot-2")])
    both.insert("trades", [
        closed(90, "1.00000000", at(5)),
        closed(80, "2.00000000", at(5), symbol="ETHUSDT"),
        closed(70, "3.00000000", at(4)),
        closed(60, "4.00000000", at(5), bot_id="bot-2"),
        closed(50, "5.00000000", at(6)),
        closed(40, "6.00000000", at(5)),
        trade(30),
    ])
    everything = both.same(trades.get_closed_trades, None, None, None, None, -1)
    assert [t.id for t in everything] == [tid(n) for n in (50, 40, 60, 80, 90, 70)]
    for limit in (-1, 0, 1, 3, 100):
        for bot_id in (None, "bot-1", "bot-2"):
            for symbol in (None, "ETHUSDT"):
                for since, until in ((None, None), (at(5), None), (None, at(5)), (at(4), at(6))):
                    both.same(trades.get_closed_trades, bot_id, symbol, since, until, limit)
    assert len(both.same(trades.get_closed_trades, "bot-1", None, None, None, 3)) == 3


WIDE = "123456789012345678.12345678"  # wider than SQLite's integer sums read: summed in Python there


@pytest.mark.parametrize("amounts", [
    ("1.50000000", "-0.25000000", "0.00000000", "0.00000001"),
    ("1.50000000", WIDE, "-" + WIDE, "92233720368.54775807"),  # and past 2^63 units on SQLite
])
def test_the_trade_summary_sums_exactly_in_the_units_the_unit_of_work_reads(both, amounts):
    both.insert("bot_instances", [bot("bot-1"), bot("bot-2")])
    rows = [closed(10 + n, amount, at(3 + n), entry_time=at(1, n), commission="0.10000000") for n, amount in enumerate(amounts)]
    rows += [closed(60, "92233720368.54775807", at(9), bot_id="bot-2", symbol="ETHUSDT", entry_time=at(2))]
    rows += [trade(70, entry_time=at(2, 5)), trade(80, status="cancelled", entry_time=at(1, 1), exit_time=at(1, 2))]
    rows += [trade(90, entry_time=None)]
    both.insert("trades", rows)
    for bot_id in (None, "bot-1", "bot-2", "bot-3"):
        for symbol, trade_type in ((None, None), ("ETHUSDT", None), (None, "paper"), (None, "live")):
            for since, until in ((None, None), (at(1, 1), None), (None, at(1, 2)), (at(1, 1), at(2))):
                both.same(analytics.get_trade_summary, bot_id, symbol, trade_type, since, until)
    # PostgreSQL sums NUMERIC exactly: whole 10^-8 units as text, never too wide for the unit of work.
    row = both.postgresql.one(SQLITE["trade_summary"], {"symbol": None, "trade_type": None, "since": None, "until": None})
    gross, net, commission, widest = row[6:10]
    assert widest == 0 and re.fullmatch(r"-?\d+", net) and commission == "40000000"
    assert Decimal(net).scaleb(-8) == sum(Decimal(a) for a in (*amounts, "92233720368.54775807"))
    nothing = both.rows("trade_summary_of_bot", bot_id="bot-3", symbol=None, trade_type=None, since=None, until=None)
    assert nothing[0] == nothing[1] == [(0, 0, 0, 0, 0, 0, None, None, None, None, None, None)]
    mine, theirs = both.rows("trade_summary_inputs", symbol=None, trade_type=None, since=None, until=None)
    assert sorted(theirs, key=repr) == sorted(mine, key=repr)


def test_books_are_summed_exactly_and_wrong_ones_found(both):
    both.insert("bot_instances", [
        bot("bot-1", total_pnl="3.00000000"), bot("bot-2", total_pnl="1.00000000"), bot("bot-3"),
        bot("bot-4", total_pnl=WIDE),
    ])
    both.insert("trades", [
        closed(1, "1.00000000", at(2)), closed(2, "2.00000000", at(3)),
        closed(3, "-0.50000000", at(2), bot_id="bot-2"), trade(4, bot_id="bot-3"),
        closed(5, WIDE, at(2), bot_id="bot-4"),
    ])
    sums = both.same(upkeep.closed_net_pnl_sums)
    assert sums == {"bot-1": Decimal(3), "bot-2": Decimal("-0.5"), "bot-4": Decimal(WIDE)}
    assert [row[0] for row in both.same(upkeep.wrong_books)] == ["bot-2"]
    mine, theirs = both.rows("closed_net_pnl")
    assert sorted(theirs) == sorted(mine)


def test_metrics_newest_calculation_first_none_last_and_limited(both):
    both.insert("bot_instances", [bot("bot-1"), bot("bot-2")])
    both.insert("performance_metrics", [
        metrics_row(90, calculated_at=at(2)),
        metrics_row(80, calculated_at=at(3)),
        metrics_row(70, calculated_at=None),
        metrics_row(60, calculated_at=at(3)),  # a tie in calculated_at: created_at decides
        metrics_row(50, calculated_at=at(4), bot_id="bot-2"),
        metrics_row(40, calculated_at=at(1), extra_metadata='{"note": "é"}'),
    ])
    mine = both.same(metrics.get_performance_metrics, "bot-1", -1)
    assert [m.id for m in mine] == [tid(n) for n in (60, 80, 90, 40, 70)]
    for limit in (0, 1, 2, 5, 6):
        both.same(metrics.get_performance_metrics, "bot-1", limit)
    both.same(metrics.get_performance_metrics, "bot-2", -1)


def test_performance_metrics_from_trades_closed_around_midnight_utc(both):
    both.insert("bot_instances", [bot("bot-1", current_balance="1000.00000000")])
    both.insert("trades", [
        closed(1, "10.00000000", at(1, 23, 59, 59, 999999)),
        closed(2, "-4.00000000", at(2, 0, 0, 0, 0)),
        closed(3, "7.00000000", at(2, 0, 0, 0, 0)),  # the same exit as trade 2: ties go by id on both
        closed(4, "-1.00000000", at(3, 23, 59, 59, 999999)),
        closed(5, "3.00000000", at(5, 0, 0, 0, 1)),
        closed(6, "2.00000000", at(5, 12), trade_type="paper", symbol="ETHUSDT"),
    ])
    for since, until in ((None, None), (at(2), None), (None, at(3)), (at(1, 23, 59, 59, 999999), at(5))):
        mine, theirs = both.rows("closed_trade_results_of_bot", bot_id="bot-1", trade_type=None, since=since, until=until)
        assert theirs == mine
        for start in (None, Decimal("1000")):
            computed = [
                {k: v for k, v in row.items() if k not in ("id", "calculated_at", "created_at")}
                for row in both.run(analytics.calculate_performance_metrics, "bot-1", start, None, since, until)
            ]
            assert computed[1] == computed[0]
    assert computed[0]["sharpe_ratio"] is not None


def test_pages_hold_every_trade_once_and_count_the_bytes_of_their_text(both, pg):
    both.insert("bot_instances", [bot("bot-1"), bot("bøt-2")])
    notes = [None, {"note": "é€😀"}, {"b": [1, 2, {"c": "ü"}], "a": None}, {}, {"x": "plain"}]
    rows = []
    for n in range(1, 12):
        note = notes[n % len(notes)]
        # SQLite keeps JSON text as written; PostgreSQL's JSONB returns its own text, which SQLite gets here.
        text = None if note is None else pg.execute("SELECT CAST(CAST($1 AS jsonb) AS text)", (json.dumps(note),)).fetchone()[0]
        rows.append(trade(n * 7 % 13 + 1, extra_metadata=text, strategy_name="stratégie" if n % 2 else None,
                          exit_reason=None, bot_id="bot-1" if n % 3 else "bøt-2",
                          status="open" if n % 4 else "cancelled", exit_time=None if n % 4 else at(3)))
    both.insert("trades", rows)
    mine, theirs = both.rows("get_trades_page", after=0, bot_id=None, symbol=None, status=None, page_size=100)
    assert {r[0]: r[-1] for r in theirs} == {r[0]: r[-1] for r in mine}  # stored_bytes, trade by trade
    assert [r[0] for r in theirs] == sorted(r[0] for r in theirs) and len(theirs) == 11
    assert any(r[-1] > len(json.dumps(notes[1], ensure_ascii=False)) + 20 for r in theirs)
    for filters in ((None, None, None), ("bot-1", None, None), ("bøt-2", None, "open"), (None, "ETHUSDT", None)):
        for page_size in (1, 2, 3, 11, 20):
            found = []
            for session in (both.sqlite, both.postgresql):
                after, seen = 0, []
                while after is not None:
                    page, after = trades.get_trades_page(session, after, *filters, page_size)
                    seen.extend(page)
                found.append(sorted(seen, key=lambda t: t.id))
            assert found[1] == found[0] and len({t.id for t in found[0]}) == len(found[0])


def test_bots_listed_by_id_byte_by_byte_and_stale_ones_found(both):
    ids = ["b", "B", "a-1", "a_1", "a.1", "é", "Z", "bot 2", "a"]
    far = "9999-01-01 00:00:00.000000Z"
    both.insert("bot_instances", [
        bot(bot_id, status=("running", "stopped", "error")[n % 3],
            started_at=(None, at(1), far)[n % 3 if n != 7 else 0], last_heartbeat=(None, None, at(2), far)[n % 4])
        for n, bot_id in enumerate(ids)
    ])
    assert [b.id for b in both.same(bots.list_bot_instances, None)] == sorted(ids, key=lambda i: i.encode())
    both.same(bots.list_bot_instances, "running")
    for max_age in (timedelta(minutes=5), timedelta(days=365 * 3000), timedelta(0)):
        both.same(bots.get_stale_bots, max_age)


def test_retention_deletes_the_same_batches_oldest_exit_first(both):
    both.insert("bot_instances", [bot("bot-1")])
    both.insert("trades", [
        *(closed(n, "1.00000000", at(2, n)) for n in range(1, 8)),
        trade(20, status="cancelled", exit_time=at(2, 0, 30)),
        trade(21, entry_time=at(1)),  # open: never deleted
        closed(22, "1.00000000", at(20)),
    ])
    both.insert("performance_metrics", [metrics_row(n, calculated_at=at(1 + n % 5)) for n in range(1, 9)])
    cutoff = at(10)
    assert both.same(upkeep.count_old_data, cutoff, at(4)) == {"trades": 8, "performance_metrics": 5}
    while both.same(upkeep.delete_old_trades, cutoff, 3):
        mine, theirs = (sorted(r[0] for r in s.connection.execute("SELECT CAST(id AS text) FROM trades").fetchall())
                        for s in (both.sqlite, both.postgresql))
        assert theirs == mine
    assert mine == [tid(21), tid(22)]
    assert [both.same(upkeep.delete_old_metrics, at(4), 2) for _ in range(4)] == [2, 2, 1, 0]


def test_trades_by_ids_finds_the_stored_ones(both):
    both.insert("bot_instances", [bot("bot-1")])
    both.insert("trades", [trade(1), closed(2, "1.00000000", at(2)), trade(3, extra_metadata='{"k": [1, 2]}')])
    found = both.same(trades.stored_trades, [tid(3), tid(1), tid(4)])
    assert set(found) == {tid(1), tid(3)}
    assert both.same(trades.stored_trades, []) == {}


def test_health_reads_agree(both):
    both.insert("bot_instances", [bot("bot-1", total_pnl="1.00000000")])
    both.insert("trades", [closed(1, "1.00000000", at(2))])
    for name in ("row_counts", "count_closed_trades_without_pnl", "count_trades_of_another_type", "bot_books",
                 "count_finished_trades_before", "count_metrics_before"):
        params = {param: sample(param) for param in SQLITE[name].params}
        mine, theirs = both.rows(name, **params)
        assert theirs == mine, name
    for name in ("closed_trades_without_pnl", "trades_of_another_type"):
        for limit in (-1, 0, 3):
            assert both.rows(name, limit=limit) == ([], [])


def test_schema_queries_answer_as_sqlites_do(both):
    for name, params in (("count_user_tables", {}), ("has_yoyo_migration_table", {}), ("applied_migration_ids", {}),
                         ("has_table", {"table_name": "trades"}), ("has_table", {"table_name": "yoyo_lock"}),
                         ("has_table", {"table_name": "nope"})):
        mine, theirs = both.rows(name, **params)
        assert theirs == mine, name
    for table in ("bot_instances", "trades", "performance_metrics", "trades_view"):
        mine, theirs = both.rows("table_columns", table_name=table)
        assert [(c[0], c[2], c[4], c[5]) for c in theirs] == [(c[0], c[2], c[4], c[5]) for c in mine], table
    mine, theirs = both.rows("schema_objects")
    for kind in ("table", "index", "view"):
        assert {r[1:3] for r in theirs if r[0] == kind} == {r[1:3] for r in mine if r[0] == kind}, kind
    assert {r[0] for r in theirs} == {"table", "index", "view", "trigger", "function"}
    assert all(r[3] for r in theirs) and theirs == sorted(theirs, key=lambda r: (r[0].encode(), r[1].encode()))
    # yoyo's lock row, as tradedb takes it, reads back the same on both.
    for session in (both.sqlite, both.postgresql):
        assert session.one(SQLITE["migration_lock_holder"], {}) is None
        session.exec(SQLITE["take_migration_lock"], {"pid": 4242, "ctime": "2024-03-01T12:00:00.123456"})
    mine, theirs = both.rows("migration_lock_holder")
    assert theirs == [(4242, "2024-03-01 12:00:00.123456")] and mine[0][0] == 4242
    for session in (both.sqlite, both.postgresql):
        assert session.exec(SQLITE["release_migration_lock"], {"pid": 4242}) == 1


def test_the_shared_writes_store_what_sqlite_stores(both):
    # insert_trade, update_trade, close_trade, ... run unchanged on PostgreSQL: their untyped
    # parameters take the types of the columns they go to.
    both.insert("bot_instances", [bot("bot-1", current_balance="1000.00000000")])
    row = trade(1, extra_metadata='{"a": 1}', buy_order_created=at(1, 1))
    assert both.run(lambda s: s.exec_many(SQLITE["insert_trade"], [row, row])) == (1, 1)  # the retry changes nothing
    closing = {"id": tid(1), "exit_price": "110.00000000", "exit_time": at(3), "exit_value": "110.00000000",
               "commission": "0.10000000", "gross_pnl": "10.00000000", "net_pnl": "9.90000000",
               "pnl_percentage": "9.9000", "exit_reason": "tp", "updated_at": at(3)}
    assert both.run(lambda s: s.exec(SQLITE["close_trade"], closing)) == (1, 1)
    assert both.run(lambda s: s.exec(SQLITE["close_trade"], closing)) == (0, 0)
    both.same(trades.get_trade_by_id, tid(1))
    both.same(bots.get_bot_instance, "bot-1")
    mine, theirs = both.rows("get_bot_books", id="bot-1")
    assert theirs == mine


# -- The plans read the indexes SQLite's do --------------------------------------------------------

@pytest.fixture(scope="module")
def history(history_database: str) -> Iterator[psycopg.Connection]:
    """100 bots with 50 trades each, one in ten open, and 30 metrics rows each, analyzed."""
    connection = session_connection(history_database)
    connection.execute("INSERT INTO bot_instances (id, type) SELECT 'bot-' || n, 'paper' FROM generate_series(1, 100) AS n")
    connection.execute(
        "INSERT INTO trades (id, bot_id, trade_type, entry_logic_name, exit_logic_name, symbol, interval, "
        "direction, status, entry_time, exit_time, entry_price, exit_price, size, gross_pnl, net_pnl) "
        "SELECT gen_random_uuid(), 'bot-' || (1 + n % 100), 'paper', 'e', 'x', 'BTCUSDT', '1h', 'long', "
        "CASE WHEN is_open THEN 'open' ELSE 'closed' END, entry, "
        "CASE WHEN NOT is_open THEN entry + interval '1 hour' END, 100, CASE WHEN NOT is_open THEN 101 END, 1, "
        "CASE WHEN NOT is_open THEN 1 END, CASE WHEN NOT is_open THEN 1 END "
        "FROM generate_series(1, 5000) AS n, "
        "LATERAL (SELECT n % 1000 < 100 AS is_open, timestamptz '2024-01-01Z' + n * interval '1 minute' AS entry) AS t"
    )
    connection.execute(
        "INSERT INTO performance_metrics (id, bot_id, calculated_at) SELECT gen_random_uuid(), "
        "'bot-' || (1 + n % 100), timestamptz '2024-01-01Z' + n * interval '1 hour' FROM generate_series(1, 3000) AS n"
    )
    connection.execute("ANALYZE")
    yield connection
    connection.close()


def plans(connection: psycopg.Connection, name: str, params: Mapping[str, Any]) -> tuple[str, str]:
    """The plan for these values, and the generic plan a prepared statement may switch to."""
    query = POSTGRESQL[name]
    custom = "\n".join(row[0] for row in connection.execute("EXPLAIN " + query.sql, query.bind(params)))
    values = ", ".join("NULL" if v is None else str(v) if isinstance(v, int) else "'" + v.replace("'", "''") + "'"
                       for v in query.bind(params))
    connection.execute(f"PREPARE tdq_plan AS {query.sql}")
    try:
        connection.execute("SET plan_cache_mode = force_generic_plan")
        generic = "\n".join(row[0] for row in connection.execute(
            "EXPLAIN EXECUTE tdq_plan" + (f"({values})" if values else "")))
    finally:
        connection.execute("RESET plan_cache_mode")
        connection.execute("DEALLOCATE tdq_plan")
    return custom, generic


WHERE = {
    "get_open_trades_of_bot": ({"bot_id": "bot-1", "symbol": None}, r"Index Scan on idx_open_trades\b|Index Scan using idx_open_trades\b"),
    "get_open_trades": ({"symbol": None}, r"idx_open_trades_by_entry"),
    "get_closed_trades_of_bot": (
        {"bot_id": "bot-1", "symbol": None, "since": None, "until": None, "limit": 10}, r"idx_closed_trades"),
    "get_closed_trades": ({"symbol": None, "since": None, "until": None, "limit": 10}, r"idx_exit_time"),
    "closed_trade_results_of_bot": ({"bot_id": "bot-1", "trade_type": None, "since": None, "until": None}, r"idx_closed_trades"),
    "trade_summary_of_bot": (
        {"bot_id": "bot-1", "symbol": None, "trade_type": None, "since": None, "until": None}, r"idx_bot_trade_type|idx_\w+_trades"),
    "get_trades_by_ids": ({"ids": json.dumps([tid(1), tid(2)])}, r"Index Cond: \(id = ANY"),
    "get_trades_page": ({"after": 0, "bot_id": None, "symbol": None, "status": None, "page_size": 100}, r"trades_pkey"),
    "get_trade_by_id": ({"id": tid(1)}, r"trades_pkey"),
    "close_trade": ({**dict.fromkeys(POSTGRESQL["close_trade"].params), "id": tid(1)}, r"trades_pkey"),
    "get_performance_metrics": ({"bot_id": "bot-1", "limit": 1}, r"idx_metrics_bot"),
    "finished_trade_pnl_before": ({"cutoff": "2024-01-02 00:00:00.000000Z", "batch_size": 200}, r"idx_exit_time"),
    "finished_trades_before": ({"cutoff": "2024-01-02 00:00:00.000000Z", "batch_size": 200}, r"idx_exit_time"),
    "finished_trades_by_ids_for_update": ({"ids": json.dumps([tid(1), tid(2)])}, r"trades_pkey"),
    "delete_trades_by_ids": ({"ids": json.dumps([tid(1), tid(2)])}, r"trades_pkey"),
    "delete_metrics_by_ids": ({"ids": json.dumps([tid(1), tid(2)])}, r"performance_metrics_pkey"),
    "metrics_before": ({"cutoff": "2024-01-02 00:00:00.000000Z", "batch_size": 200}, r"performance_metrics_pkey"),
    "copy_trades_after": ({"page_after": tid(1), "page_size": 1000}, r"trades_pkey"),
    "copy_trades_first": ({"page_size": 1000}, r"trades_pkey"),
    "copy_metrics_after": ({"page_after": tid(1), "page_size": 1000}, r"performance_metrics_pkey"),
    "metrics_by_ids": ({"ids": json.dumps([tid(1), tid(2)])}, r"performance_metrics_pkey"),
    "delete_metrics_before": ({"cutoff": "2024-01-02 00:00:00.000000Z", "batch_size": 200}, r"performance_metrics_pkey"),
    "count_finished_trades_before": ({"cutoff": "2024-01-02 00:00:00.000000Z"}, r"idx_exit_time"),
}


@pytest.mark.parametrize("name", sorted(WHERE))
def test_each_query_reads_its_index_in_both_plans(history, name):
    params, index = WHERE[name]
    for plan in plans(history, name, params):
        assert re.search(index, plan), plan
        assert not re.search(r"Seq Scan on trades\b", plan), plan
