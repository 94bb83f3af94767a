"""What most users would write instead, on PostgreSQL: SQLAlchemy 2 async ORM on asyncpg (postgresql+asyncpg://).

Exactly the SQLite implementation's code (impl_sqlalchemy.py): the same
models, after the original design (its columns, Numeric(20,8) / Numeric(10,4),
its four indexes plus bot_id, no CHECK constraints, no triggers), created by
metadata.create_all in a database of its own, and the same session-per-operation
methods. Only the engine differs: asyncpg, SQLAlchemy's default pool (W5: 4
connections, no overflow), no pragmas. On PostgreSQL its Numeric columns are
NUMERIC, so, unlike on SQLite, its sums are exact.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

import impl_sqlalchemy
from impl_sqlalchemy import SQLAlchemyORM, Trade

COLUMNS = tuple(column.name for column in Trade.__table__.columns)


def asyncpg_url(url: str) -> str:
    return "postgresql+asyncpg://" + url.split("://", 1)[1]


class SQLAlchemyPG(SQLAlchemyORM):
    def __init__(self, url: str, pool_size: int | None = None) -> None:  # noqa: super().__init__ is SQLite's
        options: dict[str, Any] = {"pool_size": pool_size, "max_overflow": 0} if pool_size else {}
        self.engine = create_async_engine(asyncpg_url(str(url)), **options)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    async def open(cls, url: str, pool_size: int | None = None) -> "SQLAlchemyPG":  # type: ignore[override]
        return cls(url, pool_size)


class Loader(impl_sqlalchemy.Loader):
    """Untimed setup for W3/W4/memory: COPY into SQLAlchemy's table through its own asyncpg connection.

    The rows are what the SQLite Loader's Core INSERT writes (created_at and
    updated_at being its Python-side defaults); COPY only makes loading a
    million trades take a minute rather than several. The books are set
    through the ORM, as on SQLite.
    """

    impl_class = SQLAlchemyPG

    async def add(self, chunk: list[dict[str, Any]]) -> None:
        if self.session is None:
            self.session = self.impl.sessions()
            await self.session.begin()
        stamp = datetime.now(timezone.utc)
        rows = [
            tuple(
                stamp if name in ("created_at", "updated_at")
                else json.dumps(t[name]) if name == "extra_metadata" and t.get(name) is not None
                else t.get(name)
                for name in COLUMNS
            )
            for t in chunk
        ]
        raw = await (await self.session.connection()).get_raw_connection()
        await raw.driver_connection.copy_records_to_table("trades", records=rows, columns=COLUMNS)
        for t in chunk:
            if t["status"] == "closed":
                self.books[t["bot_id"]] = self.books.get(t["bot_id"], Decimal(0)) + t["net_pnl"]
