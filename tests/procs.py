"""Worker processes for the multi-process and crash tests (run as scripts, not collected by pytest)."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3
import sys
import time
from datetime import datetime, timezone
from decimal import Decimal

import tradedb


def trade_for(bot_id: str, rng: random.Random) -> dict[str, object]:
    return {
        "bot_id": bot_id,
        "trade_type": "paper",
        "entry_logic_name": "RSIBBVolumeEntryMixin",
        "exit_logic_name": "ATRExitMixin",
        "symbol": rng.choice(["BTCUSDT", "ETHUSDT"]),
        "interval": "1h",
        "direction": rng.choice(["long", "short"]),
        "entry_time": datetime.now(timezone.utc),
        "entry_price": Decimal(rng.randint(1, 10**10)) / 10**5,
        "size": Decimal(rng.randint(1, 10**8)) / 10**8,
        "commission": Decimal(rng.randint(0, 10**6)) / 10**8,
    }


async def lifecycles(path: str, bot_id: str, count: int, seed: int) -> None:
    """Run `count` full lifecycles (start_bot, create, heartbeat, close); print a JSON report."""
    rng = random.Random(seed)
    errors: list[str] = []
    worst = 0.0
    trade_ids = []
    async with tradedb.connect(path, busy_timeout=30) as repo:
        for _ in range(count):
            try:
                started = time.perf_counter()
                await repo.start_bot({"id": bot_id, "type": "paper"})
                trade = await repo.create_trade(trade_for(bot_id, rng))
                await repo.heartbeat(bot_id)
                async with repo.transaction():  # read then write, in one transaction
                    current = await repo.get_trade_by_id(trade.id)
                    exit_price = current.entry_price * Decimal(rng.randint(90, 110)) / 100
                    await repo.close_trade(trade.id, exit_price=exit_price, commission="0.01")
                worst = max(worst, (time.perf_counter() - started) / 4)
                trade_ids.append(trade.id)
            except Exception as error:  # counted, and the test asserts there are none
                errors.append(f"{type(error).__name__}: {error}")
    print(json.dumps({"errors": errors, "worst_seconds": worst, "trades": trade_ids}))


async def writer(path: str, bot_id: str, seed: int) -> None:
    """Write until killed: resume the bot, close what it had open, open and close more; log each commit."""
    rng = random.Random(seed)
    async with tradedb.connect(path) as repo:
        state = await repo.start_bot({"id": bot_id, "type": "paper", "current_balance": "100000"})
        for trade in state.open_trades[: len(state.open_trades) // 2]:
            await repo.close_trade(trade.id, exit_price=trade.entry_price + 1)
            print("closed", trade.id, flush=True)
        while True:
            trades = await repo.create_trades([trade_for(bot_id, rng) for _ in range(rng.randint(1, 3))])
            for trade in trades:
                print("created", trade.id, flush=True)
            if rng.random() < 0.6:
                closed = await repo.close_trade(trades[0].id, exit_price=trades[0].entry_price * 2, commission="1")
                print("closed", closed.id, flush=True)
            await repo.heartbeat(bot_id)


async def connector() -> None:
    """For each stdin line "<path> <start time>": connect at that moment, read, close; print a JSON report."""
    for line in sys.stdin:
        path, start = line.split()
        time.sleep(max(0.0, float(start) - time.time()))
        try:
            async with tradedb.connect(path) as repo:
                await repo.list_bot_instances()
            error = None
        except Exception as caught:  # reported, and the test asserts there are none
            error = f"{type(caught).__name__}: {caught}"
        print(json.dumps({"error": error}), flush=True)


def die_migrating(path: str, statements: int) -> None:
    """Connect to a new file, SIGKILLed by itself after running `statements` SQL statements of its migration on it."""
    from yoyo.migrations import MigrationStep

    executed = 0
    apply = MigrationStep.apply

    def apply_then_maybe_die(step: MigrationStep, backend: object, force: bool = False) -> None:
        nonlocal executed
        apply(step, backend, force)
        # Only statements run on the file count, not any run on an in-memory database.
        if backend.connection.execute("PRAGMA database_list").fetchone()[2]:  # type: ignore[attr-defined]
            executed += 1
            if executed >= statements:
                os.kill(os.getpid(), signal.SIGKILL)

    MigrationStep.apply = apply_then_maybe_die  # type: ignore[method-assign]
    asyncio.run(tradedb.connect(path).__aenter__())
    raise SystemExit("the migration finished before it was killed")


def die_in_first_transaction(path: str) -> None:
    """Leave a hot journal: SIGKILLed in the middle of a new file's first write transaction (rollback journal)."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA cache_size = 1")  # pages spill to the file before COMMIT, as in a big migration
    connection.execute("BEGIN IMMEDIATE")
    connection.execute("CREATE TABLE bot_instances (id TEXT PRIMARY KEY, filler TEXT)")
    connection.executemany("INSERT INTO bot_instances VALUES (?, ?)", ((str(n), "x" * 500) for n in range(2000)))
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    job, *args = sys.argv[1:]
    if job == "lifecycles":
        asyncio.run(lifecycles(args[0], args[1], int(args[2]), int(args[3])))
    elif job == "writer":
        asyncio.run(writer(args[0], args[1], int(args[2])))
    elif job == "connector":
        asyncio.run(connector())
    elif job == "die-migrating":
        die_migrating(args[0], int(args[1]))
    elif job == "die-in-first-transaction":
        die_in_first_transaction(args[0])
    else:
        raise SystemExit(f"unknown job {job!r}")
