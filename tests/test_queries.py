"""The named-query loader fails loudly, and every query matches the record it fills."""

from __future__ import annotations

import dataclasses
import logging
import re
import sqlite3
from pathlib import Path

import pytest

import tradedb
from conftest import trade_data
from tradedb import queries as queries_module
from tradedb.queries import DIALECTS, QUERIES, QuerySet, load_dialect, load_queries, parse_query_file

ROOT = Path(__file__).resolve().parent.parent
RECORDS = {"trades.sql": tradedb.Trade, "bots.sql": tradedb.BotInstance, "metrics.sql": tradedb.PerformanceMetrics}


def write(tmp_path: Path, text: str, name: str = "q.sql") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "text, message",
    [
        ("-- name: a(x) :one\nSELECT :x;\n\n-- name: a(x) :one\nSELECT :x;\n", r"q.sql:4: duplicate query name 'a' \(first defined at q.sql:1\)"),
        ("-- name: a(x) :single\nSELECT :x;\n", r"q.sql:1: query 'a' has kind 'single'"),
        ("-- name: a\nSELECT 1;\n", r"q.sql:1: query 'a' has kind 'none'"),
        ("-- a comment\n\n-- name: a(x) :one\nSELECT :x, :y;\n", r"q.sql:3: query 'a' uses :y but does not declare it"),
        ("-- name: a(x, y) :one\nSELECT :x;\n", r"q.sql:1: query 'a' declares y but never uses it"),
        ("SELECT 1;\n-- name: a :many\nSELECT 1;\n", r"q.sql:1: SQL before the first"),
        ("-- name: a() :exec\n-- only a comment\n", r"q.sql:1: query 'a' has no SQL"),
        ("-- name a :exec\nSELECT 1;\n", r"q.sql:1: malformed header"),
    ],
)
def test_malformed_query_files_fail_with_file_and_line(tmp_path, text, message):
    with pytest.raises(tradedb.QueryFileError, match=message):
        QuerySet(parse_query_file(write(tmp_path, text)))


def test_duplicates_across_files_are_caught(tmp_path):
    write(tmp_path, "-- name: a() :exec\nDELETE FROM t;\n", "one.sql")
    write(tmp_path, "-- name: a() :exec\nDELETE FROM u;\n", "two.sql")
    with pytest.raises(tradedb.QueryFileError, match="two.sql:1: duplicate query name 'a'.*one.sql:1"):
        load_queries(tmp_path)


def test_text_that_only_looks_like_a_parameter_is_ignored(tmp_path):
    text = "-- name: a(at) :one\n-- Says :nothing here.\nSELECT strftime('%H:%M:%S', :at), \"col:x\" /* :y */ -- :z\n;\n"
    (query,) = parse_query_file(write(tmp_path, text))
    assert query.params == {"at"} and query.doc == "Says :nothing here."


def test_the_sql_sent_numbers_parameters_in_declared_order_and_leaves_strings_and_comments(tmp_path):
    text = (
        "-- name: a(at, b) :one\n"
        "SELECT strftime('%H:%M:%S', :at), :b, \"col:x\" /* :at */, :at -- :b\n;\n"
    )
    (query,) = parse_query_file(write(tmp_path, text))
    assert query.sql.splitlines()[1] == "SELECT strftime('%H:%M:%S', ?1), ?2, \"col:x\" /* :at */, ?1 -- :b"
    assert query.bind({"b": "second", "at": "first"}) == ("first", "second")
    connection = sqlite3.connect(":memory:")
    assert connection.execute(query.sql, query.bind({"at": "2024-01-02 03:04:05", "b": 7})).fetchone() == (
        "03:04:05", 7, "col:x", "2024-01-02 03:04:05"
    )


def test_the_sql_sent_names_the_query_and_its_origin():
    query = QUERIES["get_open_trades_of_bot"]
    assert query.sql.startswith("-- name: get_open_trades_of_bot (sql/sqlite/queries/trades.sql:")
    assert query.kind == "many" and query.params == {"bot_id", "symbol"}
    shared = QUERIES["get_trade_by_id"]
    assert shared.sql.startswith("-- name: get_trade_by_id (sql/queries/trades.sql:")
    assert DIALECTS["postgresql"]["get_trade_by_id"].sql.startswith("-- name: get_trade_by_id (sql/queries/trades.sql:")


# -- Dialects ------------------------------------------------------------------------------

def test_every_named_query_exists_in_both_dialects_with_the_same_kind_and_parameters():
    sqlite, postgresql = DIALECTS["sqlite"], DIALECTS["postgresql"]
    assert set(sqlite) == set(postgresql)
    assert len(sqlite) >= 40
    for name in sqlite:
        mine, theirs = sqlite[name], postgresql[name]
        assert (mine.kind, mine.declared, mine.params) == (theirs.kind, theirs.declared, theirs.params), name
    assert QUERIES is sqlite


def test_a_query_is_either_shared_or_in_each_dialects_folder():
    sql = ROOT / "sql"
    shared = load_queries(sql / "queries")
    own = {dialect: load_queries(sql / dialect / "queries", f"sql/{dialect}/queries") for dialect in DIALECTS}
    for dialect, queries in own.items():
        assert not set(queries) & set(shared), dialect
        assert set(DIALECTS[dialect]) == set(shared) | set(queries), dialect
        for name, query in DIALECTS[dialect].items():
            folder = "sql/queries/" if name in shared else f"sql/{dialect}/queries/"
            assert query.origin.startswith(folder), (dialect, name, query.origin)
    # What one dialect says in its own words, every other dialect says in its own too.
    assert set(own["sqlite"]) == set(own["postgresql"])


def test_the_loader_refuses_a_query_both_shared_and_in_a_dialects_folder(tmp_path, monkeypatch):
    for folder in ("queries", "sqlite/queries", "postgresql/queries"):
        (tmp_path / folder).mkdir(parents=True)
    write(tmp_path / "queries", "-- name: a() :one\nSELECT 1;\n", "x.sql")
    write(tmp_path / "postgresql/queries", "-- name: b() :one\nSELECT 2;\n", "y.sql")
    monkeypatch.setattr(queries_module, "resource_dir", lambda name: tmp_path)
    assert set(load_dialect("postgresql")) == {"a", "b"}
    write(tmp_path / "postgresql/queries", "-- name: b() :one\nSELECT 2;\n\n-- name: a() :one\nSELECT 3;\n", "y.sql")
    with pytest.raises(tradedb.QueryFileError, match=r"sql/postgresql/queries/y.sql:4: query 'a' is also in sql/queries/x.sql:1"):
        load_dialect("postgresql")
    assert set(load_dialect("sqlite")) == {"a"}


def test_every_postgresql_query_names_itself_and_its_origin_and_numbers_its_parameters():
    header = re.compile(r"-- name: (\w+) \((sql/queries|sql/postgresql/queries)/\w+\.sql:(\d+)\)\n")
    for name, query in DIALECTS["postgresql"].items():
        found = header.match(query.sql)
        assert found and found[1] == name, (name, query.sql[:80])
        path, line = query.origin.rsplit(":", 1)
        assert f"{found[2]}/" in path + "/" and found[3] == line
        assert (ROOT / path).read_text().splitlines()[int(line) - 1].startswith(f"-- name: {name}")
        code = queries_module._NOT_CODE.sub(" ", query.sql)
        assert not queries_module._PARAM.search(code), name  # every :param is $N now
        assert not re.search(r"\?\d|\browid\b|NOT INDEXED|sqlite_master|pragma_|json_each|ifnull\(", code, re.I), name
        numbers = {int(n) for n in re.findall(r"\$(\d+)", code)}
        assert numbers == set(range(1, len(query.declared) + 1)), name


def test_a_cast_after_a_parameter_is_kept_and_the_parameter_numbered(tmp_path):
    text = "-- name: a(x, limit) :many\nSELECT :x::text IS NULL, ':y::text' LIMIT CASE WHEN :limit::bigint >= 0 THEN :limit END;\n"
    (query,) = parse_query_file(write(tmp_path, text), placeholder="$")
    assert query.sql.splitlines()[1] == "SELECT $1::text IS NULL, ':y::text' LIMIT CASE WHEN $2::bigint >= 0 THEN $2 END"
    assert query.bind({"limit": -1, "x": None}) == (None, -1)


def test_shared_queries_use_no_sqlite_only_words():
    # Shared text must not lean on SQLite: no rowid, no SQLite functions, no ?N.
    for name, query in DIALECTS["sqlite"].items():
        if query.origin.startswith("sql/queries/"):
            code = queries_module._NOT_CODE.sub(" ", query.sql)
            assert not re.search(r"\browid\b|NOT INDEXED|sqlite_|pragma|json_|ifnull|strftime|julianday|CAST\(.* AS (REAL|INTEGER|BLOB)\)|LIMIT|::", code, re.I), name


def test_every_query_selects_the_columns_of_its_record(tmp_path):
    from tradedb.migrations import apply_pending

    path = tmp_path / "t.db"
    apply_pending(path)
    connection = sqlite3.connect(path)
    checked = 0
    for query in QUERIES.values():
        if query.kind == "exec":
            continue
        record = RECORDS.get(query.origin.split("/")[-1].split(":")[0])
        numbers = {"limit": -1, "page_size": 10, "after": 0, "batch_size": 10, "offset": 0}
        cursor = connection.execute(query.sql, query.bind({name: numbers.get(name) for name in query.params}))
        columns = [c[0] for c in cursor.description]
        if record is None or columns[0] != "id":
            continue  # an aggregate, not a record
        while columns[-1] in ("position", "stored_bytes"):  # paging queries add these last
            columns.pop()
        assert columns == [f.name for f in dataclasses.fields(record)], query.name
        checked += 1
    connection.close()
    assert checked >= 7


def test_no_query_selects_star():
    star = re.compile(r"SELECT\s+(?:DISTINCT\s+)?\*|\w\.\*", re.IGNORECASE)
    for dialect, queries in DIALECTS.items():
        for query in queries.values():
            assert not star.search(query.sql), (dialect, query.name)


async def test_debug_log_names_each_query_its_parameters_and_time(repo, bot, caplog):
    with caplog.at_level(logging.DEBUG, logger="tradedb.sql"):
        trade = await repo.create_trade(trade_data())
        await repo.get_trade_by_id(trade.id)
    messages = [record.getMessage() for record in caplog.records if record.name == "tradedb.sql"]
    assert any(m.startswith("insert_trade x1 [{'id': '" + trade.id) and m.endswith(" ms)") for m in messages), messages
    assert any(m.startswith("get_trade_by_id {'id': '" + trade.id) for m in messages), messages


def test_a_record_reader_refuses_columns_out_of_order_and_rows_of_the_wrong_length():
    from tradedb.records import TRADE_COLUMNS, row_reader, trade_from_row

    with pytest.raises(TypeError, match="Trade's fields are not its table's columns"):
        row_reader(tradedb.Trade, dict(reversed(TRADE_COLUMNS.items())), "trades")
    with pytest.raises(ValueError):
        trade_from_row((None,) * (len(TRADE_COLUMNS) - 1))


async def test_records_read_back_are_frozen_and_equal_to_records_built_by_their_constructor(repo, bot):
    trade = await repo.create_trade(trade_data(extra_metadata={"note": "x"}))
    stored = await repo.get_trade_by_id(trade.id)
    assert stored == trade == dataclasses.replace(stored)  # replace() goes through __init__
    with pytest.raises(dataclasses.FrozenInstanceError):
        stored.status = "closed"  # type: ignore[misc]
    assert stored.bot_id == bot.id and stored.extra_metadata == {"note": "x"}
