"""Parquet exports, on both backends: exact types, every value as the API returns it, flat row groups, clear refusals."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import tradedb
from tradedb import parquet

from cli_support import cli
from conftest import ENTRY_TIME, trade_data

ODD_JSON = {"ünïcode": "日本 \U0001f680", "nested": {"list": [1, 2.5, None, True, "x" * 50]}, "quote": "a\"b'c\\"}


async def edge_rows(repo: tradedb.Repository) -> None:
    """Amounts at the edges of DECIMAL(20,8) and (10,4), odd JSON, open, closed and cancelled trades, metrics."""
    await repo.create_bot_instance({"id": "edge", "type": "paper", "current_balance": "-999999999.99999999",
                                    "extra_metadata": ODD_JSON})
    await repo.create_trades([
        trade_data(bot_id="edge", entry_price="999999999999.99999999", size="0.00000001", extra_metadata=ODD_JSON),
        trade_data(bot_id="edge", entry_price="0.00000001", size="99999999999.99999999", status="closed",
                   exit_price="0.00000002", exit_time=ENTRY_TIME + timedelta(microseconds=1)),
        trade_data(bot_id="edge", entry_price="123.45678901", size="2", status="closed", exit_price="0.00000001",
                   exit_time=ENTRY_TIME + timedelta(days=400, microseconds=999999), commission="0.00000001"),
        trade_data(bot_id="edge", entry_price="1", size="1", extra_metadata=None),
    ])
    opened = await repo.create_trade(trade_data(bot_id="edge", entry_price="7", size="3"))
    await repo.cancel_trade(opened.id, reason="edge ⚠")
    await repo.calculate_performance_metrics("edge", starting_balance="1000")
    await repo.create_performance_metrics({"bot_id": "edge", "sharpe_ratio": "-999999.9999", "win_rate": "100.00",
                                           "total_trades": 2**62, "avg_win": "-999999999999.99999999"})


def same(record: Any, row: dict[str, Any], columns: dict[str, Any]) -> None:
    """Every field of the API's record equals the Parquet row's value (JSON compared as parsed)."""
    for field in dataclasses.fields(record):
        mine, theirs = getattr(record, field.name), row[field.name]
        if field.name == "extra_metadata":
            theirs = None if theirs is None else json.loads(theirs)
        if isinstance(mine, Decimal):
            assert isinstance(theirs, Decimal) and theirs == mine and str(theirs) == str(mine), field.name
        else:
            assert theirs == mine, field.name


async def test_round_trip_is_exact_for_every_value(repo: tradedb.Repository, tmp_path: Path) -> None:
    await edge_rows(repo)
    files = {what: tmp_path / f"{what}.parquet" for what in ("trades", "bots", "metrics")}
    assert await parquet.write_parquet("trades", repo.iter_trades(), files["trades"]) == 5
    assert await parquet.write_parquet("bots", await repo.list_bot_instances(), files["bots"]) == 1
    metrics = await repo.get_performance_metrics("edge")
    assert await parquet.write_parquet("metrics", metrics, files["metrics"]) == 2
    trades = {t.id: t for t in [t async for t in repo.iter_trades()]}
    table = pq.read_table(files["trades"])
    assert table.schema.field("net_pnl").type == pa.decimal128(20, 8)
    assert table.schema.field("pnl_percentage").type == pa.decimal128(10, 4)
    assert table.schema.field("exit_time").type == pa.timestamp("us", tz="UTC")
    for row in table.to_pylist():
        same(trades[row["id"]], row, tradedb.records.TRADE_COLUMNS)
    [bot_row] = pq.read_table(files["bots"]).to_pylist()
    same((await repo.list_bot_instances())[0], bot_row, tradedb.records.BOT_COLUMNS)
    metric_rows = {r["id"]: r for r in pq.read_table(files["metrics"]).to_pylist()}
    assert pq.read_table(files["metrics"]).schema.field("win_rate").type == pa.decimal128(5, 2)
    for record in metrics:
        same(record, metric_rows[record.id], tradedb.records.METRICS_COLUMNS)
    # pandas reads the same exact values (Decimal objects, aware UTC timestamps).
    frame = pd.read_parquet(files["trades"])
    assert set(frame["entry_price"]) == {t.entry_price for t in trades.values()}
    assert str(frame["exit_time"].dtype) in ("datetime64[us, UTC]", "datetime64[ns, UTC]")


async def test_row_groups_keep_memory_flat(repo: tradedb.Repository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    await repo.create_bot_instance({"id": "bot-1", "type": "paper"})
    await repo.create_trades([trade_data(entry_price=str(n + 1)) for n in range(25)])
    monkeypatch.setattr(parquet, "ROW_GROUP", 10)
    path = tmp_path / "t.parquet"
    assert await parquet.write_parquet("trades", repo.iter_trades(), path) == 25
    assert pq.ParquetFile(path).metadata.num_row_groups == 3
    assert sorted(pq.read_table(path).column("entry_price").to_pylist()) == [Decimal(n + 1) for n in range(25)]


async def test_a_computed_amount_too_wide_is_refused_by_name(repo: tradedb.Repository, tmp_path: Path) -> None:
    await repo.create_bot_instance({"id": "bot-1", "type": "paper"})
    # entry_value = price x size: tradedb computes and keeps it, past DECIMAL(20,8).
    wide = await repo.create_trade(trade_data(entry_price="999999999999", size="999999999999"))
    with pytest.raises(tradedb.TradeDBError, match=f"trades {wide.id}: entry_value = 999999999998000000000001.00000000 "
                                                   r"does not fit Parquet's decimal128\(20, 8\)"):
        await parquet.write_parquet("trades", repo.iter_trades(), tmp_path / "t.parquet")


def test_cli_exports_parquet_and_refuses_stdout(database: Any, tmp_path: Path, backend: str) -> None:
    import asyncio

    async def fill() -> None:
        async with tradedb.connect(database) as repo:
            await edge_rows(repo)

    asyncio.run(fill())
    for what, count in (("trades", "5 trades"), ("bots", "1 bot"), ("metrics", "2 metrics rows")):
        out = tmp_path / f"{what}.parquet"
        done = cli("export", what, "--format", "parquet", "-o", str(out), "--database", str(database), cwd=tmp_path)
        assert done.code == 0 and f"exported {count} to" in done.err, done.err
        assert pq.read_table(out).num_rows == int(count.split()[0])
    refused = cli("export", "trades", "--format", "parquet", "--database", str(database), cwd=tmp_path)
    assert refused.code == 1 and "give --output FILE.parquet" in refused.err
    wrong = cli("export", "bots", "--symbol", "X", "--database", str(database), cwd=tmp_path)
    assert wrong.code == 1 and "takes --bot only" in wrong.err
