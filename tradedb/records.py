"""The records tradedb returns, one frozen dataclass per table, and each table's column kinds.

Field order is column order in sql/sqlite/schema.sql; the named queries select the
columns in this order, and a record is built from a row by position.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from difflib import get_close_matches
from typing import Any, Literal, TypeVar

from .errors import DatabaseDamaged, ValidationError
from .values import ChoiceKind, CountKind, DecimalKind, JsonKind, Kind, TextKind, TimeKind, UuidKind, json_from_text, shown

TradeType = Literal["paper", "live", "optimization"]
Direction = Literal["long", "short"]
TradeStatus = Literal["open", "closed", "cancelled"]
BotStatus = Literal["running", "stopped", "error"]

TRADE_TYPES: tuple[TradeType, ...] = ("paper", "live", "optimization")
BOT_STATUSES: tuple[BotStatus, ...] = ("running", "stopped", "error")
TRADE_STATUSES: tuple[TradeStatus, ...] = ("open", "closed", "cancelled")

MONEY = DecimalKind(20, 8)
UNSIGNED_MONEY = DecimalKind(20, 8, signed=False)
RATIO = DecimalKind(10, 4)
PERCENT = DecimalKind(5, 2, signed=False, maximum=Decimal(100))
TIME = TimeKind()
JSON = JsonKind()
UUID = UuidKind()
COUNT = CountKind()
NAME = TextKind(required=True)
OPTIONAL_TEXT = TextKind(required=False)
BOT_ID = TextKind(required=True, max_length=255)


@dataclass(frozen=True, slots=True)
class Trade:
    """One trade, from entry to exit."""

    id: str
    bot_id: str
    trade_type: TradeType
    strategy_name: str | None
    entry_logic_name: str
    exit_logic_name: str
    symbol: str
    interval: str
    entry_time: datetime | None
    exit_time: datetime | None
    buy_order_created: datetime | None
    buy_order_closed: datetime | None
    sell_order_created: datetime | None
    sell_order_closed: datetime | None
    entry_price: Decimal | None
    exit_price: Decimal | None
    entry_value: Decimal | None
    exit_value: Decimal | None
    size: Decimal | None
    commission: Decimal | None
    gross_pnl: Decimal | None
    net_pnl: Decimal | None
    pnl_percentage: Decimal | None
    direction: Direction
    exit_reason: str | None
    status: TradeStatus
    extra_metadata: Any
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class BotInstance:
    """One bot: its status, books and heartbeat."""

    id: str
    type: TradeType
    config_file: str | None
    status: BotStatus
    current_balance: Decimal | None
    total_pnl: Decimal
    started_at: datetime | None
    last_heartbeat: datetime | None
    extra_metadata: Any
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class PerformanceMetrics:
    """One calculation of a bot's performance."""

    id: str
    bot_id: str
    sharpe_ratio: Decimal | None
    profit_factor: Decimal | None
    max_drawdown: Decimal | None
    total_return: Decimal | None
    win_rate: Decimal | None
    total_trades: int | None
    winning_trades: int | None
    losing_trades: int | None
    avg_win: Decimal | None
    avg_loss: Decimal | None
    largest_win: Decimal | None
    largest_loss: Decimal | None
    calculated_at: datetime | None
    extra_metadata: Any
    created_at: datetime


@dataclass(frozen=True, slots=True)
class BotState:
    """What start_bot returns: the bot as stored and its open positions, oldest entry first."""

    bot: BotInstance
    open_trades: list[Trade]


# Each table's columns and how their values are checked and read. Columns
# whose values tradedb computes are listed too: a caller may supply them
# (importing history, say), and then they are checked like any input.
TRADE_COLUMNS: dict[str, Kind] = {
    "id": UUID,
    "bot_id": BOT_ID,
    "trade_type": ChoiceKind(*TRADE_TYPES),
    "strategy_name": OPTIONAL_TEXT,
    "entry_logic_name": NAME,
    "exit_logic_name": NAME,
    "symbol": NAME,
    "interval": NAME,
    "entry_time": TIME,
    "exit_time": TIME,
    "buy_order_created": TIME,
    "buy_order_closed": TIME,
    "sell_order_created": TIME,
    "sell_order_closed": TIME,
    "entry_price": UNSIGNED_MONEY,
    "exit_price": UNSIGNED_MONEY,
    "entry_value": UNSIGNED_MONEY,
    "exit_value": UNSIGNED_MONEY,
    "size": UNSIGNED_MONEY,
    "commission": UNSIGNED_MONEY,
    "gross_pnl": MONEY,
    "net_pnl": MONEY,
    "pnl_percentage": RATIO,
    "direction": ChoiceKind("long", "short"),
    "exit_reason": OPTIONAL_TEXT,
    "status": ChoiceKind(*TRADE_STATUSES),
    "extra_metadata": JSON,
    "created_at": TIME,
    "updated_at": TIME,
}

BOT_COLUMNS: dict[str, Kind] = {
    "id": BOT_ID,
    "type": ChoiceKind(*TRADE_TYPES),
    "config_file": OPTIONAL_TEXT,
    "status": ChoiceKind(*BOT_STATUSES),
    "current_balance": MONEY,
    "total_pnl": MONEY,
    "started_at": TIME,
    "last_heartbeat": TIME,
    "extra_metadata": JSON,
    "created_at": TIME,
    "updated_at": TIME,
}

METRICS_COLUMNS: dict[str, Kind] = {
    "id": UUID,
    "bot_id": BOT_ID,
    "sharpe_ratio": RATIO,
    "profit_factor": RATIO,
    "max_drawdown": RATIO,
    "total_return": RATIO,
    "win_rate": PERCENT,
    "total_trades": COUNT,
    "winning_trades": COUNT,
    "losing_trades": COUNT,
    "avg_win": MONEY,
    "avg_loss": MONEY,
    "largest_win": MONEY,
    "largest_loss": MONEY,
    "calculated_at": TIME,
    "extra_metadata": JSON,
    "created_at": TIME,
}

Record = TypeVar("Record", Trade, BotInstance, PerformanceMetrics)


def row_reader(record: type[Record], columns: dict[str, Kind], table: str) -> Callable[[Sequence[Any]], Record]:
    """A function that builds `record` from a row of `table` whose values are in `columns` order."""
    if [field.name for field in fields(record)] != list(columns):
        raise TypeError(f"{record.__name__}'s fields are not its table's columns, in order")
    # The hot path of every query. A frozen dataclass's __init__ sets each
    # field through object.__setattr__; setting the slots directly builds
    # the same frozen record in 30% less time (measured: 100 open trades,
    # bench W3), and no call at all is made for NULLs and plain columns.
    setters = tuple(getattr(record, name).__set__ for name in columns)
    careful = tuple(kind.read for kind in columns.values())
    # json.loads directly: JSON nested deeper than it can go (the sqlite3
    # shell stores up to 2000 levels) is read again, carefully, on failure.
    readers = tuple(json.loads if convert is json_from_text else convert for convert in careful)
    new = object.__new__

    def read(row: Sequence[Any]) -> Record:
        built: Record = new(record)
        try:  # around the loop, not in it: nothing to pay while values read
            for set_field, convert, value in zip(setters, readers, row, strict=True):
                set_field(built, value if value is None or convert is None else convert(value))
        except (ArithmeticError, ValueError, TypeError, RecursionError) as error:
            try:
                for set_field, convert, value in zip(setters, careful, row, strict=True):
                    set_field(built, value if value is None or convert is None else convert(value))
            except (ArithmeticError, ValueError, TypeError):
                problem = damaged(table, columns, row)
                if problem is None:
                    raise
                raise problem from error
        return built

    return read


def record_builder(record: type[Record]) -> Callable[[Sequence[Any]], Record]:
    """A function that builds `record` from its fields' Python values, in order (row_reader without reading)."""
    setters = tuple(getattr(record, field.name).__set__ for field in fields(record))
    new = object.__new__

    def build(values: Sequence[Any]) -> Record:
        built: Record = new(record)
        for set_field, value in zip(setters, values, strict=True):
            set_field(built, value)
        return built

    return build


def damaged(table: str, columns: dict[str, Kind], row: Sequence[Any]) -> DatabaseDamaged | None:
    """The error naming the first stored value of `row` that cannot be read, or None if all read."""
    for (name, kind), value in zip(columns.items(), row):
        if value is None or kind.read is None:
            continue
        try:
            kind.read(value)
        except (ArithmeticError, ValueError, TypeError):
            return DatabaseDamaged(
                f"the database is damaged: {table}.{name} of the row with id {shown(row[0])} holds {shown(value)}, "
                "which cannot be read back; run `tradedb status --full` to check the file, "
                "and restore a backup (or correct the value in the database's shell: sqlite3 or psql)"
            )
    return None


trade_from_row = row_reader(Trade, TRADE_COLUMNS, "trades")
trade_from_values = record_builder(Trade)
bot_from_row = row_reader(BotInstance, BOT_COLUMNS, "bot_instances")
metrics_from_row = row_reader(PerformanceMetrics, METRICS_COLUMNS, "performance_metrics")


def as_fields(what: str, data: Any) -> Any:
    """A plain dict copy of a caller's data dict, read once; what is no Mapping is returned for check_fields to refuse."""
    if type(data) is dict:
        return data.copy()  # runs none of the caller's code: keys keep their hashes
    if not isinstance(data, Mapping):
        return data
    try:
        return dict(data)
    except Exception as error:  # noqa: BLE001 - a Mapping whose own methods raise
        raise ValidationError(what, f"could not be read as a dict: it raised {type(error).__name__}") from None


def check_fields(what: str, data: Any, columns: dict[str, Kind], *, fixed: tuple[str, ...] = ()) -> None:
    """Refuse a data dict that is not a dict, has a key that is no column, or sets a `fixed` column."""
    if not isinstance(data, Mapping):
        raise ValidationError(what, f"expected a dict of fields, got {type(data).__name__}")
    try:
        usual = data.keys() <= columns.keys() and data.keys().isdisjoint(fixed)
    except Exception:  # noqa: BLE001 - a key whose __hash__ or __eq__ raises; refused below
        usual = False
    if usual:
        return  # the usual case, told in two set operations; the loop below finds what to say
    for key in data:
        if type(key) is not str:
            raise ValidationError(what, f"field names must be text (str), got {shown(key)}")
        if key in fixed:
            raise ValidationError(key, f"is set by tradedb and cannot be given for a {what}")
        if key not in columns:
            hint = get_close_matches(key, columns, n=1) if len(key) <= 100 else []
            suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
            raise ValidationError(shown(key) if len(key) > 100 else key, f"is not a field of a {what}{suggestion}")


def new_row(columns: dict[str, Kind], data: Mapping[str, Any]) -> dict[str, Any]:
    """The stored form of checked data, in column order (records are built by position); None where not given."""
    row = dict.fromkeys(columns)
    for name, value in data.items():
        if value is not None:
            row[name] = columns[name].to_db(name, value)
    return row


def stored_row(columns: dict[str, Kind], row: Sequence[Any]) -> dict[str, Any]:
    """A row as a dict of column name to stored value."""
    return dict(zip(columns, row))
