"""Whatever a caller passes, only TradeDBError subclasses escape, and a refused write changes nothing."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tradedb
from conftest import ENTRY_TIME, trade_data
from pg_support import connect, url_of

UTC = timezone.utc


# Values no one should send, and every kind of object whose own methods misbehave.


class Hostile(Exception):
    """Raised by the objects below; it must never reach a caller of tradedb."""


class RaisingEq:
    def __eq__(self, other: object) -> bool:
        raise Hostile("__eq__")

    __ne__ = __eq__  # type: ignore[assignment]

    def __hash__(self) -> int:
        raise Hostile("__hash__")


class RaisingStr:
    def __str__(self) -> str:
        raise Hostile("__str__")

    __repr__ = __str__
    __format__ = __str__  # type: ignore[assignment]


class RecursiveRepr:
    def __repr__(self) -> str:
        return repr(self)


class HostileStr(str):
    """Text that equals a real field name or word, with every method of its own raising."""

    def __eq__(self, other: object) -> bool:
        raise Hostile("str.__eq__")

    __ne__ = __eq__  # type: ignore[assignment]

    def __hash__(self) -> int:
        return str.__hash__(self)

    def __str__(self) -> str:
        raise Hostile("str.__str__")

    def strip(self, *args: Any) -> str:
        raise Hostile("str.strip")

    def __len__(self) -> int:
        raise Hostile("str.__len__")


class HostileInt(int):
    def __lt__(self, other: object) -> bool:
        raise Hostile("int.__lt__")

    __gt__ = __le__ = __ge__ = __lt__  # type: ignore[assignment]

    def __index__(self) -> int:
        raise Hostile("int.__index__")

    def __repr__(self) -> str:
        raise Hostile("int.__repr__")


class HostileFloat(float):
    def __repr__(self) -> str:
        raise Hostile("float.__repr__")


class HostileDecimal(Decimal):
    def quantize(self, *args: Any, **kwargs: Any) -> Decimal:
        raise Hostile("Decimal.quantize")

    def is_finite(self) -> bool:
        raise Hostile("Decimal.is_finite")


class RaisingMapping(Mapping[str, Any]):
    def __getitem__(self, key: str) -> Any:
        raise Hostile("Mapping.__getitem__")

    def __iter__(self) -> Iterator[str]:
        raise Hostile("Mapping.__iter__")

    def __len__(self) -> int:
        raise Hostile("Mapping.__len__")


class RaisingSequence(Sequence[Any]):
    def __getitem__(self, index: Any) -> Any:
        raise Hostile("Sequence.__getitem__")

    def __len__(self) -> int:
        raise Hostile("Sequence.__len__")


class Offset(tzinfo):
    def __init__(self, offset: Any) -> None:
        self.offset = offset

    def utcoffset(self, moment: Any) -> Any:
        if isinstance(self.offset, Exception):
            raise self.offset
        return self.offset

    def dst(self, moment: Any) -> None:
        return None


class HostileDatetime(datetime):
    def isoformat(self, *args: Any, **kwargs: Any) -> str:
        raise Hostile("datetime.isoformat")

    def astimezone(self, tz: Any = None) -> datetime:
        raise Hostile("datetime.astimezone")

    def utcoffset(self) -> Any:
        raise Hostile("datetime.utcoffset")


def nested(depth: int, inner: Any = 1) -> Any:
    value = inner
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


def looped() -> list[Any]:
    value: list[Any] = []
    value.append(value)
    return value


HOSTILE: list[Callable[[], Any]] = [
    lambda: float("nan"), lambda: float("inf"), lambda: Decimal("sNaN"), lambda: Decimal("-NaN"),
    lambda: Decimal("1e999999999"), lambda: Decimal("-1e-999999999"), lambda: 10**5000, lambda: -(10**5000),
    lambda: 2**64, lambda: -1, lambda: True, lambda: b"1", lambda: bytearray(b"x"), lambda: object(), lambda: {1, 2},
    lambda: ("a",), lambda: "", lambda: " ", lambda: "\ud800", lambda: "a\x00b", lambda: "x" * 2_000_000,
    lambda: "9" * 100_000, lambda: "nan", lambda: "2024-13-45", lambda: "2024-03-01T12:00", lambda: nested(40),
    lambda: nested(500), lambda: nested(3000), lambda: looped(), lambda: {"k": "\ud800"}, lambda: {(1, 2): 3},
    lambda: {"n": 10**5000}, lambda: {"d": Decimal("1")}, lambda: RaisingEq(), lambda: RaisingStr(),
    lambda: RecursiveRepr(), lambda: HostileStr("open"), lambda: HostileStr("paper"), lambda: HostileStr("bot-1"),
    lambda: HostileInt(5), lambda: HostileFloat(1.5), lambda: HostileDecimal("1.5"), lambda: RaisingMapping(),
    lambda: RaisingSequence(), lambda: datetime(2024, 3, 1, tzinfo=Offset(1.5)),
    lambda: datetime(2024, 3, 1, tzinfo=Offset(timedelta(days=1))), lambda: datetime(2024, 3, 1, tzinfo=Offset(Hostile())),
    lambda: datetime(2024, 3, 1), lambda: datetime(1, 1, 1, tzinfo=Offset(timedelta(hours=5))),
    lambda: HostileDatetime(2024, 3, 1, tzinfo=UTC), lambda: timedelta(days=-1), lambda: timedelta.max,
]
# Drawn by position and made inside the test: hypothesis cannot print some of them.
hostile = st.integers(min_value=0, max_value=len(HOSTILE) - 1)

TRADE_FIELDS = [
    "id", "bot_id", "trade_type", "strategy_name", "entry_logic_name", "exit_logic_name", "symbol", "interval",
    "entry_time", "exit_time", "buy_order_created", "entry_price", "exit_price", "entry_value", "size", "commission",
    "gross_pnl", "net_pnl", "pnl_percentage", "direction", "exit_reason", "status", "extra_metadata",
]
BOT_FIELDS = ["id", "type", "config_file", "status", "current_balance", "started_at", "last_heartbeat", "extra_metadata"]
METRICS_FIELDS = [
    "id", "bot_id", "sharpe_ratio", "profit_factor", "max_drawdown", "total_return", "win_rate", "total_trades",
    "winning_trades", "losing_trades", "avg_win", "avg_loss", "largest_win", "largest_loss", "calculated_at",
    "extra_metadata",
]


# One repository for the module: hypothesis runs hundreds of examples.


class World:
    def __init__(self, loop: asyncio.AbstractEventLoop, repo: tradedb.Repository, database: Path | str) -> None:
        self.loop, self.repo, self.database = loop, repo, database
        self.postgresql = isinstance(database, str)
        self.raw: Any = connect(database) if self.postgresql else sqlite3.connect(database, isolation_level=None)

    def run(self, call: Any) -> Any:
        return self.loop.run_until_complete(call)

    def snapshot(self) -> tuple[Any, ...]:
        """Row counts, every bot's books, and what any commit by another connection moves.

        SQLite: its data_version. PostgreSQL: every row's xmin (the transaction that wrote it), so a
        refused write that committed even an unchanged row shows.
        """
        if self.postgresql:
            written = self.raw.execute(
                "SELECT (SELECT string_agg(xmin::text, ',' ORDER BY id) FROM trades),"
                " (SELECT string_agg(xmin::text, ',' ORDER BY id) FROM bot_instances),"
                " (SELECT string_agg(xmin::text, ',' ORDER BY id) FROM performance_metrics)"
            ).fetchone()
        else:
            written = self.raw.execute("PRAGMA data_version").fetchone()
        return (
            written,
            self.raw.execute(
                "SELECT (SELECT count(*) FROM trades), (SELECT count(*) FROM bot_instances),"
                " (SELECT count(*) FROM performance_metrics)"
            ).fetchone(),
            self.raw.execute("SELECT id, total_pnl, current_balance FROM bot_instances ORDER BY id").fetchall(),
        )

    def open_trade(self) -> str:
        """The id of an open trade of bot-1 (created when none is left)."""
        trades = self.run(self.repo.get_open_trades("bot-1"))
        if trades:
            return trades[0].id
        return self.run(self.repo.create_trade(trade_data())).id


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One repository for the module, on each backend."""
    if request.param == "sqlite":
        yield from make_world(tmp_path_factory.mktemp("hostile") / "trading.db")
    else:
        for name in request.getfixturevalue("pg_databases").new_database():
            yield from make_world(url_of(name))


def make_world(database: Path | str) -> Iterator[World]:
    loop = asyncio.new_event_loop()
    repo = loop.run_until_complete(tradedb.connect(database))
    setup = World(loop, repo, database)
    setup.run(repo.create_bot_instance({"id": "bot-1", "type": "paper", "current_balance": "1000"}))
    setup.run(repo.create_bot_instance({"id": "bot-2", "type": "live"}))
    closed = setup.run(repo.create_trade(trade_data()))
    setup.run(repo.close_trade(closed.id, exit_price="51000", exit_time=ENTRY_TIME + timedelta(hours=1)))
    yield setup
    setup.raw.close()
    loop.run_until_complete(repo.close())
    loop.close()


def write_call(world: World, method: str, field: str, value: Any) -> Any:
    """The coroutine of one write method with `value` in `field` (or as the argument `field` names)."""
    repo = world.repo
    if method == "create_trade":
        return repo.create_trade(value if field == "data" else trade_data(**{field: value}))
    if method == "create_trades":
        if field == "data":
            return repo.create_trades(value)
        return repo.create_trades([trade_data(), trade_data(**{field: value})])
    if method == "update_trade":
        if field == "trade_id":
            return repo.update_trade(value, {"exit_reason": "x"})
        return repo.update_trade(world.open_trade(), value if field == "data" else {field: value})
    if method == "close_trade":
        if field == "trade_id":
            return repo.close_trade(value, exit_price="51000")
        arguments = {"exit_price": "51000", field: value}
        return repo.close_trade(world.open_trade(), **arguments)
    if method == "cancel_trade":
        return repo.cancel_trade(value) if field == "trade_id" else repo.cancel_trade(world.open_trade(), value)
    if method == "create_bot_instance":
        return repo.create_bot_instance(value if field == "data" else {"id": "new-bot", "type": "paper", field: value})
    if method == "update_bot_instance":
        if field == "bot_id":
            return repo.update_bot_instance(value, {"config_file": "x"})
        return repo.update_bot_instance("bot-1", value if field == "data" else {field: value})
    if method == "start_bot":
        return repo.start_bot(value if field == "data" else {"id": "bot-1", "type": "paper", field: value})
    if method == "heartbeat":
        return repo.heartbeat(value) if field == "bot_id" else repo.heartbeat("bot-1", status=value)
    if method == "stop_bot":
        return repo.stop_bot(value) if field == "bot_id" else repo.stop_bot("bot-2", value)
    if method == "create_performance_metrics":
        return repo.create_performance_metrics(value if field == "data" else {"bot_id": "bot-1", field: value})
    raise AssertionError(method)


WRITES = (
    [("create_trade", f) for f in ["data", *TRADE_FIELDS]]
    + [("create_trades", f) for f in ["data", *TRADE_FIELDS]]
    + [("update_trade", f) for f in ["trade_id", "data", *TRADE_FIELDS]]
    + [("close_trade", f) for f in ["trade_id", "exit_price", "exit_time", "commission", "exit_reason"]]
    + [("cancel_trade", f) for f in ["trade_id", "reason"]]
    + [("create_bot_instance", f) for f in ["data", *BOT_FIELDS]]
    + [("update_bot_instance", f) for f in ["bot_id", "data", *BOT_FIELDS[1:]]]
    + [("start_bot", f) for f in ["data", *BOT_FIELDS]]
    + [("heartbeat", f) for f in ["bot_id", "status"]]
    + [("stop_bot", f) for f in ["bot_id", "status"]]
    + [("create_performance_metrics", f) for f in ["data", *METRICS_FIELDS]]
)
# For the sweep below: every argument each method handles itself, and one
# field of each kind (a kind checks its fields alike, whichever method).
KINDS = ["id", "bot_id", "trade_type", "strategy_name", "symbol", "entry_time", "entry_price", "net_pnl",
         "pnl_percentage", "status", "extra_metadata"]
SWEEP = [
    (method, field)
    for method, field in WRITES
    if field in ("data", "trade_id", "reason", "exit_price", "exit_time", "commission", "exit_reason")
    or method in ("start_bot", "heartbeat", "stop_bot", "create_bot_instance")
    or (method in ("create_trade", "update_trade") and field in KINDS)
    or (method == "create_trades" and field in ("bot_id", "entry_price", "extra_metadata"))
    or (method == "update_bot_instance" and field in ("bot_id", "type", "status", "current_balance", "last_heartbeat"))
    or (method == "create_performance_metrics"
        and field in ("id", "bot_id", "sharpe_ratio", "win_rate", "total_trades", "avg_win", "calculated_at"))
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(WRITES), hostile)
def test_a_write_with_a_hostile_value_raises_only_tradedb_errors_and_a_refused_one_changes_nothing(world, call, which):
    method, field = call
    coroutine = write_call(world, method, field, HOSTILE[which]())
    before = world.snapshot()  # after write_call, which may have opened a trade to work on
    try:
        world.run(coroutine)
    except tradedb.TradeDBError:
        assert world.snapshot() == before, f"{method}({field}=...) was refused but changed the database"
    # Anything else (Hostile, TypeError, RecursionError, UnicodeEncodeError...) fails the test as it escapes.


async def drained(trades: Any) -> int:
    return len([trade async for trade in trades])


READS: list[tuple[str, Callable[[tradedb.Repository, Any], Any]]] = [
    ("get_trade_by_id", lambda r, v: r.get_trade_by_id(v)),
    ("get_open_trades", lambda r, v: r.get_open_trades(bot_id=v)),
    ("get_open_trades", lambda r, v: r.get_open_trades(symbol=v)),
    ("get_closed_trades", lambda r, v: r.get_closed_trades(bot_id=v)),
    ("get_closed_trades", lambda r, v: r.get_closed_trades(since=v)),
    ("get_closed_trades", lambda r, v: r.get_closed_trades(until=v)),
    ("get_closed_trades", lambda r, v: r.get_closed_trades(limit=v)),
    ("get_bot_instance", lambda r, v: r.get_bot_instance(v)),
    ("list_bot_instances", lambda r, v: r.list_bot_instances(v)),
    ("get_stale_bots", lambda r, v: r.get_stale_bots(v)),
    ("get_performance_metrics", lambda r, v: r.get_performance_metrics(v)),
    ("get_performance_metrics", lambda r, v: r.get_performance_metrics("bot-1", limit=v)),
    ("get_trade_summary", lambda r, v: r.get_trade_summary(bot_id=v)),
    ("get_trade_summary", lambda r, v: r.get_trade_summary(trade_type=v)),
    ("get_trade_summary", lambda r, v: r.get_trade_summary(since=v)),
    ("calculate_performance_metrics", lambda r, v: r.calculate_performance_metrics(v, store=False)),
    ("calculate_performance_metrics",
     lambda r, v: r.calculate_performance_metrics("bot-1", starting_balance=v, store=False)),
    ("calculate_performance_metrics", lambda r, v: r.calculate_performance_metrics("bot-1", until=v, store=False)),
    ("cleanup_old_data", lambda r, v: r.cleanup_old_data(v, dry_run=True)),
    ("cleanup_old_data", lambda r, v: r.cleanup_old_data(metrics_days_to_keep=v, dry_run=True)),
    ("health", lambda r, v: r.health(stale_after=v)),
    ("health", lambda r, v: r.health(full=v)),
    ("iter_trades", lambda r, v: drained(r.iter_trades(bot_id=v))),
    ("iter_trades", lambda r, v: drained(r.iter_trades(symbol=v))),
    ("iter_trades", lambda r, v: drained(r.iter_trades(status=v))),
    ("iter_trades", lambda r, v: drained(r.iter_trades(page_size=v))),
]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(READS),
    hostile,
)
def test_a_read_with_a_hostile_argument_raises_only_tradedb_errors(world, call, which):
    name, make = call
    before = world.snapshot()
    try:
        world.run(make(world.repo, HOSTILE[which]()))
    except tradedb.TradeDBError:
        pass
    assert world.snapshot() == before, f"{name} changed the database"


# Hypothesis samples the combinations above; this goes through every one of
# them once, so that no (method, field, value) is left to chance.


def test_every_write_with_every_hostile_value_raises_only_tradedb_errors_and_changes_nothing(world):
    escaped = []
    for method, field in SWEEP:
        for which, make in enumerate(HOSTILE):
            coroutine = write_call(world, method, field, make())
            before = world.snapshot()
            try:
                world.run(coroutine)
            except tradedb.TradeDBError:
                if world.snapshot() != before:
                    escaped.append(f"{method}({field}=HOSTILE[{which}]) was refused but changed the database")
            except BaseException as error:  # noqa: BLE001 - what is being looked for
                escaped.append(f"{method}({field}=HOSTILE[{which}]) raised {type(error).__name__}")
    assert not escaped, "\n".join(escaped[:40]) + f"\n({len(escaped)} in all)"


def test_every_read_with_every_hostile_argument_raises_only_tradedb_errors(world):
    escaped = []
    before = world.snapshot()
    for name, make in READS:
        for which, value in enumerate(HOSTILE):
            try:
                world.run(make(world.repo, value()))
            except tradedb.TradeDBError:
                pass
            except BaseException as error:  # noqa: BLE001 - what is being looked for
                escaped.append(f"{name}(HOSTILE[{which}]) raised {type(error).__name__}")
    assert not escaped, "\n".join(escaped[:40]) + f"\n({len(escaped)} in all)"
    assert world.snapshot() == before


def test_connect_with_a_hostile_busy_timeout_raises_only_tradedb_errors(world):
    escaped = []

    async def open_and_close(value: Any) -> None:
        async with tradedb.connect(world.database, busy_timeout=value) as repo:
            await repo.get_bot_instance("bot-1")

    for which, make in enumerate(HOSTILE):
        try:
            world.run(open_and_close(make()))
        except tradedb.TradeDBError:
            pass
        except BaseException as error:  # noqa: BLE001 - what is being looked for
            escaped.append(f"connect(busy_timeout=HOSTILE[{which}]) raised {type(error).__name__}")
    assert not escaped, "\n".join(escaped)
