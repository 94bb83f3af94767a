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
from tradedb.queries import QUERIES, QuerySet, load_queries, parse_query_file

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
    assert query.sql.startswith("-- name: get_open_trades_of_bot (sql/queries/trades.sql:")
    assert query.kind == "many" and query.params == {"bot_id", "symbol"}


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
        numbers = {"limit": -1, "page_size": 10, "after": 0, "batch_size": 10}
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
    for query in QUERIES.values():
        assert not star.search(query.sql), query.name


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
