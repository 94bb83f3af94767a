"""Exact money, honest time, strict JSON: values in and out of the database."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tradedb
from conftest import trade_data
from pg_support import url_of

D = Decimal
TOP = D("999999999999.99999999")


@pytest.mark.parametrize(
    "given_value, stored",
    [
        ("123456789012.12345678", "123456789012.12345678"),
        (D("123456789012.12345678"), "123456789012.12345678"),
        ("999999999999.99999999", "999999999999.99999999"),
        ("-999999999999.99999999", "-999999999999.99999999"),
        ("0.00000001", "0.00000001"),
        (0.1, "0.10000000"),  # a float by its shortest repr, not 0.1000000000000000055...
        (1e-08, "0.00000001"),
        (12, "12.00000000"),
        (" 7.5 ", "7.50000000"),
        ("1E+3", "1000.00000000"),
        ("1.000000005", "1.00000000"),  # half-even: 0|5 -> 0
        ("1.000000015", "1.00000002"),  # 1|5 -> 2
        ("-1.000000015", "-1.00000002"),
        ("-0.000000001", "0.00000000"),  # no negative zero
        ("999999999999.999999994", "999999999999.99999999"),
    ],
)
async def test_decimal_values_are_exact_in_and_out(repo, bot, raw_sql, given_value, stored):
    after = await repo.update_bot_instance("bot-1", {"current_balance": given_value})
    assert after.current_balance == D(stored)
    assert isinstance(after.current_balance, Decimal)
    assert format((await repo.get_bot_instance("bot-1")).current_balance, "f") == stored
    if raw_sql.backend == "sqlite":  # exact decimal text, never a float
        assert raw_sql.execute("SELECT current_balance, typeof(current_balance) FROM bot_instances").fetchone() == (stored, "text")
    else:
        assert raw_sql.execute(
            "SELECT current_balance::text, pg_typeof(current_balance)::text FROM bot_instances"
        ).fetchone() == (stored, "numeric")


@pytest.mark.parametrize(
    "bad",
    [
        "1000000000000",  # 13 integer digits
        "999999999999.999999995",  # rounds up to 13 digits
        "-1000000000000.5",
        D("1e30"),
        D("1e999999"),
        float("nan"),
        float("inf"),
        "-Infinity",
        "NaN",
        D("sNaN"),
        "twelve",
        "",
        True,
        [1],
        b"1",
    ],
)
async def test_decimal_values_out_of_range_or_not_numbers_are_refused(repo, bot, bad):
    with pytest.raises(tradedb.ValidationError) as caught:
        await repo.update_bot_instance("bot-1", {"current_balance": bad})
    assert caught.value.field == "current_balance"
    assert (await repo.get_bot_instance("bot-1")).current_balance == D(1000)


@pytest.mark.parametrize(
    "field, value, stored",
    [
        ("pnl_percentage", "123456.12344", "123456.1234"),
        ("pnl_percentage", "-0.00005", "0.0000"),
        ("pnl_percentage", "0.00015", "0.0002"),
    ],
)
async def test_ratio_columns_use_their_own_scale(repo, bot, field, value, stored):
    trade = await repo.create_trade(trade_data(**{field: value}))
    assert format(getattr(trade, field), "f") == stored


async def test_ratio_column_precision_is_enforced(repo, bot):
    with pytest.raises(tradedb.ValidationError, match=r"DECIMAL\(10,4\)"):
        await repo.create_trade(trade_data(pnl_percentage="1000000"))


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2024, 3, 1, 12, 0, 0, 123456, tzinfo=timezone.utc),
        datetime(2024, 3, 1, 17, 30, 0, 1, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        datetime(2024, 3, 1, 7, 0, tzinfo=timezone(timedelta(hours=-5))),
        "2024-03-01T12:00:00Z",
        "2024-03-01 12:00:00.000001+00:00",
        "2024-03-01T14:00:00+02:00",
    ],
)
async def test_aware_times_come_back_as_the_same_instant_in_utc(repo, bot, raw_sql, moment):
    trade = await repo.create_trade(trade_data(entry_time=moment))
    expected = moment if isinstance(moment, datetime) else datetime.fromisoformat(moment)
    stored = await repo.get_trade_by_id(trade.id)
    assert stored.entry_time == expected and stored.entry_time.tzinfo == timezone.utc
    assert stored.entry_time.utcoffset() == timedelta(0)
    assert stored_time(raw_sql) == expected.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%fZ")


def stored_time(raw_sql) -> str:
    """The one trade's entry_time as stored: SQLite's text, or PostgreSQL's timestamptz written the same way in UTC."""
    if raw_sql.backend == "sqlite":
        return raw_sql.value("SELECT entry_time FROM trades")
    return raw_sql.value("SELECT to_char(entry_time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US\"Z\"') FROM trades")


@pytest.mark.parametrize("naive", [datetime(2024, 3, 1, 12, 0), "2024-03-01T12:00:00", "2024-03-01"])
async def test_naive_times_are_refused_never_guessed(repo, bot, naive):
    with pytest.raises(tradedb.ValidationError, match="no time zone"):
        await repo.create_trade(trade_data(entry_time=naive))


@pytest.mark.parametrize(
    "bad",
    [
        "soon",
        1700000000,
        1.5,
        "2024-13-01T00:00:00Z",
        datetime(1, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))),  # before year 1 in UTC
        "9999-12-31T23:00:00-05:00",  # after year 9999 in UTC
    ],
)
async def test_non_times_are_refused(repo, bot, bad):
    with pytest.raises(tradedb.ValidationError) as caught:
        await repo.create_trade(trade_data(entry_time=bad))
    assert caught.value.field == "entry_time"


async def test_text_order_is_time_order(repo, bot, raw_sql):
    moments = [datetime(2024, 3, 1, 12, 0, 0, us, tzinfo=timezone.utc) for us in (999999, 5, 100000)]
    moments.append(datetime(2024, 3, 1, 11, 0, tzinfo=timezone(timedelta(hours=-2))))  # 13:00 UTC
    for moment in moments:
        await repo.create_trade(trade_data(entry_time=moment))
    stored = [row[0] for row in raw_sql.execute("SELECT entry_time FROM trades ORDER BY entry_time")]
    # SQLite orders the stored text; PostgreSQL's timestamptz is a time already.
    assert [t if isinstance(t, datetime) else datetime.fromisoformat(t) for t in stored] == sorted(moments)


@pytest.mark.parametrize(
    "value",
    [{"a": [1, 2.5, None, True]}, ["x"], "text", 3, 2.25, {"nested": {"deep": {}}}, {"unicode": "€ ¥"}],
)
async def test_json_values_round_trip(repo, bot, value):
    trade = await repo.create_trade(trade_data(extra_metadata=value))
    assert (await repo.get_trade_by_id(trade.id)).extra_metadata == value


@pytest.mark.parametrize(
    "bad", [{"price": D("1.5")}, {"at": datetime(2024, 1, 1, tzinfo=timezone.utc)}, float("nan"), {"x": float("inf")}, {1, 2}, object()]
)
async def test_json_refuses_what_json_dumps_refuses(repo, bot, bad):
    with pytest.raises(tradedb.ValidationError) as caught:
        await repo.create_trade(trade_data(extra_metadata=bad))
    assert caught.value.field == "extra_metadata"


async def test_json_none_is_sql_null(repo, bot, raw_sql):
    await repo.create_trade(trade_data(extra_metadata=None))
    assert raw_sql.execute("SELECT extra_metadata IS NULL FROM trades").fetchone() == (1,)


# Property tests share one repository on one event loop: hypothesis runs many
# examples per test, and a fresh database for each would be needlessly slow.


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def loop_and_repo(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[asyncio.AbstractEventLoop, tradedb.Repository]]:
    """One repository for the module, on each backend."""
    if request.param == "sqlite":
        yield from property_repo(tmp_path_factory.mktemp("property") / "trading.db")
    else:
        for name in request.getfixturevalue("pg_databases").new_database():
            yield from property_repo(url_of(name))


def property_repo(database: Path | str) -> Iterator[tuple[asyncio.AbstractEventLoop, tradedb.Repository]]:
    loop = asyncio.new_event_loop()
    repo = loop.run_until_complete(tradedb.connect(database))
    loop.run_until_complete(repo.create_bot_instance({"id": "bot-1", "type": "paper"}))
    yield loop, repo
    loop.run_until_complete(repo.close())
    loop.close()


@settings(max_examples=300, deadline=None)
@given(st.decimals(min_value=-TOP, max_value=TOP, places=8, allow_nan=False, allow_infinity=False))
def test_any_in_range_decimal_round_trips_exactly(loop_and_repo, value):
    loop, repo = loop_and_repo
    loop.run_until_complete(repo.update_bot_instance("bot-1", {"current_balance": value}))
    stored = loop.run_until_complete(repo.get_bot_instance("bot-1")).current_balance
    assert stored == value
    assert stored.as_tuple().exponent == -8


@settings(max_examples=300, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.timezones(), allow_imaginary=False
    )
)
def test_any_aware_datetime_round_trips_exactly(loop_and_repo, moment):
    loop, repo = loop_and_repo
    loop.run_until_complete(repo.update_bot_instance("bot-1", {"last_heartbeat": moment}))
    stored = loop.run_until_complete(repo.get_bot_instance("bot-1")).last_heartbeat
    # Compared as UTC: Python never calls a time inside a DST fold equal to one in another zone.
    assert stored == moment.astimezone(timezone.utc)
    assert stored - datetime(1, 1, 1, tzinfo=timezone.utc) == moment - datetime(1, 1, 1, tzinfo=timezone.utc)
    assert stored.tzinfo == timezone.utc


CANONICAL = "0f8c5d2e-3b7a-4c1d-9e6f-1a2b3c4d5e6f"


@pytest.mark.parametrize(
    "given",
    [CANONICAL, CANONICAL.upper(), "{" + CANONICAL + "}", "urn:uuid:" + CANONICAL, CANONICAL.replace("-", ""),
     uuid.UUID(CANONICAL)],
)
async def test_trade_ids_are_stored_as_lowercase_hyphenated_uuids(repo, bot, raw_sql, given):
    trade = await repo.create_trade(trade_data(id=given))
    assert trade.id == CANONICAL
    assert raw_sql.execute("SELECT CAST(id AS TEXT) FROM trades").fetchall() == [(CANONICAL,)]


@pytest.mark.parametrize("bad", ["not-a-uuid", CANONICAL[:-1] + "g", CANONICAL + "0", 12345])
async def test_ids_that_are_not_uuids_are_refused(repo, bot, bad):
    with pytest.raises(tradedb.ValidationError, match="^id: .* is not a UUID"):
        await repo.create_trade(trade_data(id=bad))


# Hostile values: each is refused with a ValidationError naming the field, never another exception.


class FloatOffset(tzinfo):
    def utcoffset(self, moment):
        return 1.5  # not a timedelta

    def dst(self, moment):
        return None


class DayOffset(tzinfo):
    def utcoffset(self, moment):
        return timedelta(days=1)  # datetime allows strictly less than a day

    def dst(self, moment):
        return None


class RaisingOffset(tzinfo):
    def utcoffset(self, moment):
        raise RuntimeError("no offset today")

    def dst(self, moment):
        return None


@pytest.mark.parametrize("zone", [FloatOffset(), DayOffset(), RaisingOffset()])
async def test_a_time_zone_whose_utcoffset_fails_is_refused(repo, bot, zone):
    moment = datetime(2024, 3, 1, 12, 0, tzinfo=zone)
    with pytest.raises(tradedb.ValidationError, match="utcoffset") as caught:
        await repo.create_trade(trade_data(entry_time=moment))
    assert caught.value.field == "entry_time"
    with pytest.raises(tradedb.ValidationError) as caught:
        await repo.get_closed_trades(since=moment)
    assert caught.value.field == "since"
    assert await repo.get_open_trades() == []


class ShiftyDatetime(datetime):
    def isoformat(self, *args, **kwargs):
        return "garbage"

    def astimezone(self, tz=None):
        raise RuntimeError("never called")


async def test_a_datetime_subclass_is_stored_by_its_value_not_its_methods(repo, bot, raw_sql):
    moment = ShiftyDatetime(2024, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    trade = await repo.create_trade(trade_data(entry_time=moment))
    assert trade.entry_time == datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)
    assert stored_time(raw_sql) == "2024-03-01 12:00:00.000000Z"


@pytest.mark.parametrize("huge", [10**5000, -(10**5000), "9" * 100_000], ids=["int", "negative int", "text"])
async def test_numbers_too_long_to_print_are_refused_with_a_short_message(repo, bot, huge):
    with pytest.raises(tradedb.ValidationError) as caught:
        await repo.update_bot_instance("bot-1", {"current_balance": huge})
    assert caught.value.field == "current_balance"
    assert "does not fit DECIMAL(20,8)" in str(caught.value) and len(str(caught.value)) < 300
    assert (await repo.get_bot_instance("bot-1")).current_balance == D(1000)


def nested(depth: int) -> list:
    """A list nesting `depth` lists (depth 1 is [])."""
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize(
    "bad", [nested(500), "x" * 5_000_000, {"deep": nested(2000)}], ids=["500 deep", "5 MB", "2000 deep"]
)
async def test_messages_show_a_callers_value_cut_short(repo, bot, bad):
    with pytest.raises(tradedb.ValidationError) as caught:
        await repo.create_trade(trade_data(direction=bad))
    assert caught.value.field == "direction" and len(str(caught.value)) < 300


def test_shown_never_raises_and_stays_short():
    from tradedb.values import shown

    class Loud:
        def __repr__(self):
            raise RuntimeError("no")

    class Recursive:
        def __repr__(self):
            return repr(self)

    looped: list = []
    looped.append(looped)
    for value in (Loud(), Recursive(), looped, nested(3000), 10**10000, "y" * 10**6, {i: nested(50) for i in range(99)}):
        assert len(shown(value)) <= 100


async def test_json_up_to_the_limits_is_stored_and_beyond_them_refused(repo, bot, raw_sql):
    from tradedb.values import JSON_MAX_BYTES, JSON_MAX_DEPTH

    deepest = {"a": nested(JSON_MAX_DEPTH - 1)}
    assert (await repo.update_bot_instance("bot-1", {"extra_metadata": deepest})).extra_metadata == deepest
    brackets_in_text = {"a": "[" * 100 + "{" * 100}  # brackets inside strings are no nesting
    assert (await repo.update_bot_instance("bot-1", {"extra_metadata": brackets_in_text})).extra_metadata == brackets_in_text
    largest = "x" * (JSON_MAX_BYTES - 2)  # with its two quotes, JSON_MAX_BYTES bytes
    assert (await repo.update_bot_instance("bot-1", {"extra_metadata": largest})).extra_metadata == largest
    wide = "\u00e9" * ((JSON_MAX_BYTES - 2) // 2)  # two UTF-8 bytes a character
    assert (await repo.update_bot_instance("bot-1", {"extra_metadata": wide})).extra_metadata == wide

    stored = raw_sql.execute("SELECT extra_metadata FROM bot_instances").fetchone()
    for bad, words in [
        ({"a": nested(JSON_MAX_DEPTH)}, "nested more than 32 levels"),
        (nested(500), "nested more than 32 levels"),
        (nested(5000), "nested more than 32 levels"),  # json.dumps itself stops with RecursionError
        ("x" * (JSON_MAX_BYTES - 1), "at most 1048576"),
        ("x" + wide, "at most 1048576"),
        ({"n": 10**5000}, "cannot be stored as JSON"),
        ({"s": "\ud800"}, "lone surrogate"),
    ]:
        with pytest.raises(tradedb.ValidationError, match=words) as caught:
            await repo.update_bot_instance("bot-1", {"extra_metadata": bad})
        assert caught.value.field == "extra_metadata" and len(str(caught.value)) < 300
        with pytest.raises(tradedb.ValidationError, match=words):
            await repo.create_trade(trade_data(extra_metadata=bad))
    assert raw_sql.execute("SELECT extra_metadata FROM bot_instances").fetchone() == stored
    assert raw_sql.execute("SELECT count(*) FROM trades").fetchone() == (0,)


@pytest.mark.parametrize("bad, words", [("\ud800", "lone surrogate"), ("bot\x00-1", "NUL character")])
async def test_text_sqlite_cannot_store_faithfully_is_refused_everywhere(repo, bot, bad, words):
    with pytest.raises(tradedb.ValidationError, match=words) as caught:
        await repo.create_bot_instance({"id": bad, "type": "paper"})
    assert caught.value.field == "id"
    for field in ("symbol", "exit_reason", "entry_logic_name"):
        with pytest.raises(tradedb.ValidationError, match=words) as caught:
            await repo.create_trade(trade_data(**{field: bad}))
        assert caught.value.field == field
    with pytest.raises(tradedb.ValidationError, match=words):
        await repo.get_open_trades(bot_id=bad)
    with pytest.raises(tradedb.ValidationError, match=words):
        await repo.heartbeat(bad)
    assert await repo.list_bot_instances() == [bot]


# A stored value tradedb cannot read, as a hand edit past the schema's checks leaves it. SQLite: its
# CHECKs ignored (PRAGMA ignore_check_constraints), any text goes in. PostgreSQL: the column's type
# holds only its own values, so the hand edit drops the CHECK and stores what the type allows but
# tradedb never writes (NaN, infinity).
DAMAGE = {
    "entry_price": ("fifty", "trades_entry_price_decimal", "NaN"),
    "entry_time": ("yesterday", "trades_entry_time_utc", "infinity"),
    "size": ("", "trades_size_decimal", "NaN"),
}


def damage(raw_sql, trade_id: str, column: str, sqlite_value: str | None = None) -> None:
    """Store a value tradedb cannot read in trades.`column` of `trade_id`, past the schema's checks."""
    text, constraint, value = DAMAGE[column]
    if raw_sql.backend == "sqlite":
        raw_sql.execute("PRAGMA ignore_check_constraints = ON")
        raw_sql.execute(f"UPDATE trades SET {column} = ? WHERE id = ?", (sqlite_value or text, trade_id))
    else:
        raw_sql.execute(f"ALTER TABLE trades DROP CONSTRAINT {constraint}")
        raw_sql.execute(f"UPDATE trades SET {column} = ? WHERE id = ?", (value, trade_id))


async def assert_reads_say_damaged(repo, trade_id: str, column: str) -> None:
    for read in (repo.get_trade_by_id(trade_id), repo.get_open_trades(), repo.start_bot({"id": "bot-1", "type": "paper"})):
        with pytest.raises(tradedb.DatabaseDamaged) as caught:
            await read
        message = str(caught.value)
        assert f"trades.{column}" in message and trade_id in message and "tradedb status --full" in message
    with pytest.raises(tradedb.DatabaseDamaged):
        [t async for t in repo.iter_trades()]


@pytest.mark.parametrize("column", sorted(DAMAGE))
async def test_a_damaged_stored_value_says_the_database_is_damaged(repo, bot, raw_sql, column):
    trade = await repo.create_trade(trade_data(extra_metadata={"half": [1, 2]}))
    damage(raw_sql, trade.id, column)
    await assert_reads_say_damaged(repo, trade.id, column)


@pytest.mark.sqlite_only("malformed JSON text in a row: PostgreSQL's jsonb cannot hold it")
async def test_damaged_stored_json_says_the_database_is_damaged(repo, bot, raw):
    trade = await repo.create_trade(trade_data(extra_metadata={"half": [1, 2]}))
    raw.execute("PRAGMA ignore_check_constraints = ON")
    raw.execute("UPDATE trades SET extra_metadata = ? WHERE id = ?", ('{"half": [1, 2', trade.id))
    await assert_reads_say_damaged(repo, trade.id, "extra_metadata")


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda children: st.lists(children) | st.dictionaries(st.text(), children),
        max_leaves=30,
    ),
    st.sampled_from([None, 2]),
)
def test_the_decoder_for_deep_json_reads_what_json_loads_reads(value, indent):
    from tradedb.values import _loads_deep

    text = json.dumps(value, indent=indent, ensure_ascii=False)
    assert _loads_deep(text) == json.loads(text)


@pytest.mark.parametrize("column, sqlite_damage", [("entry_price", "fifty"), ("size", "1x.00000000")])
async def test_writing_with_a_damaged_stored_amount_says_so_and_writes_nothing(repo, bot, raw_sql, column, sqlite_damage):
    trade = await repo.create_trade(trade_data())
    damage(raw_sql, trade.id, column, sqlite_damage)
    books = "SELECT trades.status, CAST(total_pnl AS TEXT) FROM trades, bot_instances WHERE trades.id = ?"
    before = raw_sql.execute(books, (trade.id,)).fetchall()
    for write in (
        lambda: repo.close_trade(trade.id, exit_price="51000"),
        lambda: repo.update_trade(trade.id, {"status": "closed", "exit_price": "51000"}),
    ):
        with pytest.raises(tradedb.DatabaseDamaged) as caught:
            await write()
        assert "tradedb status --full" in str(caught.value) and "nothing was written" in str(caught.value)
    after = raw_sql.execute(books, (trade.id,)).fetchall()
    assert after == before == [("open", "0.00000000")]
    # The repository goes on working: the writer is not left inside a transaction.
    other = await repo.create_trade(trade_data())
    assert (await repo.close_trade(other.id, exit_price="51000")).net_pnl == Decimal("100.00000000")


@pytest.mark.parametrize("metadata", [{"note": "a\x00b"}, {"a\x00": 1}, ["\x00"]])
async def test_a_nul_inside_json_metadata_is_refused_naming_the_field(repo, bot, metadata):
    with pytest.raises(tradedb.ValidationError, match=r"^extra_metadata: contains a NUL character"):
        await repo.create_trade(trade_data(extra_metadata=metadata))
    # An escaped backslash before "u0000" is text, not a NUL: stored and read back as written.
    stored = await repo.create_trade(trade_data(extra_metadata={"note": "\\u0000"}))
    assert (await repo.get_trade_by_id(stored.id)).extra_metadata == {"note": "\\u0000"}


def test_an_amount_summed_in_units_is_exact_at_any_size() -> None:
    # PostgreSQL's NUMERIC sums have no size limit: 10^-8 units of 31 digits read back to the last unit
    # (Decimal.scaleb alone rounds to 28 digits).
    from tradedb.values import from_units

    assert from_units(10**30 + 1) == Decimal("10000000000000000000000.00000001")
    assert from_units(-(10**40) - 7) == Decimal("-100000000000000000000000000000000.00000007")
    assert from_units(None) == 0
