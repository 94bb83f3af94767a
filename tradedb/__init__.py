"""tradedb: exact, crash-safe persistence for asyncio trading bots, on SQLite.

    async with tradedb.connect("db/trading.db") as repo:
        trade = await repo.create_trade({...})
"""

from .errors import (
    ConflictError,
    DatabaseBusy,
    DatabaseDamaged,
    DiskFull,
    InvalidTransition,
    MigrationError,
    NotFoundError,
    QueryFileError,
    ServerUnreachable,
    TradeDBError,
    ValidationError,
)
from .records import BotInstance, BotState, PerformanceMetrics, Trade
from .repository import Connection, Repository, connect
from .copying import CopyMismatch, CopyReport, copy_database, verify_copy

__version__ = "0.1.0"

__all__ = [
    "BotInstance",
    "BotState",
    "ConflictError",
    "Connection",
    "CopyMismatch",
    "CopyReport",
    "DatabaseBusy",
    "DatabaseDamaged",
    "DiskFull",
    "InvalidTransition",
    "MigrationError",
    "NotFoundError",
    "PerformanceMetrics",
    "QueryFileError",
    "ServerUnreachable",
    "Repository",
    "Trade",
    "TradeDBError",
    "ValidationError",
    "connect",
    "copy_database",
    "verify_copy",
]
