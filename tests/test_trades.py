"""Trades through the public API: creation, queries, closing, cancelling, updates, and the bot's books."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal, localcontext

import pytest

import tradedb
from conftest import ENTRY_TIME, trade_data

D = Decimal


async def test_create_trade_fills_defaults(repo, bot):
    trade = await repo.create_trade(trade_data())
    assert uuid.UUID(trade.id).version == 4
    assert trade.status == "open"
    assert trade.entry_value == D("5000.00000000")
    assert trade.entry_price == D("50000") and trade.size == D("0.1")
    assert trade.entry_time == ENTRY_TIME and trade.entry_time.tzinfo == timezone.utc
    assert trade.created_at.tzinfo == timezone.utc and trade.created_at == trade.updated_at
    assert trade.net_pnl is None and trade.exit_time is None
    assert await repo.get_trade_by_id(trade.id) == trade


async def test_create_trade_keeps_given_id_and_entry_value(repo, bot):
    given = uuid.uuid4()
    trade = await repo.create_trade(trade_data(id=given, entry_value="4999.5", strategy_name="s1"))
    assert trade.id == str(given)
    assert trade.entry_value == D("4999.5")
    assert trade.strategy_name == "s1"


@pytest.mark.parametrize("field", ["bot_id", "trade_type", "entry_logic_name", "exit_logic_name", "symbol", "interval", "direction"])
async def test_create_trade_requires(repo, bot, field):
    data = trade_data()
    del data[field]
    with pytest.raises(tradedb.ValidationError) as caught:
        await repo.create_trade(data)
    assert caught.value.field == field and "required" in str(caught.value)


@pytest.mark.parametrize(
    "field, value",
    [
        ("trade_type", "backtest"),
        ("direction", "up"),
        ("status", "pending"),
        ("symbol", ""),
        ("symbol", 42),
        ("id", "not-a-uuid"),
        ("entry_price", "-1"),
        ("size", "abc"),
        ("entry_time", "2024-03-01T12:00:00"),
        ("entry_time", datetime(2024, 3, 1, 12, 0)),
        ("extra_metadata", {"price": Decimal("1")}),
    ],
)
async def test_create_trade_refuses_bad_values(repo, bot, field, value):
    with pytest.raises(tradedb.ValidationError) as caught:
        await repo.create_trade(trade_data(**{field: value}))
    assert caught.value.field == field
    assert await repo.get_open_trades() == []


async def test_unknown_field_is_refused_with_a_suggestion(repo, bot):
    with pytest.raises(tradedb.ValidationError, match="did you mean 'entry_price'"):
        await repo.create_trade(trade_data(entry_prise="1"))


@pytest.mark.parametrize("field", ["created_at", "updated_at"])
async def test_automatic_fields_cannot_be_given(repo, bot, field):
    with pytest.raises(tradedb.ValidationError) as caught:
        await repo.create_trade(trade_data(**{field: ENTRY_TIME}))
    assert caught.value.field == field


@pytest.mark.parametrize("batch", [False, True])
async def test_trade_for_unknown_bot_names_it_and_says_create_the_bot_first(repo, bot, raw_sql, batch):
    field = r"trades\[1\]\.bot_id" if batch else "bot_id"
    with pytest.raises(tradedb.ValidationError, match=f"^{field}: no bot instance with id 'ghost'; create the bot first"):
        if batch:
            await repo.create_trades([trade_data(), trade_data(bot_id="ghost"), trade_data()])
        else:
            await repo.create_trade(trade_data(bot_id="ghost"))
    assert raw_sql.execute("SELECT count(*) FROM trades").fetchone() == (0,)


async def test_an_existing_id_with_another_entry_is_a_conflict(repo, bot):
    trade = await repo.create_trade(trade_data())
    with pytest.raises(tradedb.ConflictError, match="symbol"):
        await repo.create_trade(trade_data(id=trade.id, symbol="ETHUSDT"))


async def test_errors_are_also_builtin_errors(repo, bot):
    assert issubclass(tradedb.ValidationError, ValueError)
    assert issubclass(tradedb.NotFoundError, LookupError)
    with pytest.raises(LookupError):
        await repo.close_trade(str(uuid.uuid4()), exit_price="1")


async def test_get_trade_by_id_unknown_is_none(repo):
    assert await repo.get_trade_by_id(str(uuid.uuid4())) is None
    with pytest.raises(tradedb.ValidationError):
        await repo.get_trade_by_id("42")


@pytest.mark.parametrize(
    "direction, entry, exit_, size, fee, gross, net, percent",
    [
        # (51000 - 50000) x 0.1 = 100; minus 2.5 fee = 97.5; / 5000 x 100 = 1.95 %
        ("long", "50000", "51000", "0.1", "2.5", "100", "97.5", "1.95"),
        # short: (50000 - 51000) x 0.1 = -100; -100 - 2.5 = -102.5; -2.05 %
        ("short", "50000", "51000", "0.1", "2.5", "-100", "-102.5", "-2.05"),
        ("short", "2000", "1500", "2", None, "1000", "1000", "25"),
        # 1/3 of a percent, rounded half-even to 4 places
        ("long", "3", "3.01", "1", None, "0.01", "0.01", "0.3333"),
    ],
)
async def test_close_trade_computes_pnl(repo, bot, direction, entry, exit_, size, fee, gross, net, percent):
    trade = await repo.create_trade(trade_data(direction=direction, entry_price=entry, size=size))
    exit_time = ENTRY_TIME + timedelta(hours=3)
    closed = await repo.close_trade(trade.id, exit_price=exit_, exit_time=exit_time, commission=fee, exit_reason="tp")
    assert closed.status == "closed" and closed.exit_reason == "tp" and closed.exit_time == exit_time
    assert closed.exit_value == D(exit_) * D(size)
    assert (closed.gross_pnl, closed.net_pnl, closed.pnl_percentage) == (D(gross), D(net), D(percent))
    assert str(closed.net_pnl) == format(D(net).quantize(D("1e-8")), "f")
    assert await repo.get_trade_by_id(trade.id) == closed


@pytest.mark.parametrize(
    "exit_, gross",
    [
        ("1.000000015", "0.00000002"),  # half to even: ...1|5 -> ...2
        ("1.000000025", "0.00000002"),  # ...2|5 -> ...2
        ("1.000000026", "0.00000003"),
    ],
)
async def test_pnl_is_rounded_half_even(repo, bot, exit_, gross):
    # exit_price itself is rounded to 8 places first: 1.000000015 -> 1.00000002
    trade = await repo.create_trade(trade_data(entry_price="1", size="1"))
    closed = await repo.close_trade(trade.id, exit_price=exit_)
    assert closed.gross_pnl == D(gross)


async def test_close_adds_exit_fee_to_entry_commission(repo, bot):
    trade = await repo.create_trade(trade_data(commission="1.25"))
    closed = await repo.close_trade(trade.id, exit_price="50000", commission="1.5")
    assert closed.commission == D("2.75")
    assert closed.gross_pnl == 0 and closed.net_pnl == D("-2.75")


async def test_close_defaults_exit_time_to_now(repo, bot):
    trade = await repo.create_trade(trade_data())
    before = datetime.now(timezone.utc)
    closed = await repo.close_trade(trade.id, exit_price="50100")
    assert before <= closed.exit_time <= datetime.now(timezone.utc)


async def test_closing_moves_the_bots_books_once(repo, bot):
    trade = await repo.create_trade(trade_data())
    await repo.close_trade(trade.id, exit_price="51000", commission="2.5")
    with pytest.raises(tradedb.InvalidTransition):
        await repo.close_trade(trade.id, exit_price="52000")
    after = await repo.get_bot_instance("bot-1")
    assert after.total_pnl == D("97.5")
    assert after.current_balance == D("1097.5")


async def test_books_without_a_balance_move_only_total_pnl(repo):
    await repo.create_bot_instance({"id": "bot-1", "type": "live"})
    trade = await repo.create_trade(trade_data(trade_type="live"))
    await repo.close_trade(trade.id, exit_price="49000")
    after = await repo.get_bot_instance("bot-1")
    assert after.total_pnl == D("-100") and after.current_balance is None


async def test_a_trade_without_entry_price_cannot_be_closed(repo, bot):
    trade = await repo.create_trade(trade_data(entry_price=None))
    with pytest.raises(tradedb.ValidationError) as caught:
        await repo.close_trade(trade.id, exit_price="1")
    assert caught.value.field == "entry_price"
    assert (await repo.get_trade_by_id(trade.id)).status == "open"


async def test_close_requires_a_valid_exit_price(repo, bot):
    trade = await repo.create_trade(trade_data())
    for bad in (None, "-5", float("nan")):
        with pytest.raises(tradedb.ValidationError):
            await repo.close_trade(trade.id, exit_price=bad)
    assert (await repo.get_trade_by_id(trade.id)).status == "open"


async def test_cancel_trade(repo, bot):
    trade = await repo.create_trade(trade_data())
    cancelled = await repo.cancel_trade(trade.id, reason="signal withdrawn")
    assert cancelled.status == "cancelled" and cancelled.exit_reason == "signal withdrawn"
    assert cancelled.exit_time is not None and cancelled.net_pnl is None
    with pytest.raises(tradedb.InvalidTransition):
        await repo.cancel_trade(trade.id)
    with pytest.raises(tradedb.InvalidTransition):
        await repo.close_trade(trade.id, exit_price="1")
    assert (await repo.get_bot_instance("bot-1")).total_pnl == 0


@pytest.mark.parametrize(
    "first, then",
    [("closed", "open"), ("closed", "cancelled"), ("cancelled", "open"), ("cancelled", "closed"), ("closed", "closed")],
)
async def test_update_cannot_move_status_back(repo, bot, first, then):
    trade = await repo.create_trade(trade_data())
    if first == "closed":
        await repo.close_trade(trade.id, exit_price="51000")
    else:
        await repo.cancel_trade(trade.id)
    before = await repo.get_trade_by_id(trade.id)
    with pytest.raises(tradedb.InvalidTransition):
        await repo.update_trade(trade.id, {"status": then, "exit_price": "60000"})
    assert await repo.get_trade_by_id(trade.id) == before
    assert (await repo.get_bot_instance("bot-1")).total_pnl == (D("100") if first == "closed" else 0)


async def test_update_trade_stores_changes_and_touches_updated_at(repo, bot):
    trade = await repo.create_trade(trade_data())
    updated = await repo.update_trade(trade.id, {"strategy_name": "grid", "extra_metadata": {"note": "x"}})
    assert updated.strategy_name == "grid" and updated.extra_metadata == {"note": "x"}
    assert updated.updated_at > trade.updated_at and updated.created_at == trade.created_at
    assert await repo.get_trade_by_id(trade.id) == updated


async def test_update_trade_recomputes_entry_value_from_new_price(repo, bot):
    trade = await repo.create_trade(trade_data())
    updated = await repo.update_trade(trade.id, {"entry_price": "40000"})
    assert updated.entry_value == D("4000")


async def test_update_closing_a_trade_settles_pnl_like_close_trade(repo, bot):
    trade = await repo.create_trade(trade_data())
    closed = await repo.update_trade(trade.id, {"status": "closed", "exit_price": "51000", "commission": "2.5"})
    assert (closed.gross_pnl, closed.net_pnl, closed.pnl_percentage) == (D(100), D("97.5"), D("1.95"))
    assert closed.exit_time is not None
    assert (await repo.get_bot_instance("bot-1")).total_pnl == D("97.5")


async def test_update_closing_keeps_given_pnl(repo, bot):
    trade = await repo.create_trade(trade_data())
    closed = await repo.update_trade(
        trade.id, {"status": "closed", "exit_price": "51000", "exit_time": ENTRY_TIME, "net_pnl": "90"}
    )
    assert closed.net_pnl == D(90) and closed.gross_pnl == D(100)
    assert (await repo.get_bot_instance("bot-1")).total_pnl == D(90)


async def test_correcting_a_closed_trades_net_pnl_moves_the_books_by_the_difference(repo, bot):
    trade = await repo.create_trade(trade_data())
    await repo.close_trade(trade.id, exit_price="51000")
    await repo.update_trade(trade.id, {"net_pnl": "80.5"})
    after = await repo.get_bot_instance("bot-1")
    assert after.total_pnl == D("80.5") and after.current_balance == D("1080.5")


async def test_closing_without_exit_price_is_refused(repo, bot):
    trade = await repo.create_trade(trade_data())
    with pytest.raises(tradedb.ValidationError) as caught:
        await repo.update_trade(trade.id, {"status": "closed"})
    assert caught.value.field == "exit_price"


@pytest.mark.parametrize("field", ["id", "created_at", "updated_at"])
async def test_update_refuses_fixed_fields(repo, bot, field):
    trade = await repo.create_trade(trade_data())
    with pytest.raises(tradedb.ValidationError) as caught:
        await repo.update_trade(trade.id, {field: str(uuid.uuid4()) if field == "id" else ENTRY_TIME})
    assert caught.value.field == field


async def test_update_refuses_unknown_fields_and_trades(repo, bot):
    trade = await repo.create_trade(trade_data())
    with pytest.raises(tradedb.ValidationError):
        await repo.update_trade(trade.id, {"colour": "red"})
    with pytest.raises(tradedb.NotFoundError):
        await repo.update_trade(str(uuid.uuid4()), {"symbol": "X"})
    with pytest.raises(tradedb.ValidationError, match="create the bot first"):
        await repo.update_trade(trade.id, {"bot_id": "ghost"})


async def test_open_trades_oldest_first_and_filtered(repo, bot):
    await repo.create_bot_instance({"id": "bot-2", "type": "paper"})
    late = await repo.create_trade(trade_data(entry_time=ENTRY_TIME + timedelta(hours=2)))
    early = await repo.create_trade(trade_data(entry_time=ENTRY_TIME, symbol="ETHUSDT"))
    other = await repo.create_trade(trade_data(bot_id="bot-2", entry_time=ENTRY_TIME + timedelta(hours=1)))
    closed = await repo.create_trade(trade_data())
    await repo.close_trade(closed.id, exit_price="1")
    assert [t.id for t in await repo.get_open_trades("bot-1")] == [early.id, late.id]
    assert [t.id for t in await repo.get_open_trades()] == [early.id, other.id, late.id]
    assert [t.id for t in await repo.get_open_trades(symbol="ETHUSDT")] == [early.id]
    assert [t.id for t in await repo.get_open_trades("bot-1", symbol="BTCUSDT")] == [late.id]
    assert await repo.get_open_trades("nobody") == []


async def test_closed_trades_newest_exit_first_with_since_until_and_limit(repo, bot):
    ids = []
    for hour in range(4):
        trade = await repo.create_trade(trade_data(symbol="ETHUSDT" if hour == 3 else "BTCUSDT"))
        await repo.close_trade(trade.id, exit_price="51000", exit_time=ENTRY_TIME + timedelta(hours=hour))
        ids.append(trade.id)
    await repo.create_trade(trade_data())  # open: never listed
    assert [t.id for t in await repo.get_closed_trades("bot-1")] == ids[::-1]
    since, until = ENTRY_TIME + timedelta(hours=1), ENTRY_TIME + timedelta(hours=3)
    assert [t.id for t in await repo.get_closed_trades(since=since, until=until)] == [ids[2], ids[1]]
    assert [t.id for t in await repo.get_closed_trades("bot-1", limit=2)] == [ids[3], ids[2]]
    assert [t.id for t in await repo.get_closed_trades(symbol="ETHUSDT")] == [ids[3]]
    assert [t.id for t in await repo.get_closed_trades(since="2024-03-01T13:00:00Z", limit=1)] == [ids[3]]
    with pytest.raises(tradedb.ValidationError):
        await repo.get_closed_trades(limit=-1)
    with pytest.raises(tradedb.ValidationError):
        await repo.get_closed_trades(since="yesterday")


async def test_create_trades_is_all_or_nothing(repo, bot):
    good = trade_data()
    with pytest.raises(tradedb.ValidationError) as caught:
        await repo.create_trades([good, good, trade_data(size="-1")])
    assert caught.value.field == "trades[2].size"
    assert await repo.get_open_trades() == []
    created = await repo.create_trades([good, trade_data(symbol="ETHUSDT")])
    assert [t.symbol for t in created] == ["BTCUSDT", "ETHUSDT"]
    assert len(await repo.get_open_trades()) == 2


async def test_create_trades_of_closed_history_books_their_pnl(repo, bot):
    history = [
        trade_data(status="closed", exit_price="51000", exit_time=ENTRY_TIME + timedelta(hours=1)),
        trade_data(status="closed", exit_price="49000", exit_time=ENTRY_TIME + timedelta(hours=2), commission="1"),
    ]
    created = await repo.create_trades(history)
    assert [t.net_pnl for t in created] == [D(100), D(-101)]
    assert (await repo.get_bot_instance("bot-1")).total_pnl == D(-1)


async def test_create_trades_conflicting_ids_write_nothing(repo, bot):
    same = str(uuid.uuid4())
    with pytest.raises(tradedb.ConflictError, match="symbol"):
        await repo.create_trades([trade_data(id=same), trade_data(id=same, symbol="ETHUSDT")])
    assert await repo.get_open_trades() == []


async def test_computed_values_are_never_refused(repo, bot):
    top = "999999999999.99999999"
    trade = await repo.create_trade(trade_data(entry_price=top, size=top))
    with localcontext(prec=60):  # the default 28 digits cannot hold these products
        assert trade.entry_value == (D(top) * D(top)).quantize(D("1e-8"))
        closed = await repo.close_trade(trade.id, exit_price="0.00000001", commission=top)
        assert closed.gross_pnl == ((D("0.00000001") - D(top)) * D(top)).quantize(D("1e-8"))
        assert closed.net_pnl == closed.gross_pnl - D(top)
    assert (await repo.get_bot_instance("bot-1")).total_pnl == closed.net_pnl


async def test_pnl_percentage_is_none_without_entry_value(repo, bot):
    trade = await repo.create_trade(trade_data(entry_price="0.00000001", size="0.00000001"))
    assert trade.entry_value == 0
    closed = await repo.close_trade(trade.id, exit_price="1")
    assert closed.pnl_percentage is None and closed.gross_pnl == D("0.00000001")


@pytest.mark.parametrize("page_size", [1, 2, 1000])
async def test_iter_trades_streams_every_matching_trade_in_storage_order(repo, bot, backend, page_size):
    await repo.create_bot_instance({"id": "bot-2", "type": "paper"})
    created = [await repo.create_trade(trade_data(bot_id="bot-1" if n % 3 else "bot-2")) for n in range(7)]
    if backend == "postgresql":  # storage order there is the primary key's: id order
        created.sort(key=lambda t: t.id)
    closed = await repo.close_trade(created[1].id, exit_price="1")
    assert [t.id async for t in repo.iter_trades(page_size=page_size)] == [t.id for t in created]
    mine = [t.id async for t in repo.iter_trades(bot_id="bot-1", status="open", page_size=page_size)]
    assert mine == [t.id for t in created if t.bot_id == "bot-1" and t.status == "open" and t.id != closed.id]
    assert [t.status async for t in repo.iter_trades(status="closed")] == ["closed"]


@pytest.mark.parametrize("bad", [{"status": "done"}, {"page_size": 0}, {"bot_id": 3}])
async def test_iter_trades_refuses_bad_filters(repo, bad):
    with pytest.raises(tradedb.ValidationError):
        [t async for t in repo.iter_trades(**bad)]


@pytest.mark.parametrize(
    "change, gross, net",
    [
        ({"exit_price": "49000"}, "-100", "-100"),
        ({"commission": "2.5"}, "100", "97.5"),
        ({"size": "0.2"}, "200", "200"),
        ({"direction": "short"}, "-100", "-100"),
        ({"exit_price": "49000", "net_pnl": "-90"}, "-100", "-90"),  # a given PnL field is kept
    ],
)
async def test_correcting_a_closed_trade_settles_it_again_and_moves_the_books(repo, bot, change, gross, net):
    trade = await repo.create_trade(trade_data())
    await repo.close_trade(trade.id, exit_price="51000")
    corrected = await repo.update_trade(trade.id, change)
    assert (corrected.gross_pnl, corrected.net_pnl) == (D(gross), D(net))
    assert corrected.exit_value == corrected.exit_price * corrected.size
    after = await repo.get_bot_instance("bot-1")
    assert (after.total_pnl, after.current_balance) == (D(net), D(1000) + D(net))


async def test_a_trade_cannot_exit_before_it_entered(repo, bot):
    trade = await repo.create_trade(trade_data())
    with pytest.raises(tradedb.ValidationError) as caught:
        await repo.close_trade(trade.id, exit_price="1", exit_time=ENTRY_TIME - timedelta(microseconds=1))
    assert caught.value.field == "exit_time"
    assert (await repo.get_trade_by_id(trade.id)).status == "open"


async def test_a_trade_created_closed_needs_its_exit_time(repo, bot):
    with pytest.raises(tradedb.ValidationError) as caught:
        await repo.create_trade(trade_data(status="closed", exit_price="51000"))
    assert caught.value.field == "exit_time"
    assert (await repo.get_bot_instance("bot-1")).total_pnl == 0


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"status": "closed", "exit_price": "51000", "net_pnl": None}, "net_pnl"),
        ({"status": "closed", "exit_price": "51000", "gross_pnl": None}, "gross_pnl"),
    ],
)
async def test_a_closed_trade_always_has_its_pnl(repo, bot, raw_sql, changes, field):
    trade = await repo.create_trade(trade_data())
    with pytest.raises(tradedb.ValidationError) as caught:
        await repo.update_trade(trade.id, changes)
    assert caught.value.field == field
    assert await repo.get_trade_by_id(trade.id) == trade
    closed = await repo.close_trade(trade.id, exit_price="51000")
    with pytest.raises(tradedb.ValidationError) as caught:
        await repo.update_trade(trade.id, {field: None})
    assert caught.value.field == field and await repo.get_trade_by_id(trade.id) == closed
    with pytest.raises(tradedb.ValidationError) as caught:
        await repo.create_trade(trade_data(status="closed", exit_price="51000", exit_time=ENTRY_TIME, **{field: None}))
    assert caught.value.field == field
    assert raw_sql.execute("SELECT count(*) FROM trades").fetchone() == (1,)
    assert (await repo.get_bot_instance("bot-1")).total_pnl == D(100)


async def test_a_trade_of_another_type_than_its_bot_is_refused(repo, bot, raw_sql):
    with pytest.raises(tradedb.ValidationError, match="^trade_type: 'live' differs from the type of bot 'bot-1', a paper bot"):
        await repo.create_trade(trade_data(trade_type="live"))
    with pytest.raises(tradedb.ValidationError) as caught:
        await repo.create_trades([trade_data(), trade_data(), trade_data(trade_type="optimization")])
    assert caught.value.field == "trades[2].trade_type"
    assert raw_sql.execute("SELECT count(*) FROM trades").fetchone() == (0,)
    paper = await repo.create_trade(trade_data())
    await repo.create_bot_instance({"id": "live-bot", "type": "live", "current_balance": "500"})
    for changes in ({"trade_type": "live"}, {"bot_id": "live-bot"}):
        with pytest.raises(tradedb.ValidationError) as caught:
            await repo.update_trade(paper.id, changes)
        assert caught.value.field == "trade_type"
    moved = await repo.update_trade(paper.id, {"bot_id": "live-bot", "trade_type": "live"})
    assert (moved.bot_id, moved.trade_type) == ("live-bot", "live")
    closed = await repo.close_trade(paper.id, exit_price="51000")
    # A paper trade's PnL never moves a live bot's balance: only the live bot's books moved.
    assert (await repo.get_bot_instance("live-bot")).current_balance == D(500) + closed.net_pnl
    assert (await repo.get_bot_instance("bot-1")).current_balance == D(1000)


async def test_the_type_of_a_bot_with_trades_cannot_change(repo, bot):
    await repo.create_bot_instance({"id": "idle", "type": "paper"})
    assert (await repo.update_bot_instance("idle", {"type": "live"})).type == "live"
    await repo.create_trade(trade_data())
    with pytest.raises(tradedb.ValidationError) as caught:
        await repo.update_bot_instance("bot-1", {"type": "live"})
    assert caught.value.field == "type" and "has trades" in str(caught.value)
    assert (await repo.get_bot_instance("bot-1")).type == "paper"
