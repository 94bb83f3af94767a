"""`tradedb export trades`: every trade as CSV or JSON lines, streamed a page at a time (Repository.iter_trades)."""

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

from .. import Trade
from ..paths import check_destination, publish
from . import output
from .common import CliError, database_target, open_existing, require_bot

FIELDS = [field.name for field in dataclasses.fields(Trade)]


def csv_value(value: Any) -> str:
    """One CSV cell: exact decimals, ISO-8601 UTC times, JSON for metadata, empty for None."""
    if value is None:
        return ""
    if isinstance(value, (Decimal, datetime)):
        return output.text(value)
    if isinstance(value, str):
        return value
    return output.json_text(value, indent=None)  # as json.dumps, and at any depth


async def write_trades(trades: AsyncIterator[Trade], fmt: str, out: TextIO, progress: output.Progress) -> int:
    """Write each trade as it arrives; the number written."""
    writer = csv.writer(out) if fmt == "csv" else None
    if writer is not None:
        writer.writerow(FIELDS)
    written = 0
    async for trade in trades:
        if writer is not None:
            writer.writerow([csv_value(getattr(trade, name)) for name in FIELDS])
        else:
            out.write(output.json_text(trade, indent=None) + "\n")
        written += 1
        progress.update(f"exported {written} trades")
    return written


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
    async with open_existing(options) as repository:
        if options.bot is not None:
            await require_bot(repository, options.bot)
        trades = repository.iter_trades(bot_id=options.bot, symbol=options.symbol, status=options.status)
        if target is None:
            await write_trades(trades, options.format, sys.stdout, progress)
            return 0
        # A name of its own beside the target, created exclusively: it can clobber nothing.
        partial = target.with_name(f".tradedb-export-{uuid.uuid4().hex}.partial")
        try:
            with open(partial, "x", encoding="utf-8", newline="") as out:
                written = await write_trades(trades, options.format, out, progress)
            # Again, at the last moment: the file may have been swapped for a device or a database meanwhile.
            check_target(target, database, options.force)
            publish(partial, target, database=database, overwrite=options.force)
        finally:
            progress.clear()
            partial.unlink(missing_ok=True)
    print(f"exported {output.plural(written, 'trade')} to {options.output}", file=sys.stderr)
    return 0
