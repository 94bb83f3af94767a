"""Parquet files of trades, bots and metrics with exact types, written a row group at a time (pip install 'tradedb[parquet]').

Each column's Arrow type follows its tradedb kind: DECIMAL(p,s) amounts are
decimal128(p,s) (exact: pandas reads them as Decimal objects, polars and
DuckDB as their decimal types), times are timestamp[us, tz=UTC], counts
int64, JSON is its text. Rows are gathered ROW_GROUP at a time and written
as one row group, so memory stays flat however many rows there are.

An amount tradedb computed (a value, a PnL, a commission) can outgrow its
column's precision: such a row is refused by name (export it as CSV or JSON
lines, which have no limit), never rounded or cut.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

from .errors import TradeDBError
from .records import BOT_COLUMNS, METRICS_COLUMNS, TRADE_COLUMNS, BotInstance, PerformanceMetrics, Trade
from .values import CountKind, DecimalKind, JsonKind, TimeKind

ROW_GROUP = 65_536
RECORDS: dict[str, tuple[type[Any], dict[str, Any]]] = {
    "trades": (Trade, TRADE_COLUMNS),
    "bots": (BotInstance, BOT_COLUMNS),
    "metrics": (PerformanceMetrics, METRICS_COLUMNS),
}


def pyarrow() -> Any:
    """The pyarrow module, or a TradeDBError saying how to install it."""
    try:
        import pyarrow as pa
        import pyarrow.parquet  # noqa: F401 (the writer lives in this submodule)
    except ImportError:
        raise TradeDBError("Parquet needs pyarrow: pip install 'tradedb[parquet]'") from None
    return pa


def arrow_type(kind: Any) -> Any:
    """The Arrow type that holds a column of this tradedb kind exactly."""
    pa = pyarrow()
    if isinstance(kind, DecimalKind):
        return pa.decimal128(kind.precision, kind.scale)
    if isinstance(kind, TimeKind):
        return pa.timestamp("us", tz="UTC")
    if isinstance(kind, CountKind):
        return pa.int64()
    return pa.string()  # text, ids, choices, and JSON as its text


def schema(what: str) -> Any:
    """The Arrow schema of a Parquet file of `what` (trades, bots or metrics), in the record's field order."""
    pa = pyarrow()
    record, columns = RECORDS[what]
    fields = []
    for field in dataclasses.fields(record):
        fields.append(pa.field(field.name, arrow_type(columns.get(field.name))))
    return pa.schema(fields, metadata={b"tradedb.what": what.encode()})


def _cell(kind: Any, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(kind, JsonKind):
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    return value


def _batch(what: str, arrow_schema: Any, rows: list[Any]) -> Any:
    """One record batch of `rows`; an amount too wide for its column is refused naming the row and column."""
    pa = pyarrow()
    _, columns = RECORDS[what]
    arrays = []
    for field in arrow_schema:
        kind = columns.get(field.name)
        values = [_cell(kind, getattr(row, field.name)) for row in rows]
        try:
            arrays.append(pa.array(values, type=field.type))
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as error:
            raise _too_wide(what, field, rows, values, error) from None
    return pa.RecordBatch.from_arrays(arrays, schema=arrow_schema)


def _too_wide(what: str, field: Any, rows: list[Any], values: list[Any], error: Exception) -> TradeDBError:
    pa = pyarrow()
    for row, value in zip(rows, values):
        try:
            pa.array([value], type=field.type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            return TradeDBError(
                f"{what} {getattr(row, 'id', '?')}: {field.name} = {value} does not fit Parquet's {field.type}; "
                "nothing was written: export it as CSV or JSON lines, which keep any size"
            )
    return TradeDBError(f"{what}: column {field.name} cannot be written as {field.type} ({error})")


async def write_parquet(what: str, records: AsyncIterator[Any] | Iterable[Any], path: Path) -> int:
    """Write every record to a new Parquet file at `path` (which must not exist), a row group at a time; the count."""
    pa = pyarrow()
    import pyarrow.parquet as pq

    arrow_schema = schema(what)
    written = 0
    with pq.ParquetWriter(str(path), arrow_schema, compression="zstd") as writer:
        rows: list[Any] = []

        def flush() -> None:
            nonlocal written
            if rows:
                writer.write_batch(_batch(what, arrow_schema, rows), row_group_size=ROW_GROUP)
                written += len(rows)
                rows.clear()

        if isinstance(records, AsyncIterator):
            async for record in records:
                rows.append(record)
                if len(rows) >= ROW_GROUP:
                    flush()
        else:
            for record in records:
                rows.append(record)
                if len(rows) >= ROW_GROUP:
                    flush()
        flush()
    del pa
    return written
