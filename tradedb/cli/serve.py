"""`tradedb serve`: the live dashboard of a database, until Ctrl-C (tradedb/dashboard)."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from .. import Repository
from ..dashboard import TOKEN_VARIABLE, DashboardServer
from .common import open_existing, where, database_target


def given_token(options: argparse.Namespace) -> str | None:
    """--token, else $TRADEDB_DASHBOARD_TOKEN, else None (an empty variable counts as unset)."""
    return options.token or os.environ.get(TOKEN_VARIABLE) or None


@asynccontextmanager
async def serving(repository: Repository, options: argparse.Namespace) -> AsyncIterator[DashboardServer]:
    """The dashboard on --host/--port while the block runs; its address printed once it answers."""
    server = DashboardServer(repository, host=options.host, port=options.port, token=given_token(options))
    await server.start()
    try:
        print(f"tradedb dashboard of {where(database_target(options))} at {server.address} "
              f"(read-only{', token required' if server.token else ''}); Ctrl-C stops it", flush=True)
        yield server
    finally:
        await server.stop()


async def until_stopped() -> None:
    """Wait for Ctrl-C or SIGTERM (handled here, so that the server stops cleanly)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def run_serve(options: argparse.Namespace) -> int:
    """Serve the dashboard of an existing database (never created or migrated here) until Ctrl-C."""
    async with open_existing(options) as repository, serving(repository, options):
        await until_stopped()
    print("tradedb dashboard stopped", flush=True)
    return 0
