"""Opening the database the way each subcommand needs: read what exists, or create it on purpose.

--database (or $TRADEDB_DATABASE) is a SQLite file (a path or sqlite:/// URL)
or a PostgreSQL database (a postgresql:// or postgres:// URL). A password in
such a URL is never shown: places that name the database use its location
(the URL without the password), and app.py scrubs every error line of it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sqlite3
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from .. import Repository, connect
from ..database import SchemaState
from ..errors import TradeDBError, ValidationError
from ..repository import DEFAULT_DATABASE, POSTGRESQL_SCHEMES, postgresql_backend, resolve_database


# How long the CLI's own look at a PostgreSQL server (migrate --list, status of an unmigrated database) waits.
CONNECT_TIMEOUT = 5.0


class CliError(Exception):
    """A failure the command explains in one line (exit status 1)."""


def given_database(options: argparse.Namespace) -> str:
    """What names the database: --database, else $TRADEDB_DATABASE, else db/trading.db."""
    database = getattr(options, "database", None)
    if database is None:
        database = os.environ.get("TRADEDB_DATABASE") or DEFAULT_DATABASE
    return str(database)


def given_replicas(options: argparse.Namespace) -> list[str]:
    """The --replica URLs given (none: reads go to the database itself)."""
    return list(getattr(options, "replica", None) or [])


def is_url(text: str) -> bool:
    """Whether `text` names a PostgreSQL database."""
    return text.startswith(POSTGRESQL_SCHEMES)


def database_url(options: argparse.Namespace) -> str | None:
    """The PostgreSQL URL --database (or $TRADEDB_DATABASE) gives, password and all; None for a SQLite file."""
    text = given_database(options)
    return text if is_url(text) else None


def postgresql() -> Any:
    """tradedb.postgresql, imported only for a PostgreSQL URL (psycopg is optional); TradeDBError without it."""
    return postgresql_backend()


def checked_url(url: str) -> str:
    """`url` once psycopg is there and libpq can read it (ValidationError, without the password, if not)."""
    backend = postgresql()
    try:
        urlsplit(url)  # what redacting it takes
    except ValueError as error:
        raise ValidationError(
            "database", f"{hide_urls(url)!r} is not a URL ({error}); give postgresql://user@host:5432/dbname"
        ) from None
    return str(backend.check_url(url))


def shown(url: str) -> str:
    """The URL as it may be printed: without its password."""
    return str(postgresql().redacted(url))


def secrets_in(text: str | None) -> list[str]:
    """What must never be printed of a PostgreSQL URL: its password (as written and decoded) and the URL itself.

    Plain urllib, so that it works without psycopg and on a URL libpq would refuse."""
    if not text or not is_url(text):
        return []
    found: list[str] = []
    try:
        parts = urlsplit(text)
        netloc = parts.netloc
        if "@" in netloc:
            user = netloc.rpartition("@")[0]
            if ":" in user:
                raw = user.partition(":")[2]
                found += [raw, unquote(raw)]
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            if key == "password":
                found.append(value)
        for piece in parts.query.split("&"):
            if piece.startswith("password="):
                found += [piece[len("password="):]]
    except ValueError:
        # Not even urllib can read it: show none of it.
        return [text]
    found = [secret for secret in found if secret]
    return [text, *sorted(set(found), key=len, reverse=True)] if found else []


def scrub(message: str, secrets: list[str]) -> str:
    """`message` with every secret replaced: the URL by its location, a password by ***."""
    for secret in secrets:
        if secret in message:
            replacement = "***"
            if is_url(secret):
                try:
                    replacement = shown(secret)
                except Exception:  # noqa: BLE001 - no psycopg, or libpq cannot read it: hide it whole
                    replacement = "postgresql://***"
            message = message.replace(secret, replacement)
    return message


_URL = re.compile(r"postgres(?:ql)?://[^\s'\"]*")


def hide_urls(text: str) -> str:
    """`text` with the password of every PostgreSQL URL in it replaced by *** (a URL given where none was expected)."""

    def hidden(match: re.Match[str]) -> str:
        url = match[0]
        secrets = secrets_in(url)
        if secrets == [url]:  # not even urllib can read it
            return url.partition("://")[0] + "://***"
        for secret in secrets[1:]:
            url = url.replace(secret, "***")
        return url

    return _URL.sub(hidden, text)


def database_path(options: argparse.Namespace) -> Path:
    """The file --database (or $TRADEDB_DATABASE, or db/trading.db) names (SQLite only)."""
    return resolve_database(options.database)


def database_target(options: argparse.Namespace) -> Path | str:
    """The SQLite file, or the PostgreSQL URL (with any password: print `where(target)`, never the URL)."""
    url = database_url(options)
    if url is not None:
        return checked_url(url)
    return database_path(options)


def where(target: Path | str) -> str:
    """The database as it may be printed: a file's path, or a URL without its password."""
    return shown(target) if isinstance(target, str) else str(target)


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


def is_driver_error(error: BaseException) -> bool:
    """Whether `error` is psycopg's (looked up only if psycopg was imported: it is optional)."""
    psycopg = sys.modules.get("psycopg")
    return psycopg is not None and isinstance(error, psycopg.Error)


def driver_error(error: BaseException, url: str) -> TradeDBError:
    """A psycopg error tradedb did not translate, as tradedb's error (never with the password)."""
    return postgresql().translate(error, url, CONNECT_TIMEOUT)  # type: ignore[no-any-return]


@asynccontextmanager
async def opened(target: Path | str, *, migrate: bool, replicas: Sequence[str] = ()) -> AsyncIterator[Repository]:
    """A repository on `target` (a file or a URL, with its read replicas); errors from SQLite, psycopg or the file
    system name the database."""
    try:
        repository = await connect(target, migrate=migrate, replicas=list(replicas))
    except (sqlite3.Error, OSError) as error:
        # Raised before tradedb could translate it (yoyo opening the file, say).
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise CliError(f"cannot open {where(target)}: {reason}") from error
    except Exception as error:
        if isinstance(target, str) and is_driver_error(error):
            raise driver_error(error, target) from None
        raise
    try:
        yield repository
    finally:
        await repository.close()


@asynccontextmanager
async def open_existing(options: argparse.Namespace) -> AsyncIterator[Repository]:
    """The existing database, at its current schema; never creates or migrates (run `tradedb migrate`)."""
    target = database_target(options)
    if isinstance(target, Path):
        require_file(target)
    async with opened(target, migrate=False, replicas=given_replicas(options)) as repository:
        yield repository


def _server_schema_state(url: str) -> SchemaState:
    backend = postgresql()
    import psycopg

    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=int(CONNECT_TIMEOUT),
                             fallback_application_name="tradedb") as connection:
            return backend.state_of(backend.applied_ids(connection))  # type: ignore[no-any-return]
    except psycopg.Error as error:
        raise driver_error(error, url) from None


async def server_schema_state(url: str) -> SchemaState:
    """The migrations the PostgreSQL database at `url` has applied, lacks, and has from a newer tradedb."""
    return await asyncio.to_thread(_server_schema_state, url)


async def require_bot(repository: Repository, bot_id: str) -> None:
    """Refuse an unknown bot id up front, so a typo is an error rather than an empty answer."""
    if await repository.get_bot_instance(bot_id) is None:
        raise CliError(f"no bot {bot_id!r} in {repository.location}; `tradedb bots` lists them")
