"""Shared fixtures: every test gets its own migrated database in a temporary folder."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

import tradedb
from cli_support import populate

ENTRY_TIME = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where this test's database lives (not yet created)."""
    return tmp_path / "trading.db"


@pytest.fixture
async def repo(db_path: Path) -> AsyncIterator[tradedb.Repository]:
    """A repository on a fresh, migrated database."""
    async with tradedb.connect(db_path) as repository:
        yield repository


@pytest.fixture
async def bot(repo: tradedb.Repository) -> tradedb.BotInstance:
    """A paper bot with a balance of 1000."""
    return await repo.create_bot_instance({"id": "bot-1", "type": "paper", "current_balance": "1000"})


@pytest.fixture
def raw(db_path: Path, repo: tradedb.Repository) -> Iterator[sqlite3.Connection]:
    """A plain sqlite3 connection to the test database, as the sqlite3 shell would have."""
    connection = sqlite3.connect(db_path, isolation_level=None)
    connection.execute("PRAGMA foreign_keys = ON")
    yield connection
    connection.close()


def trade_data(**overrides: Any) -> dict[str, Any]:
    """A valid open long trade for bot-1, changed by `overrides`."""
    data: dict[str, Any] = {
        "bot_id": "bot-1",
        "trade_type": "paper",
        "entry_logic_name": "RSIBBVolumeEntryMixin",
        "exit_logic_name": "ATRExitMixin",
        "symbol": "BTCUSDT",
        "interval": "1h",
        "direction": "long",
        "entry_time": ENTRY_TIME,
        "entry_price": "50000",
        "size": "0.1",
    }
    data.update(overrides)
    return data


# For the CLI tests (tests/test_cli*.py): a populated database, built once.


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A populated database, built once; tests that write use a copy (see `db`)."""
    path = tmp_path_factory.mktemp("sample") / "sample.db"
    asyncio.run(populate(path))
    return path


@pytest.fixture
def db(sample: Path, tmp_path: Path) -> Path:
    """This test's own copy of the sample database."""
    copy = tmp_path / "trading.db"
    shutil.copyfile(sample, copy)
    return copy


