"""Bot instances: the units of work behind the repository's bot methods.

Each function takes a Session and runs in the connection's thread, inside
the transaction the repository opened for it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal, localcontext
from typing import Any, Mapping

from .errors import ConflictError, NotFoundError, ValidationError
from .queries import QUERIES
from .records import (
    BOT_COLUMNS,
    MONEY,
    BotInstance,
    BotState,
    bot_from_row,
    check_fields,
    new_row,
    stored_row,
    trade_from_row,
)
from .database import Session
from .values import EXACT, UTC, time_to_text, utc_now

INSERT_BOT = QUERIES["insert_bot_instance"]
GET_BOT = QUERIES["get_bot_instance"]
LIST_BOTS = QUERIES["list_bot_instances"]
UPDATE_BOT = QUERIES["update_bot_instance"]
SET_BOT_TYPE = QUERIES["set_bot_type"]
GET_BOT_FOR_UPDATE = QUERIES["get_bot_instance_for_update"]
GET_BOOKS_FOR_UPDATE = QUERIES["get_bot_books_for_update"]
UPDATE_BOOKS = QUERIES["update_bot_books"]
STALE_BOTS = QUERIES["get_stale_bots"]
OPEN_TRADES_OF_BOT = QUERIES["get_open_trades_of_bot"]

AUTOMATIC = ("created_at", "updated_at")
# total_pnl follows the bot's closed trades (see trades.rebook); nobody sets it.
DERIVED = (*AUTOMATIC, "total_pnl")


def bot_row(session: Session, bot_id: str, *, for_update: bool = False) -> dict[str, Any] | None:
    """The stored row of a bot, or None; `for_update`: locked until the transaction ends (it is written back)."""
    row = session.one(GET_BOT_FOR_UPDATE if for_update else GET_BOT, {"id": bot_id})
    return None if row is None else stored_row(BOT_COLUMNS, row)


def missing_bot(bot_id: Any) -> NotFoundError:
    """The error for a bot that should exist and does not."""
    return NotFoundError(f"no bot instance with id {bot_id!r}; create it with create_bot_instance or start_bot")


def require_bots(session: Session, bot_ids: set[str]) -> None:
    """Refuse rows (trades, metrics) that belong to a bot that does not exist, saying what to do."""
    for bot_id in sorted(bot_ids):
        if bot_row(session, bot_id) is None:
            raise ValidationError(
                "bot_id", f"no bot instance with id {bot_id!r}; create the bot first (create_bot_instance or start_bot)"
            )


def require_bot_of_type(session: Session, bot_id: str, trade_type: str, prefix: str = "") -> None:
    """Refuse a trade whose bot does not exist or is of another type than the trade (field names after `prefix`)."""
    row = bot_row(session, bot_id)
    if row is None:
        raise ValidationError(
            f"{prefix}bot_id",
            f"no bot instance with id {bot_id!r}; create the bot first (create_bot_instance or start_bot)",
        )
    bot_type = row["type"]
    if bot_type != trade_type:
        raise ValidationError(
            f"{prefix}trade_type",
            f"{trade_type!r} differs from the type of bot {bot_id!r}, a {bot_type} bot: a bot's trades have its type, "
            f"so give trade_type {bot_type!r} (or trade on a {trade_type} bot of its own)",
        )


def existing_bot_row(session: Session, bot_id: Any, *, for_update: bool = False) -> dict[str, Any]:
    """The stored row of a bot that must exist (`for_update`: see bot_row)."""
    row = bot_row(session, BOT_COLUMNS["id"].to_db("bot_id", bot_id), for_update=for_update)
    if row is None:
        raise missing_bot(bot_id)
    return row


def write_bot(session: Session, row: dict[str, Any]) -> BotInstance:
    """Write a bot's whole row back and return it as a record."""
    session.exec(UPDATE_BOT, {name: row[name] for name in UPDATE_BOT.params})
    return bot_from_row(tuple(row.values()))


def create_bot_instance(session: Session, data: Mapping[str, Any], now: str | None = None) -> BotInstance:
    """Store a new bot; its id must be new."""
    check_fields("bot instance", data, BOT_COLUMNS, fixed=DERIVED)
    for required in ("id", "type"):
        if data.get(required) is None:
            raise ValidationError(required, "is required for a bot instance")
    now = now or time_to_text(utc_now())
    row = new_row(BOT_COLUMNS, data)
    row["status"] = row["status"] or "running"
    row["total_pnl"] = MONEY.computed(Decimal(0))
    if row["status"] == "running" and row["started_at"] is None:
        row["started_at"] = now
    row["created_at"] = row["updated_at"] = now
    if bot_row(session, row["id"]) is not None:
        raise ConflictError(f"a bot instance with id {row['id']!r} exists already; use update_bot_instance or start_bot")
    session.exec(INSERT_BOT, row)
    return bot_from_row(tuple(row.values()))


def update_bot_instance(session: Session, bot_id: str, changes: Mapping[str, Any]) -> BotInstance:
    """Apply changes to a bot and return it as stored."""
    check_fields("bot instance", changes, BOT_COLUMNS, fixed=("id", *DERIVED))
    row = existing_bot_row(session, bot_id, for_update=True)
    stored_type = row["type"]
    for name, value in changes.items():
        row[name] = BOT_COLUMNS[name].to_db(name, value)
    if row["type"] != stored_type:
        session.exec(SET_BOT_TYPE, {"id": row["id"], "type": row["type"]})
    row["updated_at"] = time_to_text(utc_now())
    return write_bot(session, row)


def get_bot_instance(session: Session, bot_id: str) -> BotInstance | None:
    """One bot, or None."""
    row = session.one(GET_BOT, {"id": bot_id})
    return None if row is None else bot_from_row(row)


def list_bot_instances(session: Session, status: str | None) -> list[BotInstance]:
    """Every bot, or those with one status."""
    return [bot_from_row(row) for row in session.many(LIST_BOTS, {"status": status})]


def book_pnl(session: Session, bot_id: str, change: Decimal, now: str) -> None:
    """Move a bot's total_pnl, and its current_balance when set, by `change`."""
    if not change:
        return
    books = session.one(GET_BOOKS_FOR_UPDATE, {"id": bot_id})
    if books is None:
        raise missing_bot(bot_id)
    total_pnl, balance = books
    with localcontext(EXACT):
        total_pnl = MONEY.computed(Decimal(total_pnl) + change)
        if balance is not None:
            balance = MONEY.computed(Decimal(balance) + change)
    session.exec(UPDATE_BOOKS, {"id": bot_id, "total_pnl": total_pnl, "current_balance": balance, "updated_at": now})


def start_bot(session: Session, data: Mapping[str, Any]) -> BotState:
    """Create the bot or mark it running again; return it with its open positions."""
    check_fields("bot instance", data, BOT_COLUMNS, fixed=(*DERIVED, "started_at", "last_heartbeat"))
    if data.get("status", "running") != "running":
        raise ValidationError("status", "start_bot always marks a bot running; use stop_bot to stop it")
    if data.get("id") is None:
        raise ValidationError("id", "is required to start a bot")
    now = time_to_text(utc_now())
    bot_id = BOT_COLUMNS["id"].to_db("id", data["id"])
    row = bot_row(session, bot_id, for_update=True)
    bot = None
    if row is None:
        try:
            bot = create_bot_instance(session, {**data, "status": "running", "started_at": now, "last_heartbeat": now}, now)
        except ConflictError:
            # Another process started this bot since the read above (on a
            # server; SQLite's write lock rules that out): restart it instead.
            row = bot_row(session, bot_id, for_update=True)
            if row is None:
                raise
    if row is not None:
        stored_type = row["type"]
        for name, value in data.items():
            value = BOT_COLUMNS[name].to_db(name, value)
            # The balance given is the opening balance of a new bot. A restart
            # keeps the books (current_balance - total_pnl stays what it
            # opened with); set_bot_balance moves the balance on purpose.
            if name not in ("id", "current_balance"):
                row[name] = value
        if row["type"] != stored_type:
            raise ConflictError(
                f"bot {row['id']!r} is a {stored_type} bot; a bot of another type needs an id of its own"
            )
        row["status"] = "running"
        row["started_at"] = row["last_heartbeat"] = row["updated_at"] = now
        bot = write_bot(session, row)
    assert bot is not None
    trades = [trade_from_row(r) for r in session.many(OPEN_TRADES_OF_BOT, {"bot_id": bot.id, "symbol": None})]
    return BotState(bot=bot, open_trades=trades)


def stop_bot(session: Session, bot_id: str, status: str) -> BotInstance:
    """Mark a bot stopped, or in error."""
    if status not in ("stopped", "error"):
        raise ValidationError("status", f"{status!r} is not a stopped status; use 'stopped' or 'error'")
    row = existing_bot_row(session, bot_id, for_update=True)
    row["status"] = status
    row["updated_at"] = time_to_text(utc_now())
    return write_bot(session, row)


def heartbeat(session: Session, bot_id: str, status: Any) -> BotInstance:
    """Record that a bot is alive, with its status when given."""
    row = existing_bot_row(session, bot_id, for_update=True)
    if status is not None:
        row["status"] = BOT_COLUMNS["status"].to_db("status", status)
    row["last_heartbeat"] = row["updated_at"] = time_to_text(utc_now())
    return write_bot(session, row)


def set_bot_balance(session: Session, bot_id: str, current_balance: Any) -> BotInstance:
    """Set a bot's current_balance (a live bot syncing with its exchange); total_pnl stays as its trades make it."""
    if current_balance is None:
        raise ValidationError("current_balance", "is required: the balance to set (a Decimal, int or str)")
    row = existing_bot_row(session, bot_id, for_update=True)
    row["current_balance"] = BOT_COLUMNS["current_balance"].to_db("current_balance", current_balance)
    row["updated_at"] = time_to_text(utc_now())
    return write_bot(session, row)


def get_stale_bots(session: Session, max_age: timedelta) -> list[BotInstance]:
    """Bots marked running that have not shown life for longer than max_age."""
    now = utc_now()
    # A max_age reaching back past year 1 leaves only the bots that never showed life.
    cutoff = time_to_text(now - min(max_age, now - datetime.min.replace(tzinfo=UTC)))
    return [bot_from_row(row) for row in session.many(STALE_BOTS, {"cutoff": cutoff})]
