"""Read replicas under load: 8 reader processes on W3 and the dashboard's queries, without and with one replica.

    python bench/replicas.py [--trades 100000] [--seconds 15] [--readers 8] [--output bench/RESULTS-replicas.md]

Needs the test and bench extras (pip install -e '.[test,bench]'): the
standby is made as the replica tests make theirs (tests/replica_support.py:
pg_basebackup -R of the server, pg_ctl start on a free port; as root, run as
the cluster's owner), on the same machine. Each reader process loops for
--seconds over one read of each kind: a bot's open positions (W3), the
dashboard's overview, daily PnL, a closed-trades page and the PnL
distribution; then reports how many reads it made and how many a replica
served. The figures: reads per second in total and on the primary.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import platform
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

import tradedb  # noqa: E402

from data import bot_ids, history  # noqa: E402
from pg import Scratch, server_url  # noqa: E402

BOTS = 10


async def load(url: str, trades: int) -> None:
    async with tradedb.connect(url) as repo:
        for bot in bot_ids(BOTS):
            await repo.create_bot_instance({"id": bot, "type": "paper", "current_balance": "10000"})
        batch: list[dict[str, Any]] = []
        for trade in history(trades, bot_ids(BOTS), open_count=BOTS * 20):
            batch.append(trade)
            if len(batch) == 2000:
                await repo.create_trades(batch)
                batch.clear()
        if batch:
            await repo.create_trades(batch)


async def reader(url: str, replicas: list[str], seconds: float, seed: int) -> dict[str, Any]:
    bots = bot_ids(BOTS)
    reads = 0
    async with tradedb.connect(url, replicas=replicas, pool_size=2) as repo:
        deadline = time.monotonic() + seconds
        n = seed
        while time.monotonic() < deadline:
            bot = bots[n % len(bots)]
            n += 1
            await repo.get_open_trades(bot)
            await repo.get_bot_overview()
            await repo.get_daily_pnl()
            await repo.get_closed_trades_page(bot_id=bot, page=1 + n % 5)
            await repo.get_pnl_distribution(bot_id=bot)
            reads += 5
        served = sum(state.reads for state in getattr(repo._db, "states", []))
    return {"reads": reads, "replica_reads": served}


def reader_process(args: tuple[str, list[str], float, int]) -> dict[str, Any]:
    return asyncio.run(reader(*args))


def run_readers(url: str, replicas: list[str], readers: int, seconds: float) -> dict[str, float]:
    with multiprocessing.get_context("spawn").Pool(readers) as pool:
        started = time.monotonic()
        results = pool.map(reader_process, [(url, replicas, seconds, n) for n in range(readers)])
        elapsed = time.monotonic() - started
    total = sum(r["reads"] for r in results)
    on_replica = sum(r["replica_reads"] for r in results)
    return {"total": total / seconds, "primary": (total - on_replica) / seconds, "replica": on_replica / seconds,
            "elapsed": elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trades", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--readers", type=int, default=8)
    parser.add_argument("--output", type=Path)
    options = parser.parse_args()

    from replica_support import make_standby

    scratch = Scratch(server_url())
    version = scratch.check()
    url = scratch.new("replicas")
    try:
        print(f"loading {options.trades:,} trades into {url} ...", flush=True)
        asyncio.run(load(url, options.trades))
        standby_maker = make_standby()
        standby = next(standby_maker)
        try:
            standby.wait_for_replay()
            replica = standby.url_of(url)
            print(f"{options.readers} readers x {options.seconds:g} s, primary only ...", flush=True)
            alone = run_readers(url, [], options.readers, options.seconds)
            print(f"{options.readers} readers x {options.seconds:g} s, with one replica ...", flush=True)
            paired = run_readers(url, [replica], options.readers, options.seconds)
        finally:
            standby_maker.close()
    finally:
        scratch.drop_all()
    rows = [
        ("primary only", alone["total"], alone["primary"], 0.0),
        ("primary + 1 replica", paired["total"], paired["primary"], paired["replica"]),
    ]
    lines = [
        "# Read replicas under load",
        "",
        f"`python bench/replicas.py --trades {options.trades} --seconds {options.seconds:g} --readers {options.readers}`, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, PostgreSQL {version} and its standby on the same "
        f"machine ({platform.machine()}, {multiprocessing.cpu_count()} cores, shared), Python {platform.python_version()}.",
        "",
        f"{options.readers} reader processes, each looping over: a bot's open positions (W3), the dashboard's "
        "overview, daily PnL, a closed-trades page and the PnL distribution.",
        "",
        "| setup | reads/s in total | reads/s on the primary | reads/s on the replica |",
        "|---|---|---|---|",
        *(f"| {name} | {total:,.0f} | {primary:,.0f} | {replica:,.0f} |" for name, total, primary, replica in rows),
        "",
        f"The primary's read load fell to {paired['primary'] / alone['primary']:.2f}x of what it was without the "
        f"replica; total reads were {paired['total'] / alone['total']:.2f}x.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if options.output:
        options.output.write_text(text)
    print(json.dumps({"alone": alone, "paired": paired}))


if __name__ == "__main__":
    main()
