"""`tradedb export trades|bots|metrics`: every row as CSV, JSON lines or Parquet, streamed (Repository.iter_trades)."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from .. import BotInstance, PerformanceMetrics, Repository, Trade
from .. import parquet
from ..paths import check_destination, publish
from . import output
from .common import CliError, database_target, open_existing, require_bot

FIELDS = [field.name for field in dataclasses.fields(Trade)]
FIELDS_OF = {
    "trades": FIELDS,
    "bots": [field.name for field in dataclasses.fields(BotInstance)],
    "metrics": [field.name for field in dataclasses.fields(PerformanceMetrics)],
}
NOUN = {"trades": "trade", "bots": "bot", "metrics": "metrics row"}


def csv_value(value: Any) -> str:
    """One CSV cell: exact decimals, ISO-8601 UTC times, JSON for metadata, empty for None."""
    if value is None:
        return ""
    if isinstance(value, (Decimal, datetime)):
        return output.text(value)
    if isinstance(value, str):
        return value
    return output.json_text(value, indent=None)  # as json.dumps, and at any depth


async def write_trades(trades: AsyncIterator[Any], fmt: str, out: TextIO, progress: output.Progress,
                       what: str = "trades") -> int:
    """Write each record (a trade, a bot, a metrics row) as it arrives; the number written."""
    fields = FIELDS_OF[what]
    writer = csv.writer(out) if fmt == "csv" else None
    if writer is not None:
        writer.writerow(fields)
    written = 0
    async for record in trades:
        if writer is not None:
            writer.writerow([csv_value(getattr(record, name)) for name in fields])
        else:
            out.write(output.json_text(record, indent=None) + "\n")
        written += 1
        progress.update(f"exported {written} {what}")
    return written


async def records(repository: Repository, options: argparse.Namespace) -> AsyncIterator[Any]:
    """What `export` writes: trades streamed a page at a time; bots by id; each bot's metrics, oldest first."""
    if options.what == "trades":
        async for trade in repository.iter_trades(bot_id=options.bot, symbol=options.symbol, status=options.status):
            yield trade
        return
    bots = await repository.list_bot_instances()
    if options.bot is not None:
        bots = [bot for bot in bots if bot.id == options.bot]
    for bot in bots:
        if options.what == "bots":
            yield bot
            continue
        rows = await repository.get_performance_metrics(bot.id)
        for row in reversed(rows):  # stored newest first
            yield row


def check_options(options: argparse.Namespace) -> None:
    """Options that only make sense for some exports: refused rather than ignored."""
    if options.what != "trades" and (options.symbol is not None or options.status is not None):
        raise CliError(f"--symbol and --status filter trades; `export {options.what}` takes --bot only")
    if options.format == "parquet" and options.output is None:
        raise CliError("Parquet is a binary file: give --output FILE.parquet")


async def progress_of(rows: AsyncIterator[Any], progress: output.Progress, what: str) -> AsyncIterator[Any]:
    """`rows`, counting them on the progress line."""
    count = 0
    async for row in rows:
        count += 1
        progress.update(f"exported {count} {what}")
        yield row


def check_target(target: Path, database: Path | None, force: bool) -> Path:
    """The resolved --output to write: never the database or its files, only ever a regular file, over one only with `force`."""
    real = check_destination(target, database, field="--output", overwrite=force, if_exists="use --force to replace it")
    if not real.parent.is_dir():
        raise CliError(f"cannot write {target}: the folder {target.parent} does not exist")
    return real


async def run_export(options: argparse.Namespace) -> int:
    """Stream trades, in the order they were stored, to --output (written whole or not at all) or to stdout."""
    target = None if options.output is None else Path(options.output)
    # The SQLite file --output must never be; None for a database on a server.
    found = database_target(options)
    database = found if isinstance(found, Path) else None
    if target is not None:
        target = check_target(target, database, options.force)
    # On a terminal, progress only when the rows go to a file: on stdout it would mix with them.
    progress = output.Progress(output.interactive() and target is not None)
    check_options(options)
    if options.format == "parquet":
        parquet.pyarrow()  # before anything else: say how to install it
    async with open_existing(options) as repository:
        if options.bot is not None:
            await require_bot(repository, options.bot)
        trades = records(repository, options)
        if target is None:
            await write_trades(trades, options.format, sys.stdout, progress, options.what)
            return 0
        # A name of its own beside the target, created exclusively: it can clobber nothing.
        partial = target.with_name(f".tradedb-export-{uuid.uuid4().hex}.partial")
        try:
            if options.format == "parquet":
                partial.touch(exist_ok=False)
                written = await parquet.write_parquet(options.what, progress_of(trades, progress, options.what), partial)
            else:
                with open(partial, "x", encoding="utf-8", newline="") as out:
                    written = await write_trades(trades, options.format, out, progress, options.what)
            # Again, at the last moment: the file may have been swapped for a device or a database meanwhile.
            check_target(target, database, options.force)
            publish(partial, target, database=database, overwrite=options.force)
        finally:
            progress.clear()
            partial.unlink(missing_ok=True)
    print(f"exported {output.plural(written, NOUN[options.what])} to {options.output}", file=sys.stderr)
    return 0
