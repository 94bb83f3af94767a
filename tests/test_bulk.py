"""The bulk path of create_trades (and of every exec_many), on both backends.

create_trades converts each trade once into its stored row and its record's
values, sends an INSERT for up to 500 rows per statement (then 64, 8 and one
by one), and, on PostgreSQL, checks the next trades while the server inserts
the first. These tests hold it to what one trade at a time stores and returns,
every column; to all-or-nothing; to the first invalid trade being the one
named; to retries answered from what is stored; and to the schema's rules still
refusing what tradedb would never send.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import sqlite3
import time
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

import tradedb
import tradedb.sqlite as sqlite_backend
from tradedb import trades as trades_module
from tradedb.errors import ConflictError, ValidationError
from tradedb.queries import DIALECTS
from tradedb.records import TRADE_COLUMNS, trade_from_row
from tradedb.schema import shipped_triggers
from tradedb.values import UTC, DecimalKind, JsonKind, TimeKind, UuidKind, TextKind, ChoiceKind, time_to_text

COLUMNS = list(TRADE_COLUMNS)
START = datetime(2024, 1, 1, tzinfo=timezone.utc)


class Subtime(datetime):
    """A datetime subclass: read through datetime's own code."""


def varied(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """`count` trades of every form a caller may give: amounts as Decimal, int, float and text; times in UTC, in
    other zones, as text, folded; ids as UUID, upper-case text or none; open, closed (PnL given or computed) and
    cancelled; JSON flat, nested, with non-text keys; text beyond ASCII. exit_logic_name tells them apart."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        entry = START + timedelta(minutes=7 * i, microseconds=rng.randrange(10**6) if i % 5 else 0)
        when: Any = {
            0: entry,
            1: entry.astimezone(timezone(timedelta(hours=5, minutes=30))),
            2: entry.isoformat().replace("+00:00", "Z"),
            3: entry.replace(fold=1),
            4: Subtime.combine(entry.date(), entry.timetz()),
        }[i % 5]
        price = Decimal(rng.randint(1, 10**9)).scaleb(-rng.randint(0, 10))  # some need rounding half-even
        size = Decimal(rng.randint(1, 10**7)).scaleb(-6)
        amount: Any = {0: price, 1: int(price) + 1, 2: float(round(price, 4)) or 0.5, 3: f" {price} "}[i % 4]
        trade: dict[str, Any] = {
            "bot_id": "bot-1" if i % 3 else "bot-2",
            "trade_type": "paper" if i % 3 else "live",
            "strategy_name": None if i % 7 == 0 else f"strategy {i % 4}",
            "entry_logic_name": "RSIEntry",
            "exit_logic_name": f"exit-{i:05d}",
            "symbol": ("BTCUSDT", "ETHUSDT", "SOL/USDT")[i % 3],
            "interval": ("1h", "15m")[i % 2],
            "direction": ("long", "short")[i % 2],
            "entry_time": when,
            "entry_price": amount,
            "size": size,
            "extra_metadata": {
                0: None,
                1: {"rsi": rng.random() * 100, "signal": "bb_lower", "n": i, "ok": True, "none": None},
                2: {"nested": {"levels": [1, 2.5, "three"]}, "tuple": (1, 2)},
                3: {1: "int key", "x": -0.0, "big": 1e16},
                4: ["a", {"b": "ünïcødé ✓"}],
                5: "just text",
            }[i % 6],
        }
        if i % 11 == 0:
            trade["id"] = uuid.UUID(int=rng.getrandbits(128), version=4)
        elif i % 11 == 1:
            trade["id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper()
        elif i % 11 != 2:
            trade["id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        kind = i % 4
        if kind in (1, 2):
            exit_price = price * Decimal(rng.randint(900, 1100)) / 1000
            trade.update(status="closed", exit_time=entry + timedelta(hours=3), exit_price=exit_price,
                         commission=Decimal("0.001") * i, exit_reason="take profit ✓" if i % 2 else "stop")
            if kind == 2:  # history with its PnL given
                trade.update(gross_pnl=Decimal(rng.randint(-10**8, 10**8)).scaleb(-4), net_pnl=Decimal("-0.00"),
                             pnl_percentage="1.23456", exit_value=Decimal(0), entry_value=7)
        elif kind == 3:
            trade.update(status="cancelled", exit_time=(entry + timedelta(minutes=1)).isoformat())
        out.append(trade)
    return out


async def bots(repo: tradedb.Repository) -> None:
    await repo.create_bot_instance({"id": "bot-1", "type": "paper", "current_balance": "1000"})
    await repo.create_bot_instance({"id": "bot-2", "type": "live", "current_balance": "50.5"})


def stored(raw_sql: Any, backend: str) -> dict[str, tuple[Any, ...]]:
    """Every stored trade as its columns' stored text (created_at and updated_at left out), by exit_logic_name."""
    if backend == "sqlite":
        columns = ", ".join(COLUMNS[:-2])
    else:  # the text PostgreSQL holds, in tradedb's forms
        columns = ", ".join(
            f"to_char({c} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US\"Z\"')" if isinstance(TRADE_COLUMNS[c], TimeKind)
            else f"{c}::text" for c in COLUMNS[:-2]
        )
    rows = raw_sql.execute(f"SELECT {columns} FROM trades").fetchall()
    by_name = {row[COLUMNS.index("exit_logic_name")]: tuple(row) for row in rows}
    assert len(by_name) == len(rows)
    return by_name


def comparable(record: Any, backend: str) -> list[Any]:
    """A record's fields as exact text (Decimal digits, datetime zones); JSON by value on PostgreSQL, whose JSONB
    normalizes the text it reads back (key order, 1e16 as an integer)."""
    return [
        getattr(record, name) if name == "extra_metadata" and backend == "postgresql" else repr(getattr(record, name))
        for name in COLUMNS
    ]


async def test_a_batch_stores_and_returns_what_one_trade_at_a_time_does(repo, raw_sql, backend) -> None:
    await bots(repo)
    # 600 trades: one statement of 500 rows, one of 64, four of 8, and 4 rows one by one.
    items = varied(600)
    records = await repo.create_trades(items)
    batch = stored(raw_sql, backend)
    assert len(batch) == 600
    # Each record is what reading its row back gives, to the digit and the time zone.
    for record in records:
        again = await repo.get_trade_by_id(record.id)
        assert comparable(record, backend) == comparable(again, backend)
        if backend == "sqlite":
            assert repr(record) == repr(again)
    assert [r.exit_logic_name for r in records] == [t["exit_logic_name"] for t in items]
    books = {b.id: b.total_pnl for b in await repo.list_bot_instances()}
    # The same trades one at a time, in a second database (ids made by tradedb differ; the rest may not).
    raw_sql.execute("DELETE FROM trades")
    for bot_id, balance in (("bot-1", "1000.00000000"), ("bot-2", "50.50000000")):
        raw_sql.execute("UPDATE bot_instances SET total_pnl = ?, current_balance = ? WHERE id = ?",
                        ("0.00000000", balance, bot_id))
    for item in items:
        await repo.create_trade(item)
    single = stored(raw_sql, backend)
    generated = [t["exit_logic_name"] for t in items if "id" not in t]
    for name, row in batch.items():
        other = single[name]
        if name in generated:
            row, other = row[1:], other[1:]
        assert row == other, name
    assert {b.id: b.total_pnl for b in await repo.list_bot_instances()} == books
    stats = raw_sql.execute("SELECT count(*), sum(trades) FROM closed_trade_stats").fetchone()
    assert stats[1] == sum(1 for t in items if t.get("status") == "closed")


@pytest.mark.parametrize("bad", [0, 2500, 4999])
async def test_a_bad_trade_in_5000_is_named_and_nothing_is_written(repo, raw_sql, bad) -> None:
    await bots(repo)
    items = varied(5000, seed=3)
    items[bad]["size"] = "-1"
    with pytest.raises(ValidationError) as caught:
        await repo.create_trades(items)
    assert caught.value.field == f"trades[{bad}].size"
    assert raw_sql.value("SELECT count(*) FROM trades") == 0
    assert raw_sql.value("SELECT count(*) FROM closed_trade_stats") == 0
    assert {b.id: b.total_pnl for b in await repo.list_bot_instances()} == {"bot-1": 0, "bot-2": 0}
    # Every trade but that one is good: the batch then goes in whole.
    items[bad]["size"] = "1"
    assert len(await repo.create_trades(items)) == 5000
    assert raw_sql.value("SELECT count(*) FROM trades") == 5000


async def test_the_first_invalid_trade_is_named_even_after_an_insert_failed(repo, raw_sql) -> None:
    # Trade 10's bot does not exist (the database refuses it, in the first statement sent) and trade 4000
    # is invalid: as when every trade is checked before any is written, trade 4000 is the error.
    await bots(repo)
    items = varied(4500, seed=5)
    items[10].update(bot_id="nobody", trade_type="paper")
    items[4000]["entry_time"] = datetime(2024, 1, 1)  # naive
    with pytest.raises(ValidationError) as caught:
        await repo.create_trades(items)
    assert caught.value.field == "trades[4000].entry_time"
    # Without it, the unknown bot is named, by its place.
    items[4000]["entry_time"] = START
    with pytest.raises(ValidationError) as caught:
        await repo.create_trades(items)
    assert caught.value.field == "trades[10].bot_id" and "nobody" in str(caught.value)
    # A trade of another type than its bot.
    items[10].update(bot_id="bot-2", trade_type="paper")
    with pytest.raises(ValidationError) as caught:
        await repo.create_trades(items)
    assert caught.value.field == "trades[10].trade_type"
    assert raw_sql.value("SELECT count(*) FROM trades") == 0


async def test_a_retried_batch_returns_what_is_stored_and_writes_nothing(repo, raw_sql, backend) -> None:
    await bots(repo)
    items = varied(1200, seed=9)
    for i, item in enumerate(items):
        item.setdefault("id", str(uuid.UUID(int=i + 1, version=4)))
    first = await repo.create_trades(items[:700])
    books = {b.id: b.total_pnl for b in await repo.list_bot_instances()}
    # The whole batch again: the first 700 are answered from the database, the other 500 stored now.
    again = await repo.create_trades(items)
    assert [comparable(r, backend) for r in again[:700]] == [comparable(r, backend) for r in first]
    assert raw_sql.value("SELECT count(*) FROM trades") == 1200
    added = sum((r.net_pnl for r in again[700:] if r.status == "closed"), Decimal(0))
    after = {b.id: b.total_pnl for b in await repo.list_bot_instances()}
    assert sum(after.values()) - sum(books.values()) == added
    # And once more: nothing new, the books as they were.
    third = await repo.create_trades(items)
    assert [comparable(r, backend) for r in third] == [comparable(r, backend) for r in again]
    assert {b.id: b.total_pnl for b in await repo.list_bot_instances()} == after
    assert raw_sql.value("SELECT count(*) FROM trades") == 1200


async def test_a_retry_with_another_entry_is_a_conflict_and_writes_nothing(repo, raw_sql) -> None:
    await bots(repo)
    items = varied(900, seed=11)
    for i, item in enumerate(items):
        item["id"] = str(uuid.UUID(int=i + 1, version=4))
    await repo.create_trades(items[:100])
    changed = [dict(item) for item in items]
    changed[50]["entry_price"] = Decimal("123.45")
    with pytest.raises(ConflictError, match=str(uuid.UUID(int=51, version=4))):
        await repo.create_trades(changed)
    assert raw_sql.value("SELECT count(*) FROM trades") == 100
    # A conflict is told before an insert's failure (trade 800's bot does not exist) ...
    changed[800].update(bot_id="nobody", trade_type="paper")
    with pytest.raises(ConflictError):
        await repo.create_trades(changed)
    # ... and after any invalid trade.
    changed[850]["size"] = "lots"
    with pytest.raises(ValidationError, match=r"trades\[850\]\.size"):
        await repo.create_trades(changed)
    assert raw_sql.value("SELECT count(*) FROM trades") == 100


async def test_the_same_id_twice_in_a_batch_is_one_trade(repo, raw_sql) -> None:
    await bots(repo)
    items = varied(40, seed=13)
    items[30] = dict(items[3])  # a repeat, ids and all
    if "id" not in items[3]:
        items[3]["id"] = items[30]["id"] = str(uuid.uuid4())
    records = await repo.create_trades(items)
    assert raw_sql.value("SELECT count(*) FROM trades") == 39
    assert records[30] == records[3]
    items[30] = dict(items[3], size="999")
    with pytest.raises(ConflictError):
        await repo.create_trades([dict(item, id=str(uuid.uuid4())) if i not in (3, 30) else item
                                  for i, item in enumerate(items)])


async def test_the_database_rules_fire_on_the_bulk_statements(repo, raw_sql) -> None:
    # Rows written by exec_many's statements of many rows, past tradedb's checks: the schema refuses a closed
    # trade without its net_pnl, and the statement's rows with it.
    await bots(repo)
    now = time_to_text(datetime.now(UTC))
    rows = [trades_module.new_trade_row(item, now) for item in varied(600, seed=17)]
    victim = next(i for i, row in enumerate(rows) if row["status"] == "closed" and i > 520)
    rows[victim]["net_pnl"] = None

    def unit(session: Any) -> int:
        return session.exec_many(trades_module.INSERT_TRADE, rows)

    with pytest.raises(ValidationError, match="net_pnl"):
        await repo._db.write(unit)
    assert raw_sql.value("SELECT count(*) FROM trades") == 0
    rows[victim]["net_pnl"] = "1.00000000"
    assert await repo._db.write(unit) == 600
    # ON CONFLICT DO NOTHING, per row, as before: the same rows again change nothing.
    assert await repo._db.write(unit) == 0
    assert raw_sql.value("SELECT count(*) FROM trades") == 600


async def test_a_raw_write_of_a_closed_trade_without_net_pnl_is_refused(repo, raw_sql, backend) -> None:
    # As psql's COPY or the sqlite3 shell's INSERT of many rows would write it, past tradedb.
    await bots(repo)
    now = time_to_text(datetime.now(UTC))
    rows = [trades_module.new_trade_row(item, now) for item in varied(4, seed=19)[1:3]]
    assert [row["status"] for row in rows] == ["closed", "closed"]
    rows[1]["net_pnl"] = None
    names = ", ".join(rows[0])
    if backend == "postgresql":
        import psycopg

        with pytest.raises(psycopg.errors.CheckViolation, match="net_pnl"):
            with raw_sql.connection.cursor().copy(f"COPY trades ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(tuple(row.values()))
    else:
        import sqlite3

        marks = ", ".join(["(" + ", ".join("?" * len(rows[0])) + ")"] * 2)
        with pytest.raises(sqlite3.IntegrityError, match="net_pnl"):
            raw_sql.execute(f"INSERT INTO trades ({names}) VALUES {marks}", [v for row in rows for v in row.values()])
    assert raw_sql.value("SELECT count(*) FROM trades") == 0


def test_each_kind_converts_as_to_db_then_reading_back_would() -> None:
    # convert(field, value) is (to_db(field, value), what reading that stored form gives), for every kind and
    # form of value, to the digit, the exponent and the time zone; refusals alike.
    rng = random.Random(21)
    kinds: dict[str, Any] = {
        "money": DecimalKind(20, 8), "unsigned": DecimalKind(20, 8, signed=False), "ratio": DecimalKind(10, 4),
        "percent": DecimalKind(5, 2, signed=False, maximum=Decimal(100)), "time": TimeKind(), "json": JsonKind(),
        "uuid": UuidKind(), "text": TextKind(required=False), "name": TextKind(required=True, max_length=5),
        "choice": ChoiceKind("a", "b"),
    }
    values: list[Any] = [
        Decimal("0"), Decimal("-0"), Decimal("-0.000000001"), Decimal("0.000000005"), Decimal("0.000000015"),
        Decimal("1E+3"), Decimal("123456789012.12345678"), Decimal("1234567890123"), Decimal("NaN"),
        Decimal("-Infinity"), Decimal("99.995"), Decimal("100.004"), Decimal("-5"), Decimal("1E-7"), 7, -3, True,
        0.1, 1e-9, float("nan"), " 2.5 ", "abc", "", "ab\x00", "\ud800", "ünï", "toolong", "a", None,
        START, START.replace(fold=1), START.astimezone(timezone(timedelta(hours=-3))), datetime(2024, 1, 1),
        "2024-02-29T23:59:59.999999+01:00", "2024-02-30", Subtime(2024, 5, 6, tzinfo=timezone.utc),
        datetime(1, 1, 1, tzinfo=timezone.utc), datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc),
        {"a": 1, "b": [1, 2]}, {"x": 1.5, "y": None, "z": True}, {1: 2}, [1, "x"], {"deep": {"er": {}}},
        uuid.UUID(int=5), str(uuid.UUID(int=6)).upper(), str(uuid.UUID(int=7)), "not-a-uuid",
    ]
    values += [Decimal(rng.randint(-10**25, 10**25)).scaleb(-rng.randint(0, 30)) for _ in range(300)]
    values += [datetime(2000, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=rng.randrange(10**16)) for _ in range(300)]
    for kind in kinds.values():
        for value in values:
            if value is None:
                continue
            try:
                expected = kind.to_db("f", value)
            except ValidationError as error:
                with pytest.raises(ValidationError) as caught:
                    kind.convert("f", value)
                assert (caught.value.field, caught.value.reason) == (error.field, error.reason)
                continue
            text, python = kind.convert("f", value)
            assert text == expected, (kind, value)
            read = kind.read
            back = text if read is None else read(text)
            assert repr(python) == repr(back) and python == back, (kind, value)
            if isinstance(python, datetime):
                assert python.tzinfo is UTC and python.fold == 0 and type(python) is datetime


def test_time_text_is_isoformat_s() -> None:
    rng = random.Random(23)
    moments = [datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)]
    moments += [datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=rng.randrange(-10**16, 10**17)) for _ in range(2000)]
    for moment in moments:
        assert time_to_text(moment) == moment.isoformat(" ", "microseconds")[:-6] + "Z"


def test_only_an_insert_of_one_values_row_is_sent_for_many_rows() -> None:
    from tradedb.bulk import multi_row_sql

    for dialect, mark in (("sqlite", "?"), ("postgresql", "$")):
        query = DIALECTS[dialect]["insert_trade"]
        three = multi_row_sql(query.sql, len(query.declared), 3, mark)
        assert three is not None and three.count("(") == query.sql.count("(") + 2
        if mark == "?":  # SQLite numbers a bare ? after the one before: cheaper to prepare than ?NNN
            assert re.search(r"\?\d", three) is None and three.count("?") == 87
        else:
            assert f"{mark}87" in three and f"{mark}88" not in three
        for name, other in DIALECTS[dialect].items():
            if other.kind != "exec" or not other.sql.split("\n", 1)[1].lstrip().upper().startswith("INSERT"):
                assert multi_row_sql(other.sql, len(other.declared), 2, mark) is None, name
    assert multi_row_sql("INSERT INTO t (a) VALUES ($1) ON CONFLICT (a) DO UPDATE SET a = excluded.a", 1, 2, "$") is None
    assert multi_row_sql("INSERT INTO t (a, b) VALUES (?1, ?2) ON CONFLICT (a) DO UPDATE SET b = ?2", 2, 2, "?") is None
    assert multi_row_sql("INSERT INTO t (a, b) VALUES (?1, ?1)", 2, 2, "?") is None  # one parameter twice
    # A parameter outside the row too: bare ? would number it first and shift the row's.
    assert multi_row_sql("INSERT INTO t (a, b) SELECT * FROM (VALUES (?1, ?2)) WHERE ?1 IS NOT NULL", 2, 2, "?") is None
    # Out of order, each row's are numbered on, and stored in their columns.
    swapped = multi_row_sql("INSERT INTO t (a, b) VALUES (?2, ?1)", 2, 3, "?")
    assert swapped == "INSERT INTO t (a, b) VALUES (?2, ?1), (?4, ?3), (?6, ?5)"
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (a, b)")
    for sql in (swapped, multi_row_sql("INSERT INTO t (a, b) VALUES (?1, ?2)", 2, 3, "?")):
        db.execute(sql, ["b1", "a1", "b2", "a2", "b3", "a3"] if sql == swapped else ["a1", "b1", "a2", "b2", "a3", "b3"])
    assert db.execute("SELECT a, b FROM t").fetchall() == [(f"a{n}", f"b{n}") for n in (1, 2, 3)] * 2


async def test_records_equal_reading_the_stored_rows(repo) -> None:
    # The records create_trades returns are built from the values converted, not read back: they are still
    # those of the stored text, for generated ids, defaults and computed PnL too.
    await bots(repo)
    items = varied(80, seed=29)
    for item in items:
        item.pop("id", None)
    records = await repo.create_trades(items)
    for record in records:
        row = await repo._db.read(lambda session, i=record.id: session.one(trades_module.GET_TRADE, {"id": i}))
        assert record == trade_from_row(row)


async def test_a_bulk_load_leaves_the_callers_trades_as_they_were(repo) -> None:
    # create_trades works on copies taken when it is called: the caller's dicts are never changed.
    await bots(repo)
    items = varied(600, seed=19)
    before = [dict(item) for item in items]
    await repo.create_trades(items)
    assert items == before


async def test_trades_changed_by_another_task_during_the_call_are_stored_as_they_were_at_the_call(repo, raw_sql) -> None:
    # create_trades copies the trades before it first waits for the database: another task changing them while
    # the database writes (or after a caller gave up waiting) changes nothing that is stored or returned.
    await bots(repo)
    items = varied(3000, seed=23)
    call = asyncio.create_task(repo.create_trades(items))
    await asyncio.sleep(0)  # create_trades runs up to its first wait
    for item in items:
        item["strategy_name"] = "changed meanwhile"
    records = await call
    assert all(record.strategy_name != "changed meanwhile" for record in records)
    assert raw_sql.value("SELECT count(*) FROM trades WHERE strategy_name = 'changed meanwhile'") == 0
    assert raw_sql.value("SELECT count(*) FROM trades") == 3000


# -- Indexes built once at the end of a bulk load ------------------------------------------------------------


def table_definitions(raw_sql: Any, backend: str) -> list[tuple[str, str]]:
    """Every index and trigger of the trades table, each name with its definition, as the database holds them."""
    if backend == "sqlite":
        rows = raw_sql.execute(
            "SELECT name, ifnull(sql, '') FROM sqlite_master WHERE type IN ('index', 'trigger') AND tbl_name = 'trades'"
        )
    else:
        rows = raw_sql.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'trades' UNION ALL "
            "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = 'trades'::regclass AND NOT tgisinternal"
        )
    return sorted(tuple(row) for row in rows.fetchall())


TRADE_INDEXES = [  # the trades table's own indexes (not its primary key's), on both backends
    "idx_bot_trade_type", "idx_closed_trades", "idx_closed_trades_net_pnl", "idx_closed_trades_pnl_percentage",
    "idx_entry_time", "idx_exit_time", "idx_open_trades", "idx_open_trades_by_entry", "idx_strategy",
    "idx_symbol_status",
]


async def test_a_bulk_load_into_an_empty_table_builds_its_indexes_at_the_end_exactly_as_they_were(
    repo, raw_sql, backend, small_loads
) -> None:
    await bots(repo)
    before = table_definitions(raw_sql, backend)
    items = varied(300)
    created = await repo.create_trades(items)
    assert small_loads == [TRADE_INDEXES]  # dropped for the load, and only those
    assert table_definitions(raw_sql, backend) == before
    # The indexes hold every row: what is read through them is what was stored.
    opened = sorted(t.id for t in created if t.status == "open" and t.bot_id == "bot-1")
    assert sorted(t.id for t in await repo.get_open_trades(bot_id="bot-1")) == opened
    closed = sorted((t.id for t in created if t.status == "closed"))
    assert sorted(t.id for t in await repo.get_closed_trades()) == closed
    assert (await repo.health(full=True))["ok"]
    # A table that holds more rows than the next load brings keeps its indexes up row by row.
    await repo.create_trades(varied(150, seed=8))
    assert small_loads == [TRADE_INDEXES]
    assert raw_sql.value("SELECT count(*) FROM trades") == 450


async def test_a_failed_bulk_load_leaves_the_table_and_its_indexes_as_they_were(repo, raw_sql, backend, small_loads) -> None:
    await bots(repo)
    before = table_definitions(raw_sql, backend)
    items = varied(300)
    items[250]["bot_id"], items[250]["trade_type"] = "nobody", "paper"
    with pytest.raises(ValidationError, match=r"trades\[250\]\.bot_id"):
        await repo.create_trades(items)
    assert small_loads == [TRADE_INDEXES]
    assert raw_sql.value("SELECT count(*) FROM trades") == 0
    assert table_definitions(raw_sql, backend) == before
    # In the caller's transaction, which goes on: its other writes are kept, and the indexes too.
    async with repo.transaction():
        await repo.create_bot_instance({"id": "bot-3", "type": "paper"})
        with pytest.raises(ValidationError, match=r"trades\[250\]\.bot_id"):
            await repo.create_trades(items)
        items[250]["bot_id"] = "bot-3"
        await repo.create_trades(items)
    assert raw_sql.value("SELECT count(*) FROM trades") == 300
    assert table_definitions(raw_sql, backend) == before
    assert (await repo.health(full=True))["ok"]


async def test_other_connections_see_the_indexes_while_a_bulk_load_runs(repo, database, backend, small_loads, monkeypatch) -> None:
    # SQLite: a reader in WAL mode reads the last commit, indexes and all. PostgreSQL: a transaction reading the
    # table keeps its indexes up row by row, after waiting INDEX_LOCK_WAIT_MS at most for its lock.
    await bots(repo)
    seen: list[list[str]] = []
    if backend == "sqlite":
        build = sqlite_backend.Session.catch_up

        def look_then_build(session: Any, deferred: Any) -> None:
            reader = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
            try:
                names = [row[0] for row in reader.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'trades' AND sql IS NOT NULL ORDER BY name")]
                seen.append(names)
                assert reader.execute("SELECT count(*) FROM trades INDEXED BY idx_exit_time WHERE exit_time > ''").fetchone() == (0,)
            finally:
                reader.close()
            build(session, deferred)

        monkeypatch.setattr(sqlite_backend.Session, "catch_up", look_then_build)
        await repo.create_trades(varied(300))
        assert seen == [TRADE_INDEXES] and small_loads == [TRADE_INDEXES]
        return
    import psycopg

    with psycopg.connect(str(database)) as reader:
        reader.execute("SELECT count(*) FROM trades").fetchone()  # its transaction holds the table's lock from here
        async with tradedb.connect(database, busy_timeout=30) as patient:  # would wait 30 s for a lock otherwise
            started = time.monotonic()
            await patient.create_trades(varied(300))
            assert time.monotonic() - started < 3
        assert small_loads == [[]]  # nothing dropped: kept up row by row
        assert reader.execute("SELECT count(*) FROM trades").fetchone() == (300,)  # read on, never blocked
    # And a load that did drop them leaves the transaction's lock_timeout as it was for what follows.
    def drop_then_show(session: Any) -> str:
        deferred = session.defer("trades", 100)
        assert [name for name, _ in deferred.indexes] == TRADE_INDEXES and not deferred.triggers
        session.catch_up(deferred)
        return str(session.connection.execute("SHOW lock_timeout").fetchone()[0])

    await repo._db.write(lambda session: session.connection.execute("DELETE FROM trades"))
    assert await repo._db.write(drop_then_show) == "5s"


async def test_a_disk_short_of_room_for_the_whole_load_in_its_log_keeps_the_indexes_up_row_by_row(
    tmp_path, small_loads, monkeypatch
) -> None:
    # SQLite only: a load whose indexes are built at its end is one transaction, and a copy then groups many pages
    # into it, all held in the write-ahead log until the commit.
    room = 300 * sqlite_backend.BYTES_PER_LOADED_ROW + sqlite_backend.WAL_ROOM
    async with tradedb.connect(tmp_path / "short.db") as repo:
        await bots(repo)
        monkeypatch.setattr(sqlite_backend, "free_bytes", lambda path: room - 1)
        await repo.create_trades(varied(300))
        assert small_loads == []
    async with tradedb.connect(tmp_path / "roomy.db") as repo:
        await bots(repo)
        monkeypatch.setattr(sqlite_backend, "free_bytes", lambda path: room)
        await repo.create_trades(varied(300))
        assert small_loads == [TRADE_INDEXES]


async def test_a_table_measured_by_analyze_is_measured_again_after_its_indexes_are_built(tmp_path, small_loads) -> None:
    # SQLite only: ANALYZE's statistics of an index (sqlite_stat1) go with it when it is dropped.
    path = tmp_path / "analyzed.db"
    async with tradedb.connect(path) as repo:
        await bots(repo)
        await repo.create_trade(varied(1)[0])
        with sqlite3.connect(path) as raw:
            raw.execute("ANALYZE")
        await repo.create_trades(varied(300, seed=9))
        assert small_loads == [TRADE_INDEXES]
    with sqlite3.connect(path) as raw:
        measured = dict(raw.execute("SELECT idx, stat FROM sqlite_stat1 WHERE tbl = 'trades'").fetchall())
    assert set(TRADE_INDEXES) <= set(measured)
    assert measured["idx_exit_time"].split()[0] == "301"  # the rows now in the table


def closed_trade_stats(path: Any) -> list[tuple[Any, ...]]:
    """Every row of closed_trade_stats, with the type of its sum (REAL once it left 64 bits)."""
    with sqlite3.connect(path) as raw:
        return raw.execute(
            "SELECT bot_id, day, symbol, bucket, trades, wins, losses, net_pnl_units, typeof(net_pnl_units), "
            "widest_amount FROM closed_trade_stats ORDER BY bot_id, day, symbol, bucket"
        ).fetchall()


def deferred_triggers(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The names of the triggers each SQLite bulk load caught up with at its end, in order."""
    caught_up: list[list[str]] = []
    catch_up = sqlite_backend.Session.catch_up

    def spy(session: Any, deferred: Any) -> None:
        caught_up.append(sorted(name for name, _ in deferred.triggers))
        catch_up(session, deferred)

    monkeypatch.setattr(sqlite_backend.Session, "catch_up", spy)
    return caught_up


async def test_a_sqlite_bulk_load_does_its_insert_triggers_work_at_its_end_exactly_as_row_by_row(
    tmp_path, small_loads, monkeypatch
) -> None:
    # SQLite only: with any row trigger on insert, SQLite writes a multi-row INSERT's rows into a temporary table
    # first; a bulk load drops trades' two (its rules, closed_trade_stats) and does their work before the commit.
    caught_up = deferred_triggers(monkeypatch)
    items = varied(300)
    # Three closed trades whose net_pnl, in 10^-8 units, sum past 64 bits in one closed_trade_stats row (REAL).
    biggest = "999999999999.99999999"
    items += [
        {"bot_id": "bot-1", "trade_type": "paper", "entry_logic_name": "RSIEntry", "exit_logic_name": f"big-{n}",
         "symbol": "BTCUSDT", "interval": "1h", "direction": "long", "status": "closed", "entry_time": START,
         "exit_time": START + timedelta(hours=1), "entry_price": "1", "exit_price": "2", "size": "1",
         "exit_value": "2", "gross_pnl": biggest, "net_pnl": biggest, "pnl_percentage": "100"}
        for n in range(3)
    ]
    paths = {how: tmp_path / f"{how}.db" for how in ("at once", "row by row")}
    for how, size in (("at once", len(items)), ("row by row", 50)):  # loads of 50 rows are not bulk loads here
        async with tradedb.connect(paths[how]) as repo:
            await bots(repo)
            await repo.create_trade(varied(2, seed=3)[1])  # a closed trade before: the loaded rows are those past it
            for start in range(0, len(items), size):
                await repo.create_trades(items[start:start + size])
            health = await repo.health(full=True)
            assert health["ok"] and health["closed_trade_stats_drift"] == 0, health["problems"]
    assert caught_up == [["closed_trade_stats_on_insert", "trades_rules_on_insert"]]  # by the load at once only
    assert small_loads == [TRADE_INDEXES]
    stats = closed_trade_stats(paths["at once"])
    assert stats == closed_trade_stats(paths["row by row"])
    assert ("bot-1", "2024-01-01", "BTCUSDT", 15, 3, 3, 0, pytest.approx(3 * (2**63 - 1)), "real", 21) in stats
    with sqlite3.connect(paths["at once"]) as at_once, sqlite3.connect(paths["row by row"]) as row_by_row:
        assert table_definitions(at_once, "sqlite") == table_definitions(row_by_row, "sqlite")


@pytest.mark.parametrize("by_hand", ["changed", "added"])
async def test_a_sqlite_bulk_load_keeps_its_triggers_row_by_row_beside_one_made_by_hand(
    tmp_path, small_loads, monkeypatch, by_hand
) -> None:
    # Their work at the end is the shipped triggers': beside a trigger changed or added by hand, all fire row by row.
    caught_up = deferred_triggers(monkeypatch)
    path = tmp_path / "by-hand.db"
    refuse = "SELECT RAISE(ABORT, 'trades.symbol: NOPE is not traded here') WHERE NEW.symbol = 'NOPE';"
    async with tradedb.connect(path) as repo:
        await bots(repo)
        with sqlite3.connect(path) as raw:
            if by_hand == "changed":
                (text,) = raw.execute("SELECT sql FROM sqlite_master WHERE name = 'trades_rules_on_insert'").fetchone()
                raw.execute("DROP TRIGGER trades_rules_on_insert")
                raw.execute(text.replace("FOR EACH ROW WHEN", "FOR EACH ROW WHEN NEW.symbol = 'NOPE' OR")
                            .replace("BEGIN", "BEGIN " + refuse))
            else:
                raw.execute(f'CREATE TRIGGER "no nope" BEFORE UPDATE OF symbol ON trades BEGIN {refuse} END')
                raw.execute(f"CREATE TRIGGER no_nope BEFORE INSERT ON trades BEGIN {refuse} END")
        items = varied(300)
        items[200]["symbol"] = "NOPE"
        with pytest.raises(ValidationError, match="NOPE is not traded here"):
            await repo.create_trades(items)
        items[200]["symbol"] = "BTCUSDT"
        await repo.create_trades(items)
    assert small_loads == [TRADE_INDEXES, TRADE_INDEXES]  # the failed load's too
    assert caught_up == [[]]  # the load that got to its end, with its indexes only


def test_every_shipped_trigger_on_insert_into_trades_has_its_work_done_at_a_bulk_loads_end() -> None:
    # One left firing row by row would keep SQLite's temporary table, and might write rows not yet counted.
    on_insert = {
        name for name, text in shipped_triggers().items()
        if re.match(r"CREATE TRIGGER \w+ (BEFORE |AFTER )?INSERT ON trades ", text)
    }
    assert on_insert == set(sqlite_backend.CAUGHT_UP_TRIGGERS) == {"trades_rules_on_insert", "closed_trade_stats_on_insert"}


async def test_a_bulk_load_of_a_trade_of_another_type_than_its_bot_is_refused_and_writes_nothing(
    repo, raw_sql, backend, small_loads
) -> None:
    # On SQLite the rule is checked for all the rows at the end of the load (its trigger dropped meanwhile).
    await bots(repo)
    before = table_definitions(raw_sql, backend)
    items = varied(300)
    items[250]["bot_id"], items[250]["trade_type"] = "bot-1", "live"  # bot-1 is a paper bot
    with pytest.raises(ValidationError, match=r"trades\[250\]\.trade_type: 'live' differs from the type of bot 'bot-1', a paper bot"):
        await repo.create_trades(items)
    assert small_loads == [TRADE_INDEXES]
    assert raw_sql.value("SELECT count(*) FROM trades") == raw_sql.value("SELECT count(*) FROM closed_trade_stats") == 0
    assert table_definitions(raw_sql, backend) == before


async def test_a_postgresql_user_that_does_not_own_the_table_loads_with_its_indexes_kept_up(pg_databases, small_loads) -> None:
    # An application's user may insert into trades without owning it, and DROP INDEX needs the owner.
    import os
    from urllib.parse import urlsplit, urlunsplit

    from pg_support import connect, url_of

    name = pg_databases.acquire()
    role = f"tradedb_app_{os.getpid()}"
    try:
        with connect(url_of(name)) as owner:
            owner.execute(f"CREATE ROLE {role} LOGIN")
            owner.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}")
        server = urlsplit(url_of(name))
        url = urlunsplit(server._replace(netloc=f"{role}@{server.hostname}:{server.port or 5432}"))
        async with tradedb.connect(url, migrate=False) as app:
            assert (await app._db.read(lambda session: session.connection.execute("SELECT current_user").fetchone()[0])) == role
            await bots(app)
            created = await app.create_trades(varied(300))
        assert len(created) == 300 and small_loads == []  # none of the owner's indexes was meant to be dropped
        with connect(url_of(name)) as owner:
            assert owner.execute("SELECT count(*) FROM trades").fetchone() == (300,)
            names = [row[0] for row in owner.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'trades' ORDER BY 1")]
        assert [n for n in names if n.startswith("idx_")] == TRADE_INDEXES
    finally:
        with connect(url_of(name)) as owner:
            owner.execute(f"DROP OWNED BY {role}")
            owner.execute(f"DROP ROLE IF EXISTS {role}")
        pg_databases.release(name)
