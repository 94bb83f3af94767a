"""Run one tradedb workload alone, for a profiler; the data and calls are the benchmark's.

    py-spy record -r 250 -o w1.svg -- python bench/profile_tradedb.py w1 [N]
    python -m pyinstrument bench/profile_tradedb.py w2
    python bench/profile_tradedb.py w2 --postgresql [URL]     # on a scratch database of that server

Workloads: w1 (bulk load), w2 (create-then-close), w3 (open trades of one bot
over a loaded history), w4 (trade summary over a loaded history). tradedb runs
its SQL in worker threads (aiosqlite's, or its PostgreSQL pool's): use py-spy
(it samples every thread), or pyinstrument for the event-loop side only. On
PostgreSQL the database is created on the server (default: the benchmark's,
$TRADEDB_BENCH_POSTGRESQL_URL or postgresql://root@127.0.0.1:5432/test) and
dropped at the end.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.append(str(Path(__file__).resolve().parent.parent))

import data  # noqa: E402
import pg  # noqa: E402
from impl_tradedb import TradeDB  # noqa: E402


async def load(location: Any, trades: list[dict[str, Any]]) -> None:
    if pg.is_url(location):
        from impl_floor_pg import Loader as FloorLoaderPG

        loader = FloorLoaderPG(location)
        await loader.add(trades)
        await loader.finish()
        pg.vacuum_analyze(location)
    else:
        from impl_floor import Loader

        sqlite_loader = Loader(location)
        sqlite_loader.add(trades)
        sqlite_loader.finish()


async def main(workload: str, n: int | None, location: Any) -> None:
    bots = data.bot_ids(100)
    impl = await TradeDB.create(location, bots)
    if workload == "w1":
        trades = list(data.history(n or 100_000, bots, seed=11))
        started = time.perf_counter()
        await impl.bulk_load(trades)
    elif workload == "w2":
        pairs = data.lifecycles(n or 2_000, bots[0], seed=2)
        started = time.perf_counter()
        for trade, exit_ in pairs:
            await impl.create_trade(trade)
            await impl.close_trade(trade["id"], **exit_)
    else:
        count = n or 200_000
        await load(location, list(data.history(count, bots, open_count=count // 100, seed=3)))
        started = time.perf_counter()
        if workload == "w3":
            for i in range(2_000):
                await impl.open_trades(bots[i % 100])
        else:
            for _ in range(10):
                await impl.summary()
    print(f"{workload}: {time.perf_counter() - started:.3f} s", file=sys.stderr)
    await impl.close()


if __name__ == "__main__":
    args = sys.argv[1:]
    server = None
    if "--postgresql" in args:
        at = args.index("--postgresql")
        server = args[at + 1] if at + 1 < len(args) and pg.is_url(args[at + 1]) else pg.server_url()
        del args[at:at + (2 if at + 1 < len(args) and args[at + 1] == server else 1)]
    size = int(args[1]) if len(args) > 1 else None
    if server is None:
        work = Path(tempfile.mkdtemp(prefix="tradedb-profile-"))
        try:
            asyncio.run(main(args[0], size, work / "p.db"))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    else:
        scratch = pg.Scratch(server)
        scratch.check()
        try:
            asyncio.run(main(args[0], size, scratch.new(f"profile_{args[0]}")))
        finally:
            scratch.drop_all()
