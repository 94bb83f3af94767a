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

from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

import impl_sqlalchemy
from impl_sqlalchemy import SQLAlchemyORM


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
    impl_class = SQLAlchemyPG
