"""`tradedb export trades`: every trade as CSV or JSON lines, streamed a page at a time (Repository.iter_trades)."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import sys
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from .. import Trade
from . import output
from .common import open_existing, require_bot

FIELDS = [field.name for field in dataclasses.fields(Trade)]


def csv_value(value: Any) -> str:
    """One CSV cell: exact decimals, ISO-8601 UTC times, JSON for metadata, empty for None."""
    if value is None:
        return ""
    if isinstance(value, (Decimal, datetime)):
        return output.text(value)
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


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


async def run_export(options: argparse.Namespace) -> int:
    """Stream trades, in the order they were stored, to --output (written whole or not at all) or to stdout."""
    # On a terminal, progress only when the rows go to a file: on stdout it would mix with them.
    progress = output.Progress(output.interactive() and options.output is not None)
    async with open_existing(options) as repository:
        if options.bot is not None:
            await require_bot(repository, options.bot)
        trades = repository.iter_trades(bot_id=options.bot, symbol=options.symbol, status=options.status)
        if options.output is None:
            await write_trades(trades, options.format, sys.stdout, progress)
            return 0
        target = Path(options.output)
        partial = target.with_name(target.name + ".partial")
        try:
            with open(partial, "w", encoding="utf-8", newline="") as out:
                written = await write_trades(trades, options.format, out, progress)
            os.replace(partial, target)
        finally:
            progress.clear()
            partial.unlink(missing_ok=True)
    print(f"exported {written} trades to {target}", file=sys.stderr)
    return 0
