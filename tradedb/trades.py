"""Trades: the units of work behind the repository's trade methods.

Each function takes a Session and runs in the connection's thread, inside
the transaction the repository opened for it, so everything one call does
(the trade and its bot's books) commits together or not at all.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal, localcontext
from typing import Any

from .bots import book_pnl, require_bot_of_type
from .errors import ConflictError, InvalidTransition, NotFoundError, StoredMeanwhile, ValidationError
from .queries import QUERIES, Query
from .records import (
    MONEY,
    OPTIONAL_TEXT,
    RATIO,
    TIME,
    TRADE_COLUMNS,
    UNSIGNED_MONEY,
    Trade,
    check_fields,
    stored_row,
    trade_from_row,
    trade_from_values,
)
from .database import Session
from .values import EXACT, DecimalKind, new_uuid, time_to_text, utc_now

INSERT_TRADE = QUERIES["insert_trade"]
GET_TRADE = QUERIES["get_trade_by_id"]
GET_TRADE_FOR_UPDATE = QUERIES["get_trade_for_update"]
UPDATE_TRADE = QUERIES["update_trade"]
CLOSE_TRADE = QUERIES["close_trade"]
CANCEL_TRADE = QUERIES["cancel_trade"]
OPEN_TRADES_OF_BOT = QUERIES["get_open_trades_of_bot"]
OPEN_TRADES = QUERIES["get_open_trades"]
CLOSED_TRADES_OF_BOT = QUERIES["get_closed_trades_of_bot"]
CLOSED_TRADES = QUERIES["get_closed_trades"]
TRADES_BY_IDS = QUERIES["get_trades_by_ids"]
TRADES_PAGE = QUERIES["get_trades_page"]

REQUIRED = ("bot_id", "trade_type", "entry_logic_name", "exit_logic_name", "symbol", "interval", "direction")
AUTOMATIC = ("created_at", "updated_at")
PNL_INPUTS = frozenset({"entry_price", "exit_price", "size", "commission", "direction", "entry_value"})
# What settle() computes, unless given.
SETTLED = frozenset({"exit_value", "gross_pnl", "net_pnl", "pnl_percentage"})
# What identifies a trade's entry: a retried create_trade must repeat these.
ENTRY_FIELDS = (
    "bot_id", "trade_type", "symbol", "interval", "direction", "entry_logic_name", "exit_logic_name",
    "entry_time", "entry_price", "size",
)


# How each column of a new trade is converted (to its stored form, and the
# value its record holds), and its place in the record.
_CONVERT = {name: kind.convert for name, kind in TRADE_COLUMNS.items()}
_PLACE = {name: place for place, name in enumerate(TRADE_COLUMNS)}
_CREATED_AT, _UPDATED_AT = _PLACE["created_at"], _PLACE["updated_at"]
# What reads the text of a column tradedb filled in itself (an id, a
# default, a computed amount) for the record: that text is its own, checked.
_READ_OURS = tuple(
    (name, None if kind.read is None else Decimal if isinstance(kind, DecimalKind) else kind.read)
    for name, kind in TRADE_COLUMNS.items()
)


def new_trade_row(data: Mapping[str, Any], now: str) -> dict[str, Any]:
    """The stored row for a new trade: validated, defaults filled, PnL settled if it is closed."""
    return new_trade(data, now)[0]


def new_trade(data: Mapping[str, Any], now: str) -> tuple[dict[str, Any], list[Any]]:
    """new_trade_row, and the values its record holds where they were converted from `data` (None elsewhere).

    One pass converts each value to both forms, so a bulk load's records are
    not read back from the text just written (see new_trade_record).
    """
    check_fields("trade", data, TRADE_COLUMNS, fixed=AUTOMATIC)
    for name in REQUIRED:
        if data.get(name) is None:
            raise ValidationError(name, "is required for a trade")
    row = dict.fromkeys(TRADE_COLUMNS)
    values: list[Any] = [None] * len(row)
    convert, place = _CONVERT, _PLACE
    for name, value in data.items():  # in the caller's order, as new_row: the first bad value is the one named
        if value is not None:
            row[name], values[place[name]] = convert[name](name, value)
    row["id"] = row["id"] or new_uuid()
    row["status"] = row["status"] or "open"
    if row["entry_value"] is None:
        fill_entry_value(row)
    if row["status"] == "closed":
        if row["exit_time"] is None:  # history being imported: its exit time is a fact, not "now"
            raise ValidationError("exit_time", "is required to create a trade that is already closed")
        settle(row, given=data.keys())
        require_pnl(row)
    row["created_at"] = row["updated_at"] = now
    return row, values


def new_trade_record(row: Mapping[str, Any], values: list[Any], now: datetime) -> Trade:
    """The record of a trade row just written: `values` from new_trade, the columns tradedb filled read from its text."""
    values[_CREATED_AT] = values[_UPDATED_AT] = now
    for place, (name, read) in enumerate(_READ_OURS):
        if values[place] is None:
            stored = row[name]
            if stored is not None:
                values[place] = stored if read is None else read(stored)
    return trade_from_values(values)


def fill_entry_value(row: dict[str, Any]) -> None:
    """entry_value = entry_price x size, when both are known."""
    if row["entry_price"] is not None and row["size"] is not None:
        with localcontext(EXACT):
            row["entry_value"] = UNSIGNED_MONEY.computed(Decimal(row["entry_price"]) * Decimal(row["size"]))


def settle(row: dict[str, Any], given: Any) -> None:
    """Compute the PnL fields of a closing trade, except those in `given`, as close_trade defines them."""
    if row["exit_price"] is None:
        raise ValidationError("exit_price", f"is required to close trade {row['id']}")
    if row["exit_time"] is None:
        row["exit_time"] = time_to_text(utc_now())
    if row["entry_time"] is not None and row["exit_time"] < row["entry_time"]:
        raise ValidationError("exit_time", f"trade {row['id']} would exit before it entered ({row['entry_time']})")
    for name in ("entry_price", "size"):
        if row[name] is None:
            raise ValidationError(name, f"trade {row['id']} has no {name}, so it cannot be closed; set it first")
    if SETTLED.issubset(given):  # history imported with its PnL: nothing to compute
        return
    entry, exit_, size = Decimal(row["entry_price"]), Decimal(row["exit_price"]), Decimal(row["size"])
    with localcontext(EXACT):
        if "exit_value" not in given:
            row["exit_value"] = UNSIGNED_MONEY.computed(exit_ * size)
        if "gross_pnl" not in given:
            move = exit_ - entry if row["direction"] == "long" else entry - exit_
            row["gross_pnl"] = MONEY.computed(move * size)
        if "net_pnl" not in given and row["gross_pnl"] is not None:
            row["net_pnl"] = MONEY.computed(Decimal(row["gross_pnl"]) - Decimal(row["commission"] or 0))
        if "pnl_percentage" not in given:
            entry_value = Decimal(row["entry_value"] or 0)
            if entry_value and row["net_pnl"] is not None:
                row["pnl_percentage"] = RATIO.computed(Decimal(row["net_pnl"]) / entry_value * 100)
            else:
                row["pnl_percentage"] = None


def require_pnl(row: Mapping[str, Any]) -> None:
    """A closed trade always has its PnL: its bot's books count its net_pnl."""
    for name in ("gross_pnl", "net_pnl"):
        if row[name] is None:
            raise ValidationError(
                name, f"a closed trade always has its {name} (trade {row['id']}); leave it out to have it computed"
            )


def booked(row: Mapping[str, Any]) -> tuple[str, Decimal] | None:
    """The (bot, amount) a trade row counts in its bot's books: its net_pnl once closed."""
    if row["status"] == "closed" and row["net_pnl"] is not None:
        return row["bot_id"], Decimal(row["net_pnl"])
    return None


def rebook(session: Session, changed: Sequence[tuple[Mapping[str, Any] | None, Mapping[str, Any]]], now: str) -> None:
    """Move the bots' books by the difference between trades' old (None if new) and new contributions."""
    changes: dict[str, Decimal] = defaultdict(Decimal)
    with localcontext(EXACT):
        for before, after in changed:
            old, new = (booked(before) if before else None), booked(after)
            if old:
                changes[old[0]] -= old[1]
            if new:
                changes[new[0]] += new[1]
    book_changes(session, changes, now)


def book_changes(session: Session, changes: Mapping[str, Decimal], now: str) -> None:
    """Move each bot's books by its change."""
    # In one order, so that two transactions moving the same bots' books never wait on each other in a circle.
    for bot_id in sorted(changes):
        book_pnl(session, bot_id, changes[bot_id], now)


def trade_row(session: Session, trade_id: Any) -> dict[str, Any]:
    """The stored row of a trade that must exist, locked until the transaction ends (it is written back)."""
    row = session.one(GET_TRADE_FOR_UPDATE, {"id": TRADE_COLUMNS["id"].to_db("trade_id", trade_id)})
    if row is None:
        raise NotFoundError(f"no trade with id {trade_id!r}")
    return stored_row(TRADE_COLUMNS, row)


def write_trade(session: Session, before: dict[str, Any], after: dict[str, Any], query: Query = UPDATE_TRADE) -> Trade:
    """Write a changed trade back with `query` (given the columns it names), move the books, return the trade."""
    if after["bot_id"] != before["bot_id"] or after["trade_type"] != before["trade_type"]:
        require_bot_of_type(session, after["bot_id"], after["trade_type"])
    after["updated_at"] = time_to_text(utc_now())
    session.exec(query, {name: after[name] for name in query.params})
    rebook(session, [(before, after)], after["updated_at"])
    return trade_from_row(tuple(after.values()))


def check_transition(trade_id: str, old: str, new: str) -> None:
    """A trade moves only from open to closed or cancelled (staying open is no move)."""
    if old == "open" and new in ("open", "closed", "cancelled"):
        return
    raise InvalidTransition(
        f"trade {trade_id} is {old}; it cannot become {new} (a trade moves only from open to closed or cancelled)"
    )


# Units of work -----------------------------------------------------------


def create_trades(session: Session, items: Sequence[Mapping[str, Any]]) -> list[Trade]:
    """Store new trades, all or none; a client-chosen id that exists with the same entry returns that trade."""
    moment = utc_now()
    now = time_to_text(moment)
    if len(items) == 1:
        # The common call, one new trade: insert it straight away. Its id is
        # looked up only when the insert changed nothing, that is for a retry.
        row, values = new_trade(items[0], now)
        if insert_trades(session, [row], now):
            return [new_trade_record(row, values, moment)]
    return create_many(session, items, moment, now)


def create_many(session: Session, items: Sequence[Mapping[str, Any]], moment: datetime, now: str) -> list[Trade]:
    """create_trades of any number of trades: every trade checked, then written, as if in that order.

    The ids come first: those a caller chose are looked up (a retry returns the
    stored trade). Then each trade is checked and converted as the insert reads
    it, so that a server inserts the first rows while the next are checked; the
    outcome is the one of checking them all first: the first invalid trade is
    named even when an insert failed before it was reached, and a retry with
    another entry (ConflictError) is reported before any failure to insert.
    """
    many = len(items) > 1
    # The caller's trades, copied when create_trades was called, are let go as soon as each is converted where the
    # unit cannot be run again: holding 100,000 copies to the end cost a bulk load 4% (README, The bulk path).
    release = items if isinstance(items, list) and not session.reruns_units else None
    ids = chosen_ids(items, now)
    known = stored_trades(session, [trade_id for trade_id in ids if trade_id is not None]) if any(ids) else {}
    # Each trade's origin: None for a new one, -1 for one stored before, else the place of its first occurrence.
    origin: list[int | None] = []
    first: dict[str, int] = {}
    for place, trade_id in enumerate(ids):
        if trade_id is None:
            origin.append(None)
        elif trade_id in known:
            origin.append(-1)
        elif trade_id in first:
            origin.append(first[trade_id])
        else:
            first[trade_id] = place
            origin.append(None)
    expected = origin.count(None)
    # Only what the end needs is kept of each row, so that a bulk load's rows are freed once written:
    # the first place of each (bot, type) the trades name, and the rows later trades repeat.
    bots: dict[tuple[str, str], int] = {}
    repeated = {came_from for came_from in origin if came_from is not None and came_from >= 0}
    kept: dict[int, dict[str, Any]] = {}
    records: list[Trade | None] = []
    changes: dict[str, Decimal] = defaultdict(Decimal)  # the new trades' net_pnl, by bot
    conflicts: list[ConflictError] = []

    def checked() -> Iterator[dict[str, Any]]:
        """The new rows, each checked and converted as it is asked for, with its record and its part of the books;
        the others compared with what they repeat."""
        for place, data in enumerate(items):
            try:
                row, values = new_trade(data, now)
            except ValidationError as error:
                if not many:
                    raise
                raise ValidationError(f"trades[{place}].{error.field}", error.reason) from None
            if release is not None:
                release[place] = None
            bots.setdefault((row["bot_id"], row["trade_type"]), place)
            if place in repeated:
                kept[place] = row
            came_from = origin[place]
            if came_from is None:
                # Built now, from the values the row was converted from (not read
                # back), while the rows before it are written.
                records.append(new_trade_record(row, values, moment))
                counted = booked(row)
                if counted:
                    with localcontext(EXACT):
                        changes[counted[0]] += counted[1]
                yield row
                continue
            records.append(None)
            try:
                require_same_entry(known[row["id"]] if came_from < 0 else kept[came_from], row)
            except ConflictError as error:
                conflicts.append(error)

    rest = checked()
    try:
        with session.bulk_load("trades", expected):
            inserted = session.exec_many(INSERT_TRADE, rest) if expected else 0
    except ValidationError:  # a trade's own, from checked(): the first invalid one
        raise
    except Exception:
        # exec_many read every trade first (an invalid one is the error then);
        # as if they had been compared before writing, a conflict comes next.
        if conflicts:
            raise conflicts[0] from None
        name_refused_bots(session, bots, many)
        raise
    for _ in rest:  # when nothing was new, the trades are checked here
        pass
    if conflicts:
        raise conflicts[0]
    if inserted != expected:
        # Stored by another connection since the lookup (on a server; SQLite's
        # write lock rules that out): the next attempt's lookup sees them.
        if inserted:  # only some were new: which ones is unknown, so neither book nor keep any of them
            raise StoredMeanwhile("some of these trades were stored meanwhile; send them again, each with its id")
        raise StoredMeanwhile("these trades were stored meanwhile; send them again, each with its id")
    book_changes(session, changes, now)
    # The other trades' records: of the row stored before, or the record of the trade they repeat.
    for place, (came_from, trade_id) in enumerate(zip(origin, ids)):
        if came_from is not None and came_from >= 0:
            records[place] = records[came_from]
        elif came_from is not None and trade_id is not None:  # stored before: every such trade has its id
            records[place] = trade_from_row(tuple(known[trade_id].values()))
    return records  # type: ignore[return-value]  # every place is filled


def chosen_ids(items: Sequence[Mapping[str, Any]], now: str) -> list[str | None]:
    """The id each trade was given, in its stored form (None: none given, tradedb makes one).

    When an item or its id is invalid, every item up to it is checked in turn,
    which raises the error create_trades reports: the first problem in order.
    """
    ids: list[str | None] = []
    convert = TRADE_COLUMNS["id"].to_db
    try:
        for data in items:
            if not isinstance(data, Mapping):
                raise TypeError("not a dict")  # refused below, by new_trade's own words
            given = data.get("id")
            ids.append(None if given is None else convert("id", given))
    except Exception:  # noqa: BLE001 - told properly below
        for place, data in enumerate(items[: len(ids) + 1]):
            try:
                new_trade(data, now)
            except ValidationError as error:
                if len(items) == 1:
                    raise
                raise ValidationError(f"trades[{place}].{error.field}", error.reason) from None
        raise
    return ids


def name_refused_bots(session: Session, bots: Mapping[tuple[str, str], int], many: bool) -> None:
    """After an insert failed: raise the error naming a trade's unknown bot or a type that is not its bot's, if any.

    `bots` holds each (bot_id, trade_type) of the trades at the place of its
    first trade. The schema refuses both without naming either; this is
    checked only on failure, so a good insert costs no query.
    """
    for (bot_id, trade_type), place in bots.items():
        require_bot_of_type(session, bot_id, trade_type, f"trades[{place}]." if many else "")


def first_places(rows: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """Each (bot_id, trade_type) of `rows`, at the place of its first row."""
    places: dict[tuple[str, str], int] = {}
    for place, row in enumerate(rows):
        places.setdefault((row["bot_id"], row["trade_type"]), place)
    return places


def insert_trades(session: Session, rows: list[dict[str, Any]], now: str) -> int:
    """Insert and book new trade rows; the number inserted."""
    try:
        inserted = session.exec_many(INSERT_TRADE, rows)
    except Exception:
        name_refused_bots(session, first_places(rows), len(rows) > 1)
        raise
    if inserted == len(rows):
        rebook(session, [(None, row) for row in rows], now)
    elif inserted:  # only some were new: which ones is unknown, so neither book nor keep any of them
        raise StoredMeanwhile("some of these trades were stored meanwhile; send them again, each with its id")
    return inserted


def stored_trades(session: Session, trade_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The stored rows of those of `trade_ids` that exist, by id."""
    rows = session.many(TRADES_BY_IDS, {"ids": json.dumps(trade_ids)})
    return {row[0]: stored_row(TRADE_COLUMNS, row) for row in rows}


def require_same_entry(stored: Mapping[str, Any], retried: Mapping[str, Any]) -> None:
    """A retried create must carry the entry it was first sent with; anything else is a conflict."""
    different = [name for name in ENTRY_FIELDS if stored[name] != retried[name]]
    if different:
        raise ConflictError(
            f"trade {stored['id']} exists with a different {', '.join(different)}; "
            "a retry must send the same entry, and a new trade needs a new id"
        )


def update_trade(session: Session, trade_id: str, changes: Mapping[str, Any]) -> Trade:
    """Apply changes to a trade; closing it this way settles PnL as close_trade does."""
    check_fields("trade", changes, TRADE_COLUMNS, fixed=("id", *AUTOMATIC))
    before = trade_row(session, trade_id)
    after = dict(before)
    for name, value in changes.items():
        after[name] = TRADE_COLUMNS[name].to_db(name, value)
    if "status" in changes:
        check_transition(before["id"], before["status"], after["status"])
    if ("entry_price" in changes or "size" in changes) and "entry_value" not in changes:
        fill_entry_value(after)
    # Closing, or correcting what a closed trade's PnL comes from, settles it
    # again; so does any change to a closed trade stored without its PnL
    # (before migration 0002 made the PnL required).
    if after["status"] == "closed":
        if before["status"] == "open" or not PNL_INPUTS.isdisjoint(changes) or None in (
            before["gross_pnl"], before["net_pnl"]
        ):
            settle(after, given=changes.keys())
        require_pnl(after)
    if before["status"] == "open" and after["status"] == "cancelled" and after["exit_time"] is None:
        after["exit_time"] = time_to_text(utc_now())
    return write_trade(session, before, after)


def close_trade(
    session: Session, trade_id: str, exit_price: Any, exit_time: Any, commission: Any, exit_reason: Any
) -> Trade:
    """Close an open trade at exit_price, adding the exit fee to its commission."""
    before = trade_row(session, trade_id)
    check_transition(before["id"], before["status"], "closed")
    if exit_price is None:
        raise ValidationError("exit_price", "is required to close a trade")
    after = dict(before)
    after["exit_price"] = UNSIGNED_MONEY.to_db("exit_price", exit_price)
    after["exit_time"] = TIME.to_db("exit_time", exit_time) or time_to_text(utc_now())
    after["exit_reason"] = OPTIONAL_TEXT.to_db("exit_reason", exit_reason)
    if commission is not None:
        fee = UNSIGNED_MONEY.round("commission", commission)
        with localcontext(EXACT):
            after["commission"] = UNSIGNED_MONEY.computed(Decimal(before["commission"] or 0) + fee)
    after["status"] = "closed"
    settle(after, given=())
    return write_trade(session, before, after, CLOSE_TRADE)


def cancel_trade(session: Session, trade_id: str, reason: Any) -> Trade:
    """Cancel an open trade."""
    before = trade_row(session, trade_id)
    check_transition(before["id"], before["status"], "cancelled")
    after = dict(before)
    after["status"] = "cancelled"
    after["exit_time"] = time_to_text(utc_now())
    after["exit_reason"] = OPTIONAL_TEXT.to_db("reason", reason)
    return write_trade(session, before, after, CANCEL_TRADE)


def get_trade_by_id(session: Session, trade_id: str) -> Trade | None:
    """One trade, or None."""
    row = session.one(GET_TRADE, {"id": trade_id})
    return None if row is None else trade_from_row(row)


def get_open_trades(session: Session, bot_id: str | None, symbol: str | None) -> list[Trade]:
    """Open trades, oldest entry first."""
    if bot_id is None:
        rows = session.many(OPEN_TRADES, {"symbol": symbol})
    else:
        rows = session.many(OPEN_TRADES_OF_BOT, {"bot_id": bot_id, "symbol": symbol})
    return [trade_from_row(row) for row in rows]


def get_closed_trades(
    session: Session, bot_id: str | None, symbol: str | None, since: str | None, until: str | None, limit: int
) -> list[Trade]:
    """Closed trades, newest exit first."""
    params = {"symbol": symbol, "since": since, "until": until, "limit": limit}
    if bot_id is None:
        rows = session.many(CLOSED_TRADES, params)
    else:
        rows = session.many(CLOSED_TRADES_OF_BOT, {"bot_id": bot_id, **params})
    return [trade_from_row(row) for row in rows]


# A page also ends once its rows hold this much text, so that streaming
# memory follows neither the number of trades nor their size (a trade's
# extra_metadata alone may be up to JSON_MAX_BYTES).
PAGE_BYTES = 4 * 1024 * 1024


def get_trades_page(
    session: Session, after: int | str, bot_id: str | None, symbol: str | None, status: str | None, page_size: int
) -> tuple[list[Trade], int | str | None]:
    """Trades after a storage position, up to page_size or PAGE_BYTES of text; and the position after them (None: no more).

    A position is the backend's: a rowid on SQLite (insertion order), the id on PostgreSQL (id order); 0 is the start.
    """
    params = {"after": after, "bot_id": bot_id, "symbol": symbol, "status": status, "page_size": page_size}
    page: list[Trade] = []
    held = 0
    position: int | str = 0
    # Row by row, not fetchall: the rows past the budget are never read.
    for row in session.each(TRADES_PAGE, params):
        page.append(trade_from_row(row[:-2]))
        position, held = row[-2], held + row[-1]
        if held >= PAGE_BYTES:
            return page, position
    return page, position if len(page) == page_size else None
