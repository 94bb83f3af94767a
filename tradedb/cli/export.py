"""`tradedb export trades`: every trade as CSV or JSON lines, streamed a page at a time (Repository.iter_trades)."""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import os
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from .. import Trade
from . import output
from .common import CliError, database_path, open_existing, require_bot

FIELDS = [field.name for field in dataclasses.fields(Trade)]
SIDE_FILES = ("-wal", "-shm", "-journal")  # SQLite's files beside the database


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


def is_database_file(target: Path, database: Path) -> bool:
    """True when `target` is the database or one of its -wal, -shm or -journal files (through links too)."""
    for name in (database, *(database.with_name(database.name + suffix) for suffix in SIDE_FILES)):
        if os.path.realpath(target) == os.path.realpath(name):
            return True
        with contextlib.suppress(OSError):  # OSError: one of them does not exist
            if os.path.samefile(target, name):  # a hard link
                return True
    return False


def check_target(target: Path, database: Path, force: bool) -> None:
    """Refuse up front an --output that is the database (or its files), or that exists unless `force`."""
    if is_database_file(target, database):
        raise CliError(f"refusing to write over the database {database} (or its -wal/-shm files): "
                       f"choose another --output than {target}")
    if target.is_dir():
        raise CliError(f"{target} is a folder; give --output a file name")
    if not target.parent.is_dir():
        raise CliError(f"cannot write {target}: the folder {target.parent} does not exist")
    if not force and (target.exists() or target.is_symlink()):
        raise CliError(f"{target} already exists; use --force to replace it")


def publish(partial: Path, target: Path, force: bool) -> None:
    """Give the finished file its name, over an existing target only with `force` (checked atomically)."""
    if force:
        os.replace(partial, target)
        return
    try:
        os.link(partial, target)  # fails, atomically, if the target exists
    except FileExistsError:
        raise CliError(f"{target} already exists; use --force to replace it") from None
    except OSError:
        # No hard links on this file system: check, then rename.
        if target.exists() or target.is_symlink():
            raise CliError(f"{target} already exists; use --force to replace it") from None
        os.replace(partial, target)


async def run_export(options: argparse.Namespace) -> int:
    """Stream trades, in the order they were stored, to --output (written whole or not at all) or to stdout."""
    target = None if options.output is None else Path(options.output)
    if target is not None:
        check_target(target, database_path(options), options.force)
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
        partial = target.with_name(f"{target.name}.{uuid.uuid4().hex[:8]}.partial")
        try:
            with open(partial, "x", encoding="utf-8", newline="") as out:
                written = await write_trades(trades, options.format, out, progress)
            publish(partial, target, options.force)
        finally:
            progress.clear()
            partial.unlink(missing_ok=True)
    print(f"exported {output.plural(written, 'trade')} to {target}", file=sys.stderr)
    return 0
