"""Opening the database the way each subcommand needs: read what exists, or create it on purpose."""

from __future__ import annotations

import argparse
import os
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from .. import Repository, connect
from ..repository import resolve_database


class CliError(Exception):
    """A failure the command explains in one line (exit status 1)."""


def database_path(options: argparse.Namespace) -> Path:
    """The file --database (or $TRADEDB_DATABASE, or db/trading.db) names."""
    return resolve_database(options.database)


def require_file(path: Path) -> None:
    """Refuse a database that does not exist: looking must never create one."""
    if path.is_dir():
        raise CliError(f"{path} is a folder, not a database file")
    if not path.exists():
        raise CliError(f"no database at {path}; create it with `tradedb migrate` (or try `tradedb demo`)")


def require_creatable(path: Path) -> None:
    """Refuse, before anything is written, a database path whose folder cannot be written."""
    if path.is_dir():
        raise CliError(f"{path} is a folder, not a database file")
    if path.exists():
        if not os.access(path, os.R_OK | os.W_OK):
            raise CliError(f"cannot write {path}: permission denied")
        return
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise CliError(f"cannot create {path}: {ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise CliError(f"cannot create {path}: the folder {ancestor} is not writable")


@asynccontextmanager
async def opened(path: Path, *, migrate: bool) -> AsyncIterator[Repository]:
    """A repository on `path`; errors from SQLite or the file system name the file."""
    try:
        repository = await connect(path, migrate=migrate)
    except (sqlite3.Error, OSError) as error:
        # Raised before tradedb could translate it (yoyo opening the file, say).
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise CliError(f"cannot open {path}: {reason}") from error
    try:
        yield repository
    finally:
        await repository.close()


@asynccontextmanager
async def open_existing(options: argparse.Namespace) -> AsyncIterator[Repository]:
    """The existing database, at its current schema; never creates or migrates (run `tradedb migrate`)."""
    path = database_path(options)
    require_file(path)
    async with opened(path, migrate=False) as repository:
        yield repository


async def require_bot(repository: Repository, bot_id: str) -> None:
    """Refuse an unknown bot id up front, so a typo is an error rather than an empty answer."""
    if await repository.get_bot_instance(bot_id) is None:
        raise CliError(f"no bot {bot_id!r} in {repository.location}; `tradedb bots` lists them")
