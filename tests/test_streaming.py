"""Streaming and reading whatever the database can hold: flat memory for large rows, any JSON depth."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tradedb
from cli_support import assert_one_line_error, cli
from conftest import trade_data
from pg_support import url_of

# SQLite 3.40's json_valid (the schema's CHECK) accepts JSON nested up to
# 2000 levels; newer SQLite stops at 1000. Python's recursion limit is 1000.
SHELL_DEPTH = 2000


def deep_json(depth: int) -> str:
    """JSON text nesting objects and lists `depth` levels, with "bottom" innermost."""
    opening = "".join('{"k":' if level % 2 == 0 else "[" for level in range(depth))
    closing = "".join("}" if level % 2 == 0 else "]" for level in reversed(range(depth)))
    return opening + '"bottom"' + closing


def unwrap(value: Any) -> tuple[int, Any]:
    """How deep `value` (shaped as deep_json's) nests, and what it holds innermost; no recursion."""
    depth = 0
    while isinstance(value, (dict, list)):
        value = value["k"] if isinstance(value, dict) else value[0]
        depth += 1
    return depth, value


def loads_deep(text: str) -> Any:
    """json.loads with room for SHELL_DEPTH levels (Python's own recursion limit stops at 1000)."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(SHELL_DEPTH * 3)
    try:
        return json.loads(text)
    finally:
        sys.setrecursionlimit(limit)


def shell_depth_accepted(raw) -> int:
    """The deepest JSON this SQLite's json_valid accepts, up to SHELL_DEPTH."""
    for depth in (SHELL_DEPTH, 1000):
        if raw.execute("SELECT json_valid(?)", (deep_json(depth),)).fetchone()[0]:
            return depth
    pytest.fail("this SQLite accepts JSON less than 1000 deep")


@pytest.fixture
async def deep_trade(repo, bot, raw_sql) -> tuple[str, int]:
    """A trade whose extra_metadata was set in the database's shell as deep as it allows: its id and that depth.

    SQLite's json_valid stops at 2000 or 1000 levels; PostgreSQL's jsonb holds far more: 2000 there too.
    """
    trade = await repo.create_trade(trade_data(extra_metadata={"k": "shallow"}))
    if raw_sql.backend == "sqlite":
        depth = shell_depth_accepted(raw_sql.connection)
        raw_sql.execute("UPDATE trades SET extra_metadata = ? WHERE id = ?", (deep_json(depth), trade.id))
    else:
        depth = SHELL_DEPTH
        raw_sql.connection.execute("UPDATE trades SET extra_metadata = %s::jsonb WHERE id = %s", (deep_json(depth), trade.id))
    return trade.id, depth


async def test_records_read_json_nested_as_deep_as_the_database_holds(repo, deep_trade):
    trade_id, depth = deep_trade
    trade = await repo.get_trade_by_id(trade_id)
    assert unwrap(trade.extra_metadata) == (depth, "bottom")
    [streamed] = [t async for t in repo.iter_trades()]
    assert unwrap(streamed.extra_metadata) == (depth, "bottom")
    [opened] = await repo.get_open_trades()
    assert unwrap(opened.extra_metadata) == (depth, "bottom")


async def test_every_cli_output_prints_json_nested_as_deep_as_the_database_holds(database, tmp_path, repo, deep_trade):
    trade_id, depth = deep_trade
    await repo.close()
    where, db_path = tmp_path, database

    listed = cli("trades", "--json", "--database", str(db_path), cwd=where)
    assert listed.code == 0, listed.err
    [shown] = loads_deep(listed.out)
    assert shown["id"] == trade_id and unwrap(shown["extra_metadata"]) == (depth, "bottom")

    table = cli("trades", "--database", str(db_path), cwd=where)
    assert table.code == 0 and trade_id[:8] in table.out, table.err  # the table shows ids cut short

    jsonl = cli("export", "trades", "--format", "jsonl", "--database", str(db_path), cwd=where)
    assert jsonl.code == 0, jsonl.err
    [line] = jsonl.out.splitlines()
    assert unwrap(loads_deep(line)["extra_metadata"]) == (depth, "bottom")

    exported = cli("export", "trades", "--format", "csv", "--database", str(db_path), cwd=where)
    assert exported.code == 0, exported.err
    [row] = list(csv.DictReader(io.StringIO(exported.out)))
    assert row["id"] == trade_id and unwrap(loads_deep(row["extra_metadata"])) == (depth, "bottom")


# Memory follows neither the number of trades nor their size. 200 trades of
# about 1 MB each (JSON_MAX_BYTES allows up to 1 MiB): read whole, a page of
# them would take 400 MB (the stored text and the decoded metadata).
TRADES, BLOB = 200, 1_000_000
FLAT = 80 * 2**20  # bytes of peak RSS growth allowed while streaming all 200 MB


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def large_rows(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path | str]:
    """A database of TRADES trades with BLOB bytes of extra_metadata each (of each backend)."""
    if request.param == "sqlite":
        path: Path | str = tmp_path_factory.mktemp("large") / "large.db"
        yield from fill_large(path)
    else:
        databases = request.getfixturevalue("pg_databases")
        for name in databases.new_database():
            yield from fill_large(url_of(name))


def fill_large(path: Path | str) -> Iterator[Path | str]:

    async def fill() -> None:
        async with tradedb.connect(path) as repo:
            await repo.create_bot_instance({"id": "bot-1", "type": "paper"})
            for start in range(0, TRADES, 20):
                await repo.create_trades(
                    [trade_data(extra_metadata={"n": n, "blob": str(n % 10) * BLOB}) for n in range(start, start + 20)]
                )

    asyncio.run(fill())
    yield path


def peak_growth(code: str, *args: str) -> dict[str, Any]:
    """Run `code` in a fresh Python: it defines `measured()`, called after `warm()`."""
    # What measured() returns, with "growth": the peak RSS gained during it, in bytes. Read from
    # /proc (Linux), not getrusage: ru_maxrss starts a child at its parent's size (pytest's, here).
    script = textwrap.dedent(code) + textwrap.dedent("""
        import json, pathlib

        def status(name):
            for line in pathlib.Path("/proc/self/status").read_text().splitlines():
                if line.startswith(name + ":"):
                    return int(line.split()[1]) * 1024
            raise LookupError(name)

        warm()
        pathlib.Path("/proc/self/clear_refs").write_text("5")  # the peak (VmHWM) starts again from here
        before = status("VmRSS")
        result = measured()
        print(json.dumps({"growth": status("VmHWM") - before, **result}))
    """)
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_iter_trades_stays_flat_in_bytes_not_only_in_rows(large_rows):
    measured = peak_growth(
        """
        import asyncio, sys, tradedb

        async def first():
            async with tradedb.connect(sys.argv[1], migrate=False) as repo:
                async for trade in repo.iter_trades(page_size=1):
                    return

        async def every():
            count = size = 0
            async with tradedb.connect(sys.argv[1], migrate=False) as repo:
                async for trade in repo.iter_trades():  # the default page_size, 1000 rows
                    count += 1
                    size += len(trade.extra_metadata["blob"])
            return {"count": count, "size": size}

        def warm():
            asyncio.run(first())

        def measured():
            return asyncio.run(every())
        """,
        str(large_rows),
    )
    assert (measured["count"], measured["size"]) == (TRADES, TRADES * BLOB)
    assert measured["growth"] < FLAT, f"peak RSS grew {measured['growth'] / 2**20:.0f} MB"


def test_export_stays_flat_in_bytes(large_rows, tmp_path):
    out = tmp_path / "trades.jsonl"
    measured = peak_growth(
        """
        import sys
        from tradedb.cli.app import main

        def warm():
            pass

        def measured():
            return {"code": main(["export", "trades", "--format", "jsonl", "--database", sys.argv[1],
                                  "--output", sys.argv[2]])}
        """,
        str(large_rows),
        str(out),
    )
    assert measured["code"] == 0
    with out.open(encoding="utf-8") as lines:
        sizes = [len(json.loads(line)["extra_metadata"]["blob"]) for line in lines]
    assert sizes == [BLOB] * TRADES
    assert measured["growth"] < FLAT, f"peak RSS grew {measured['growth'] / 2**20:.0f} MB"


async def test_a_page_cut_short_by_its_size_loses_and_repeats_no_trade(repo, bot, backend):
    created = [await repo.create_trade(trade_data(extra_metadata={"blob": "x" * 900_000})) for _ in range(12)]
    created += [await repo.create_trade(trade_data()) for _ in range(5)]
    if backend == "postgresql":  # storage order there is id order
        created.sort(key=lambda trade: trade.id)
    streamed = [trade.id async for trade in repo.iter_trades(page_size=7)]
    assert streamed == [trade.id for trade in created]
    assert [t.id async for t in repo.iter_trades(page_size=7, status="open", bot_id="bot-1")] == streamed


@pytest.mark.sqlite_only("malformed JSON in a stored row: PostgreSQL's jsonb cannot hold it")
async def test_export_of_a_damaged_database_is_one_line_saying_so(db_path, repo, bot, raw):
    trade = await repo.create_trade(trade_data(extra_metadata={"half": [1, 2]}))
    await repo.close()
    raw.execute("PRAGMA ignore_check_constraints = ON")  # as a truncated file or a hand edit leaves it
    raw.execute("UPDATE trades SET extra_metadata = ? WHERE id = ?", ('{"half": [1, 2', trade.id))
    for command in (["export", "trades"], ["trades", "--json"]):
        result = cli(*command, "--database", str(db_path), cwd=db_path.parent)
        assert_one_line_error(result, "damaged", "trades.extra_metadata", trade.id, "tradedb status --full")
