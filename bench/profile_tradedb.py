"""Run one tradedb workload alone, for a profiler; the data and calls are the benchmark's.

    py-spy record -r 250 -o w1.svg -- python bench/profile_tradedb.py w1 [N]
    python -m pyinstrument bench/profile_tradedb.py w2

Workloads: w1 (bulk load), w2 (create-then-close), w3 (open trades of one bot
over a loaded history), w4 (trade summary over a loaded history). tradedb runs
its SQL in aiosqlite's thread: use py-spy (it samples every thread), or
pyinstrument for the event-loop side only.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent.parent))

import data  # noqa: E402
from impl_floor import Loader  # noqa: E402
from impl_tradedb import TradeDB  # noqa: E402


async def main(workload: str, n: int | None) -> None:
    work = Path(tempfile.mkdtemp(prefix="tradedb-profile-"))
    bots = data.bot_ids(100)
    try:
        impl = await TradeDB.create(work / "p.db", bots)
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
            loader = Loader(work / "p.db")
            loader.add(list(data.history(count, bots, open_count=count // 100, seed=3)))
            loader.finish()
            started = time.perf_counter()
            if workload == "w3":
                for i in range(2_000):
                    await impl.open_trades(bots[i % 100])
            else:
                for _ in range(10):
                    await impl.summary()
        print(f"{workload}: {time.perf_counter() - started:.3f} s", file=sys.stderr)
        await impl.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else None))
