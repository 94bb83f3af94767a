"""The `tradedb` command: argument parsing, logging, and turning every failure into one line on stderr."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sqlite3
import sys
import traceback
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, NoReturn

from .. import __version__
from ..errors import TradeDBError
from . import args as types
from . import output
from .commands import (
    DEFAULT_LIMIT,
    run_backup,
    run_bots,
    run_cleanup,
    run_metrics,
    run_migrate,
    run_status,
    run_summary,
    run_trades,
)
from .common import CliError, given_database, hide_urls, is_driver_error, scrub, secrets_in
from .copy import run_copy
from .demo import MAX_DEMO_BOTS, MAX_DEMO_DAYS, run_demo
from .export import run_export
from .serve import run_serve

Handler = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]

EPILOG = """\
Every subcommand takes --database PATH_OR_URL (default: $TRADEDB_DATABASE, else db/trading.db):
a SQLite file, sqlite:///path.db, or postgresql://user@host:5432/dbname (a password in it is never shown);
and --debug, before or after the subcommand (after it wins); --json likewise where a table is printed.
Dates are ISO-8601 (2024-03-01, 2024-03-01T12:00:00Z); without an offset they mean UTC.
Start with:  tradedb demo    then:  tradedb bots, tradedb trades, tradedb summary"""


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (exit status 2), as every other error is."""

    def error(self, message: str) -> NoReturn:
        """Print `prog: error: message` and a hint, then exit 2."""
        self.exit(2, f"{self.prog}: error: {tidy(hide_urls(message))} (see {self.prog} --help)\n")


# A word longer than this (a pasted value, a path) is cut in messages, so a
# 5,000-character argument gives a readable line that still says what to do.
LONGEST_WORD = 120


def tidy(message: str) -> str:
    """The message on one line, each overlong word cut short."""
    return " ".join(word if len(word) <= LONGEST_WORD else word[: LONGEST_WORD - 20] + "…" for word in message.split())


def _global_options(parser: Parser, json_output: bool, *, top: bool) -> None:
    """--database, --debug (and --json), accepted before the subcommand (`top`) and after it."""

    def default(value: object) -> object:
        # After the subcommand, SUPPRESS: an option not given there leaves what
        # was given before it alone, and one given there wins.
        return value if top else argparse.SUPPRESS

    parser.add_argument(
        "--database",
        metavar="PATH_OR_URL",
        default=default(None),
        help="database file, sqlite:///path.db or postgresql://user@host:5432/dbname "
             "(default: $TRADEDB_DATABASE, else db/trading.db)",
    )
    parser.add_argument(
        "--replica",
        metavar="URL",
        action="append",
        default=default(None),
        help="postgresql:// URL of a read replica (a streaming standby) to read from; repeat for several",
    )
    parser.add_argument("--debug", action="store_true", default=default(False), help="show tracebacks and debug logs")
    if json_output:
        parser.add_argument("--json", action="store_true", default=default(False),
                            help="print JSON (Decimals as exact strings)")


def _common(json_output: bool) -> Parser:
    parent = Parser(add_help=False)
    _global_options(parent, json_output, top=False)
    return parent


def build_parser() -> Parser:
    """The whole command line: `tradedb SUBCOMMAND [options]`."""
    parser = Parser(
        prog="tradedb",
        description="Look after a tradedb trading database: trades, bots, metrics, upkeep, and a demo.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"tradedb {__version__}")
    _global_options(parser, True, top=True)
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND", title="subcommands")
    plain, tabular = _common(False), _common(True)

    def command(name: str, handler: Handler, help: str, *, json_output: bool = True) -> Parser:
        """Add a subcommand with the common options (and --json where it prints a table)."""
        child: Parser = sub.add_parser(
            name, help=help, description=help, parents=[tabular if json_output else plain]
        )
        child.set_defaults(handler=handler, takes_json=json_output)
        return child

    p = command("migrate", run_migrate, "apply pending schema migrations (backing up a SQLite database that has data; "
                "PostgreSQL rolls a failed migration back)")
    p.add_argument("--list", action="store_true", help="only show applied and pending migrations")

    p = command("status", run_status, "health: schema version, integrity, row counts, size, stale bots")
    p.add_argument("--full", action="store_true", help="full integrity check (slower) instead of the quick one")
    p.add_argument("--stale-after", type=types.duration, default="5m", metavar="DURATION",
                   help="count running bots silent for longer than this as stale (default: 5m)")

    p = command("bots", run_bots, "each bot: type, status, balance, PnL, open trades, heartbeat age")
    p.add_argument("--stale-after", type=types.duration, default="5m", metavar="DURATION",
                   help="mark running bots silent for longer than this STALE: 90s, 5m, 2h, 3d (default: 5m)")

    p = command("trades", run_trades, "open trades (oldest first), then closed trades (newest exit first)")
    p.add_argument("--bot", metavar="ID", help="only this bot's trades")
    p.add_argument("--symbol", metavar="S", help="only this symbol, e.g. BTCUSDT")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--open", action="store_true", help="only open trades")
    which.add_argument("--closed", action="store_true", help="only closed trades")
    which.add_argument("--cancelled", action="store_true",
                       help="only cancelled trades, newest cancellation first (not listed otherwise)")
    # None: the default, so that only a list the default cut gets the "showing the first 50" notice.
    p.add_argument("--limit", type=types.count, default=None, metavar="N",
                   help=f"show at most N trades (default: {DEFAULT_LIMIT}; 0: all)")
    p.add_argument("--wide", action="store_true",
                   help="every column and whole ids, however wide (default: fit the terminal, or 120 columns)")

    p = command("summary", run_summary, "trade counts, win rate and exact PnL totals")
    p.add_argument("--bot", metavar="ID", help="only this bot")
    p.add_argument("--symbol", metavar="S", help="only this symbol")
    p.add_argument("--type", dest="trade_type", choices=("paper", "live", "optimization"), help="only this trade type")
    p.add_argument("--since", type=types.iso_date, metavar="DATE", help="trades entered at or after DATE")
    p.add_argument("--until", type=types.iso_date, metavar="DATE", help="trades entered before DATE")

    p = command("metrics", run_metrics, "compute a bot's performance metrics from its closed trades, and store them")
    p.add_argument("bot_id", metavar="BOT_ID")
    p.add_argument("--starting-balance", type=types.balance, metavar="X",
                   help="balance before the first trade (default: current balance minus total PnL)")
    p.add_argument("--type", dest="trade_type", choices=("paper", "live", "optimization"), help="only this trade type")
    p.add_argument("--since", type=types.iso_date, metavar="DATE", help="trades closed at or after DATE")
    p.add_argument("--until", type=types.iso_date, metavar="DATE", help="trades closed before DATE")
    p.add_argument("--no-store", action="store_true", help="compute and print, but do not store")

    p = command("cleanup", run_cleanup, "delete closed trades and metrics older than the retention periods")
    p.add_argument("--days", type=types.count, default=90, help="keep trades that exited in the last DAYS days (default: 90)")
    p.add_argument("--metrics-days", type=types.count, default=365, metavar="DAYS",
                   help="keep metrics calculated in the last DAYS days (default: 365)")
    p.add_argument("--dry-run", action="store_true", help="count what would be deleted, delete nothing")
    p.add_argument("--archive", metavar="PATH_OR_URL",
                   help="move them to this tradedb database (a file or postgresql:// URL; created if need be) "
                        "instead of deleting them: each batch is committed there before it is deleted here")

    p = command("copy", run_copy, "copy every bot, trade and metrics row into another database, exactly, then verify "
                "(SQLite to PostgreSQL and back, or to a new file)")
    p.add_argument("source", metavar="SOURCE", help="the database to copy: a file or postgresql:// URL (not migrated)")
    p.add_argument("dest", metavar="DEST", help="the database to copy into: a file (created if need be) or "
                   "postgresql:// URL; migrated first")
    p.add_argument("--skip-existing", action="store_true",
                   help="skip rows DEST holds already identical (to finish an interrupted copy); refuse differing ones")
    p.add_argument("--batch-size", type=types.at_most(100_000), default=10_000, metavar="N",
                   help="rows per page read from SOURCE, up to 4 MiB of text, and per transaction in DEST unless DEST "
                        "builds a table's indexes after its rows (default: 10000)")
    p.add_argument("--verify-only", action="store_true",
                   help="write nothing: compare row counts, and per bot the closed trades' net_pnl sum and books")

    p = command("backup", run_backup, "consistent online copy of the database (safe while bots write; "
                "pg_dump's custom format on PostgreSQL)")
    p.add_argument("dest", nargs="?", metavar="DEST",
                   help="file or existing folder (default: backups/ beside the database; for PostgreSQL, "
                        "backups/ in the current folder)")

    p = command("export", run_export, "stream every trade (any status), bot or metrics row as CSV, JSON lines or Parquet",
                json_output=False)
    p.add_argument("what", choices=("trades", "bots", "metrics"), metavar="trades|bots|metrics",
                   help="what to export: trades (in the order stored), bots (by id), metrics (per bot, oldest first)")
    p.add_argument("--format", choices=("csv", "jsonl", "parquet"), default="csv",
                   help="csv (default), jsonl, or parquet (exact decimal128 and UTC timestamps; needs --output and "
                        "pip install 'tradedb[parquet]')")
    p.add_argument("--bot", metavar="ID", help="only this bot's rows")
    p.add_argument("--symbol", metavar="S", help="only this symbol (trades)")
    p.add_argument("--status", choices=("open", "closed", "cancelled"), help="only trades with this status")
    p.add_argument("--output", "-o", metavar="FILE",
                   help="write to FILE (default: stdout); refused if FILE exists, unless --force")
    p.add_argument("--force", action="store_true",
                   help="replace an existing --output FILE (never the database or its -wal/-shm files)")

    p = command("serve", run_serve, "a read-only live dashboard in the browser (pip install 'tradedb[dashboard]')",
                json_output=False)
    dashboard_options(p)

    p = command("demo", run_demo, "paper bots trading simulated prices, a crash and a recovery, then metrics",
                json_output=False)
    p.add_argument("--bots", type=types.at_most(MAX_DEMO_BOTS), default=3,
                   help=f"how many bots (default: 3; at most {MAX_DEMO_BOTS})")
    p.add_argument("--days", type=types.at_most(MAX_DEMO_DAYS), default=30,
                   help=f"days of hourly candles (default: 30; at most {MAX_DEMO_DAYS})")
    p.add_argument("--seed", type=int, default=7, help="the same seed gives the same trades (default: 7)")
    p.add_argument("--serve", action="store_true",
                   help="serve the dashboard meanwhile, and trade on an accelerated clock (a simulated hour a second)")
    dashboard_options(p)
    return parser


def dashboard_options(p: Parser) -> None:
    """--host, --port and --token, for `serve` and `demo --serve`."""
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1, this machine only; any other needs a token)")
    p.add_argument("--port", type=types.port, default=8750, help="port to listen on (default: 8750; 0: any free one)")
    p.add_argument("--token", metavar="TOKEN",
                   help="require this token (at least 16 characters; default: $TRADEDB_DASHBOARD_TOKEN); "
                        "required unless --host is a loopback address")


class Scrubbed(logging.Formatter):
    """tradedb's format, with the database URL's password taken out of every line."""

    def __init__(self) -> None:
        super().__init__("tradedb: %(message)s")
        self.secrets: list[str] = []

    def format(self, record: logging.LogRecord) -> str:
        return hide_urls(scrub(super().format(record), self.secrets))


def configure_logging(debug: bool, secrets: list[str] | None = None) -> None:
    """tradedb's INFO messages (applied migrations, backups) go to stderr; SQL logs only with --debug."""
    root = logging.getLogger("tradedb")
    handler = next((h for h in root.handlers if getattr(h, "tradedb_cli", False)), None)
    if handler is None:  # main() may run twice in one process
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(Scrubbed())
        handler.tradedb_cli = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    if isinstance(handler.formatter, Scrubbed):
        handler.formatter.secrets = list(secrets or [])
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    if not debug:
        logging.getLogger("tradedb.sql").setLevel(logging.WARNING)


def one_line(error: BaseException, secrets: Sequence[str] = ()) -> str:
    """The error as one line: library errors as they read, others with their kind; never a password of `secrets`."""
    if isinstance(error, (TradeDBError, CliError)):
        message = str(error)
    elif isinstance(error, sqlite3.Error):
        message = f"SQLite: {error}"
    elif is_driver_error(error):  # tradedb translates psycopg's errors; one that slipped through still reads as one line
        message = f"PostgreSQL: {error}"
    elif isinstance(error, OSError):
        where = f": {error.filename}" if error.filename else ""
        message = f"{error.strerror or error}{where}"
    else:
        message = f"unexpected {type(error).__name__}: {error} (rerun with --debug for the traceback)"
    # Before tidy: a cut word could otherwise keep part of a password.
    return tidy(hide_urls(scrub(message, list(secrets))))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 failure, 2 usage error, 130 interrupted)."""
    try:
        try:
            return _run(argv)
        finally:
            # Output still buffered for a pipe is written here, where a reader that went away can be caught.
            sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`| head`): it has what it wanted, so stop quietly with success, and point
        # stdout at devnull so the interpreter's own flush at exit cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    options = parser.parse_args(argv)
    if options.command is None:
        # A subcommand is required: like any usage error, say so on stderr with exit status 2.
        parser.print_help(sys.stderr)
        return 2
    if options.json and not options.takes_json:
        parser.error(f"argument --json: {options.command} does not print JSON")
    since, until = getattr(options, "since", None), getattr(options, "until", None)
    if since is not None and until is not None and since > until:
        # It would match nothing: an empty answer that looks like a real one.
        parser.exit(2, f"tradedb {options.command}: error: argument --since: {output.iso_time(since)} is later than "
                       f"--until {output.iso_time(until)}; give a --since at or before --until\n")
    # A PostgreSQL URL's password: taken out of every log line and error (a library message is redacted
    # already; this catches what a driver or the OS repeats).
    secrets = secrets_in(given_database(options))
    for replica in getattr(options, "replica", None) or []:
        secrets += secrets_in(replica)
    configure_logging(options.debug, secrets)
    handler: Handler = options.handler
    try:
        return asyncio.run(handler(options))
    except KeyboardInterrupt:
        print("tradedb: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        raise  # main() handles it, --debug or not
    except Exception as error:
        if options.debug:
            if not secrets:
                raise
            print(hide_urls(scrub(traceback.format_exc(), secrets)), end="", file=sys.stderr)
            return 1
        print(f"tradedb {options.command}: error: {one_line(error, secrets)}", file=sys.stderr)
        return 1
