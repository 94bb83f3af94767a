"""tradedb benchmark: the same workloads through tradedb, the stdlib floor and SQLAlchemy, side by side.

    python bench/run.py [--scale small|full] [--reps N] [--output bench/RESULTS.md]

Needs the bench extra (pip install -e '.[bench]'). Works in a temporary
folder, never in db/. Writes the report to bench/RESULTS.md; see
bench/README.md for what each workload does and what the targets mean.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import inspect
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # a clean clone without an install still finds tradedb

import data  # noqa: E402

# The implementations are imported when first used, so that a worker process loads only its own.

SCALES = {
    # small: the same workloads, scaled down to finish in under 2 minutes here
    "small": dict(w1=5_000, w2=200, w3=50_000, w3_base=10_000, w3_queries=500, w5_procs=8, w5_cycles=20, reps=3),
    "full": dict(w1=100_000, w2=2_000, w3=1_000_000, w3_base=10_000, w3_queries=1_000, w5_procs=8, w5_cycles=300, reps=3),
}
BOTS = data.bot_ids(100)
NAMES = ("floor", "tradedb", "sqlalchemy")
LABEL = {"floor": "floor (sqlite3)", "tradedb": "tradedb", "sqlalchemy": "SQLAlchemy ORM"}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def maybe(result: Any) -> Any:
    return await result if inspect.isawaitable(result) else result


def implementation(name: str) -> Any:
    if name == "floor":
        from impl_floor import Floor

        return Floor
    if name == "tradedb":
        from impl_tradedb import TradeDB

        return TradeDB
    from impl_sqlalchemy import SQLAlchemyORM

    return SQLAlchemyORM


async def create(name: str, path: Path, bots: list[str]) -> Any:
    """A new database with the implementation's schema and these bots (untimed setup)."""
    return await maybe(implementation(name).create(path, bots))


async def open_impl(name: str, path: Path) -> Any:
    return await maybe(implementation(name).open(path))


async def prepare(name: str, path: Path) -> None:
    """A new, empty database with the implementation's schema."""
    impl = await create(name, path, [])
    await maybe(impl.close())


def order(rep: int) -> list[str]:
    """Rotate who goes first each repetition, so drift on a noisy machine does not favour one."""
    return [NAMES[(rep + i) % 3] for i in range(3)]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def median(values: list[float]) -> float:
    return statistics.median(values)


class Bench:
    def __init__(self, scale: str, reps: int, work: Path) -> None:
        self.scale = scale
        self.cfg = dict(SCALES[scale])
        self.reps = reps
        self.work = work
        self.results: dict[str, Any] = {}
        self.checks: list[tuple[str, bool, str]] = []
        self.notes: list[str] = []
        self.commit = commit()

    def check(self, what: str, ok: bool, detail: str = "") -> None:
        self.checks.append((what, ok, detail))
        log(f"check {'ok  ' if ok else 'FAIL'} {what} {detail}")

    def fresh(self, label: str) -> Path:
        folder = Path(tempfile.mkdtemp(prefix=f"{label}-", dir=self.work))
        return folder / "bench.db"

    # W1 -------------------------------------------------------------------
    async def w1(self) -> None:
        n = self.cfg["w1"]
        log(f"W1 bulk load: {n} closed trades, every column filled, one call")
        trades = list(data.history(n, BOTS, seed=11))
        expected = sorted(data.normalize(t) for t in trades)
        totals = data.Totals()
        for t in trades:
            totals.add(t)
        times: dict[str, list[float]] = {name: [] for name in NAMES}
        for rep in range(self.reps):
            for name in order(rep):
                impl = await create(name, self.fresh(f"w1-{name}"), BOTS)
                gc.collect()
                started = time.perf_counter()
                await maybe(impl.bulk_load(trades))
                times[name].append(time.perf_counter() - started)
                if rep == self.reps - 1:
                    got = [data.normalize(row) for row in await maybe(impl.all_trades())]
                    problem = data.compare_rows(expected, got)
                    self.check(f"W1 {name}: the {n} rows as given", problem is None, problem or "")
                    books = await maybe(impl.bot_books())
                    bad = [b for b in BOTS if Decimal(books[b]) != totals.by_bot.get(b, 0)]
                    self.check(f"W1 {name}: each bot's total_pnl is the exact sum of its trades", not bad,
                               f"{len(bad)} bots differ, e.g. {bad[0]}: {books[bad[0]]} != {totals.by_bot[bad[0]]}" if bad else "")
                await maybe(impl.close())
                log(f"  {name} rep {rep + 1}: {times[name][-1]:.3f} s")
        self.results["w1"] = {"n": n, "times": times}

    # W2 -------------------------------------------------------------------
    async def w2(self) -> None:
        n = self.cfg["w2"]
        log(f"W2 lifecycle: {n} sequential create-then-close, each call its own transaction")
        pairs = data.lifecycles(n, "w2_bot", seed=2)
        expected = []
        for trade, exit_ in pairs:
            closed = data.settle(trade, exit_)
            closed["sell_order_created"] = closed["sell_order_closed"] = None
            expected.append(data.normalize(closed))
        expected_books = sum((data.settle(t, e)["net_pnl"] for t, e in pairs), Decimal(0))
        figures: dict[str, list[dict[str, float]]] = {name: [] for name in NAMES}
        batch = 50
        for rep in range(self.reps):
            # Each implementation works on its own file, in turns of 50 lifecycles, so that the
            # machine's slow moments fall on all three alike.
            impls = {name: await create(name, self.fresh(f"w2-{name}"), ["w2_bot"]) for name in NAMES}
            latencies: dict[str, list[float]] = {name: [] for name in NAMES}
            for turn, first in enumerate(range(0, n, batch)):
                for name in order(rep + turn):
                    impl, lat = impls[name], latencies[name]
                    gc.collect()
                    for trade, exit_ in pairs[first:first + batch]:
                        t0 = time.perf_counter()
                        await maybe(impl.create_trade(trade))
                        t1 = time.perf_counter()
                        await maybe(impl.close_trade(trade["id"], exit_["exit_price"], exit_["exit_time"],
                                                     exit_["commission"], exit_["exit_reason"]))
                        lat += [t1 - t0, time.perf_counter() - t1]
            for name in NAMES:
                lat = latencies[name]
                total = sum(lat)
                figures[name].append({"total": total, "ops": len(lat) / total, "p50": pct(lat, 0.5),
                                      "p99": pct(lat, 0.99)})
                log(f"  {name} rep {rep + 1}: {total:.3f} s, {len(lat) / total:.0f} calls/s")
                impl = impls[name]
                if rep == self.reps - 1:
                    got = [data.normalize(row) for row in await maybe(impl.all_trades())]
                    problem = data.compare_rows(expected, got)
                    self.check(f"W2 {name}: {n} trades created and closed with the same values", problem is None,
                               problem or "")
                    books = await maybe(impl.bot_books())
                    self.check(f"W2 {name}: the bot's total_pnl is the exact sum", Decimal(books["w2_bot"]) == expected_books,
                               f"{books['w2_bot']} vs {expected_books}")
                await maybe(impl.close())
        self.results["w2"] = {"n": n, "figures": figures}

    # W3 / W4 / memory data ------------------------------------------------------
    async def load_history(self) -> None:
        big, base = self.cfg["w3"], self.cfg["w3_base"]
        open_count = big // 100
        log(f"Loading {big} trades over {len(BOTS)} bots, 1% open (untimed setup), and a {base}-trade copy with the same open trades")
        self.totals_big, self.totals_base = data.Totals(), data.Totals()
        self.open_by_bot: dict[str, list[tuple[Any, ...]]] = {}
        base_closed = max(0, base - open_count)
        base_rows: list[dict[str, Any]] = []
        files: dict[str, dict[str, Path]] = {"big": {}, "base": {}}
        for size in ("big", "base"):
            for name in ("tradedb", "sqlalchemy"):
                path = self.fresh(f"history-{size}-{name}")
                impl = await create(name, path, BOTS)
                await impl.close()
                files[size][name] = path
        self.files = files
        started = time.perf_counter()
        from impl_floor import Loader as FloorLoader
        from impl_sqlalchemy import Loader as SQLAlchemyLoader

        floor_big, orm_big = FloorLoader(files["big"]["tradedb"]), SQLAlchemyLoader(files["big"]["sqlalchemy"])
        stream = data.history(big, BOTS, open_count=open_count, seed=3)
        while True:
            chunk = [t for _, t in zip(range(20_000), stream)]
            if not chunk:
                break
            for t in chunk:
                self.totals_big.add(t)
                if t["status"] == "open":
                    base_rows.append(t)
                    self.open_by_bot.setdefault(t["bot_id"], []).append(data.normalize(t))
                elif len(base_rows) < base_closed:
                    base_rows.append(t)
            floor_big.add(chunk)
            await orm_big.add(chunk)
        floor_big.finish()
        await orm_big.finish()
        log(f"  loaded both files in {time.perf_counter() - started:.1f} s")
        for t in base_rows:
            self.totals_base.add(t)
        floor_base, orm_base = FloorLoader(files["base"]["tradedb"]), SQLAlchemyLoader(files["base"]["sqlalchemy"])
        floor_base.add(base_rows)
        await orm_base.add(base_rows)
        floor_base.finish()
        await orm_base.finish()
        self.base_count = len(base_rows)

    def path_for(self, name: str, size: str) -> Path:
        return self.files[size]["sqlalchemy" if name == "sqlalchemy" else "tradedb"]

    # W3 -------------------------------------------------------------------
    async def w3(self) -> None:
        queries = self.cfg["w3_queries"]
        log(f"W3 open positions of one bot: {queries} queries, at {self.base_count} and {self.cfg['w3']} trades")
        rng = random.Random(5)
        bots = [rng.choice(BOTS) for _ in range(queries)]
        budget = 4.0  # seconds per implementation, size and repetition: SQLAlchemy stops early at 1M trades
        sizes = ("base", "big")
        out: dict[str, dict[str, list[dict[str, float]]]] = {size: {name: [] for name in NAMES} for size in sizes}
        impls = {size: {name: await open_impl(name, self.path_for(name, size)) for name in NAMES} for size in sizes}
        for size in sizes:
            for name, impl in impls[size].items():
                for bot in BOTS[:10]:  # warm the page cache and the statement caches
                    await maybe(impl.open_trades(bot))
                for bot in bots[:3]:
                    got = [data.normalize(row if not isinstance(row, tuple) else dict(zip(FLOOR_COLUMNS, row)))
                           for row in await maybe(impl.open_trades(bot))]
                    problem = data.compare_rows(self.open_by_bot[bot], got)
                    if problem is None and [r[0] for r in got] != [r[0] for r in sorted(self.open_by_bot[bot], key=lambda r: r[8])]:
                        problem = "not oldest entry first"
                    self.check(f"W3 {name} at {size}: {bot}'s open trades", problem is None, problem or "")
        for rep in range(self.reps):
            latencies = {size: {name: [] for name in NAMES} for size in sizes}
            # In turns, as in W2, and both sizes within each turn: a slow moment of
            # the machine falls on every implementation and on both sizes alike.
            for turn, first in enumerate(range(0, queries, 25)):
                for size in (sizes if turn % 2 == 0 else sizes[::-1]):
                    for name in order(rep + turn):
                        lat = latencies[size][name]
                        if sum(lat) > budget:
                            continue
                        for bot in bots[first:first + 25]:
                            t0 = time.perf_counter()
                            await maybe(impls[size][name].open_trades(bot))
                            lat.append(time.perf_counter() - t0)
            for size in sizes:
                for name in NAMES:
                    lat = latencies[size][name]
                    out[size][name].append({"p50": pct(lat, 0.5), "p99": pct(lat, 0.99), "queries": len(lat)})
                    log(f"  {size} {name} rep {rep + 1}: p50 {pct(lat, 0.5) * 1000:.3f} ms over {len(lat)} queries")
        for by_name in impls.values():
            for impl in by_name.values():
                await maybe(impl.close())
        self.results["w3"] = {"base": self.base_count, "big": self.cfg["w3"], "figures": out,
                              "open_per_bot": self.cfg["w3"] // 100 // len(BOTS)}

    # W4 -------------------------------------------------------------------
    async def w4(self) -> None:
        log(f"W4 trade summary over {self.cfg['w3']} trades")
        expected = self.totals_big.summary()
        variants = {"floor": "summary_float", "floor_exact": "summary_exact", "tradedb": "summary",
                    "sqlalchemy": "summary"}
        impls = {name: await open_impl(name, self.path_for(name, "big")) for name in NAMES}
        if not impls["tradedb"].has_summary():
            self.notes.append("W4: tradedb has no get_trade_summary yet (issue 4); its W4 figures are missing.")
            del variants["tradedb"]
        times: dict[str, list[float]] = {v: [] for v in variants}
        outcome: dict[str, tuple[bool, str]] = {}
        for variant, method in variants.items():  # warm-up, and the check
            impl = impls["floor" if variant.startswith("floor") else variant]
            outcome[variant] = data.compare_summary(expected, await maybe(getattr(impl, method)()))
        for rep in range(self.reps):
            for name in order(rep):
                for variant, method in variants.items():
                    if variant.split("_")[0] != name:
                        continue
                    gc.collect()
                    started = time.perf_counter()
                    await maybe(getattr(impls[name], method)())
                    times[variant].append(time.perf_counter() - started)
        for variant in variants:
            exact, detail = outcome[variant]
            if variant in ("tradedb", "floor_exact"):
                self.check(f"W4 {variant}: exact totals", exact, detail)
            else:
                counts = ("total_trades", "open_trades", "closed_trades", "cancelled_trades", "winning_trades",
                          "losing_trades", "first_entry_time", "last_exit_time")
                counts_ok = exact or not any(p.split(" ")[0] in counts for p in detail.split("; "))
                self.check(f"W4 {variant}: counts right (float sums reported, not required exact)", counts_ok,
                           detail)
            log(f"  {variant}: {median(times[variant]) * 1000:.1f} ms ({detail})")
        for impl in impls.values():
            await maybe(impl.close())
        self.results["w4"] = {"n": self.cfg["w3"], "times": times, "exact": {v: o[0] for v, o in outcome.items()},
                              "detail": {v: o[1] for v, o in outcome.items()}}

    # Memory ---------------------------------------------------------------
    def memory(self) -> None:
        log("Memory: peak RSS while iterating every trade, at both sizes (one process each)")
        out: dict[str, dict[str, Any]] = {}
        expected = {"base": self.totals_base, "big": self.totals_big}
        for size in ("base", "big"):
            out[size] = {}
            for name in NAMES:
                result = worker("mem", name, self.path_for(name, size))
                out[size][name] = result
                want = expected[size]
                ok = result["count"] == sum(want.counts.values()) and Decimal(result["total"]) == want.net
                self.check(f"Memory {name} at {size}: every trade seen, exact net total", ok,
                           f"{result['count']} trades, total {result['total']}")
                log(f"  {size} {name}: +{result['growth_mb']:.1f} MB peak RSS, {result['seconds']:.1f} s "
                    f"({result['how']})")
        self.results["memory"] = out

    # W5 -------------------------------------------------------------------
    def w5(self) -> None:
        procs, cycles = self.cfg["w5_procs"], self.cfg["w5_cycles"]
        reps = self.reps
        log(f"W5 many processes: {procs} processes x {cycles} lifecycles on one file, {reps} repetitions")
        out: dict[str, list[dict[str, Any]]] = {name: [] for name in NAMES}
        # One file per implementation and repetition. The workers are started once, for all
        # repetitions (so process start-up is paid once), and wait for the word to go.
        paths = {name: [self.fresh(f"w5-{name}") for _ in range(reps)] for name in NAMES}
        for name in NAMES:
            for path in paths[name]:
                asyncio.run(prepare(name, path))
        children = {
            name: [
                subprocess.Popen(
                    [sys.executable, str(Path(__file__).resolve()), "--worker", "w5", "--impl", name, "--proc", str(p),
                     "--cycles", str(cycles), *(arg for path in paths[name] for arg in ("--path", str(path)))],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                )
                for p in range(procs)
            ]
            for name in NAMES
        }
        try:
            for rep in range(reps):
                for name in NAMES:  # every worker has started up and connected to this repetition's file
                    for child in children[name]:
                        line = child.stdout.readline().strip()  # type: ignore[union-attr]
                        if line != "ready":
                            raise RuntimeError(f"W5 {name} worker failed before starting: {line!r}")
                for name in order(rep):
                    group = children[name]
                    started = time.time()
                    for child in group:
                        child.stdin.write("go\n")  # type: ignore[union-attr]
                        child.stdin.flush()  # type: ignore[union-attr]
                    reports = [json.loads(child.stdout.readline()) for child in group]  # type: ignore[union-attr]
                    wall = max(r["ended"] for r in reports) - started
                    errors = sum(r["errors"] for r in reports)
                    worst = max(reports, key=lambda r: r["worst"])
                    samples = [m for r in reports for m in r["messages"]][:3]
                    latencies = [x for r in reports for x in r.pop("latencies")]
                    out[name].append({"wall": wall, "errors": errors, "worst": worst["worst"],
                                      "worst_op": worst["worst_op"], "samples": samples,
                                      "p50": pct(latencies, 0.5), "p99": pct(latencies, 0.99),
                                      "over_1s": sum(x >= 1.0 for x in latencies), "ops": len(latencies)})
                    log(f"  {name} rep {rep + 1}: wall {wall:.2f} s, {errors} errors, p99 op "
                        f"{pct(latencies, 0.99) * 1000:.1f} ms, worst op {worst['worst'] * 1000:.0f} ms "
                        f"({worst['worst_op']}), {out[name][-1]['over_1s']} of {len(latencies)} ops over 1 s")
        finally:
            for group in children.values():
                for child in group:
                    child.stdin.close()  # type: ignore[union-attr]
                    child.wait()
        for name in NAMES:
            self.w5_check(name, paths[name][-1], procs, cycles)
        self.results["w5"] = {"procs": procs, "cycles": cycles, "figures": out}

    def w5_check(self, name: str, path: Path, procs: int, cycles: int) -> None:
        expected, books = [], {}
        for p in range(procs):
            bot = f"w5_bot_{p}"
            books[bot] = Decimal(0)
            for trade, exit_ in data.lifecycles(cycles, bot, seed=100 + p):
                closed = data.settle(trade, exit_)
                closed["sell_order_created"] = closed["sell_order_closed"] = None
                expected.append(data.normalize(closed))
                books[bot] += closed["net_pnl"]

        async def read() -> tuple[list[Any], dict[str, Decimal]]:
            impl = await open_impl(name, path)
            try:
                return [data.normalize(r) for r in await maybe(impl.all_trades())], await maybe(impl.bot_books())
            finally:
                await maybe(impl.close())

        got, got_books = asyncio.run(read())
        problem = data.compare_rows(expected, got)
        self.check(f"W5 {name}: every trade present and closed with the right values", problem is None, problem or "")
        bad = [b for b in books if Decimal(got_books.get(b, "NaN")) != books[b]]
        self.check(f"W5 {name}: each bot's total_pnl is the exact sum of its trades", not bad,
                   f"{bad[0]}: {got_books.get(bad[0])} != {books[bad[0]]}" if bad else "")


FLOOR_COLUMNS = (*data.TRADE_COLUMNS, "created_at", "updated_at")


def worker(kind: str, name: str, path: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--worker", kind, "--impl", name, "--path", str(path)],
        stdout=subprocess.PIPE, text=True, check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def rss_mb(field: str = "VmRSS") -> float:
    """Resident memory now (VmRSS) or its peak (VmHWM) of this process, in MB.

    VmHWM, not getrusage's ru_maxrss: on Linux a child inherits its parent's
    ru_maxrss across exec, so that would report the parent's peak.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


async def mem_worker(name: str, path: Path) -> dict[str, Any]:
    impl = await open_impl(name, path)
    how = {"floor": "cursor iteration", "sqlalchemy": "stream_scalars, yield_per=1000"}.get(name)
    if name == "tradedb":
        stream = impl.has_stream()
        how = f"{stream}()" if stream else "no streaming API: get_closed_trades() + get_open_trades() lists"
    gc.collect()
    baseline = rss_mb()
    started = time.perf_counter()
    count, total = await maybe(impl.export())
    seconds = time.perf_counter() - started
    peak = rss_mb("VmHWM")
    await maybe(impl.close())
    return {"count": count, "total": str(total), "baseline_mb": baseline, "peak_mb": peak,
            "growth_mb": peak - baseline, "seconds": seconds, "how": how}


async def w5_worker(name: str, paths: list[Path], proc: int, cycles: int) -> None:
    """One bot's process: for each file (one per repetition), wait for go, run the lifecycles, report a JSON line."""
    bot = f"w5_bot_{proc}"
    pairs = data.lifecycles(cycles, bot, seed=100 + proc)
    for path in paths:
        impl = await open_impl(name, path)
        errors, messages, worst, worst_op, latencies = 0, [], 0.0, "", []
        print("ready", flush=True)
        if not sys.stdin.readline():  # the parent says go when every worker is ready
            await maybe(impl.close())
            return

        async def op(label: str, call: Any) -> None:
            nonlocal errors, worst, worst_op
            t0 = time.perf_counter()
            try:
                await maybe(call())
            except Exception as error:  # counted, not fatal: the figure is how many
                errors += 1
                if len(messages) < 3:
                    messages.append(f"{label}: {type(error).__name__}: {error}"[:200])
            elapsed = time.perf_counter() - t0
            latencies.append(round(elapsed, 6))
            if elapsed > worst:
                worst, worst_op = elapsed, label

        for trade, exit_ in pairs:
            await op("start_bot", lambda: impl.start_bot(bot))
            await op("create_trade", lambda: impl.create_trade(trade))  # noqa: B023
            await op("heartbeat", lambda: impl.heartbeat(bot))
            await op("read-then-close", lambda: impl.read_then_close(trade["id"], exit_))  # noqa: B023
        ended = time.time()
        await maybe(impl.close())
        print(json.dumps({"errors": errors, "messages": messages, "worst": worst, "worst_op": worst_op,
                          "ended": ended, "latencies": latencies}), flush=True)


# Report -------------------------------------------------------------------------


def commit() -> str:
    """The repository's commit, and whether the library has uncommitted changes."""
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "tradedb", "sql", "migrations"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown commit"
    return f"commit {head}{', with uncommitted changes to the library' if dirty else ''}"


def versions(started_at: str) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"Python": platform.python_version(), "SQLite": sqlite3.sqlite_version}
    for package in ("tradedb", "aiosqlite", "SQLAlchemy", "greenlet", "yoyo-migrations"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = "not installed"
    ended_at = commit()
    out["tradedb"] += f" ({started_at}" + (f"; {ended_at} by the end of the run" if ended_at != started_at else "") + ")"
    return out


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{platform.system()} {platform.release()}, {os.cpu_count()} cores ({cpu}){memory}"


def fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if unit == "ms":
        return f"{value * 1000:.3f}" if value < 0.01 else f"{value * 1000:.1f}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}" if abs(value) >= 1 else f"{value:.3f}"


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "n/a"
    return f"{a / b:.2f}x"


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**met**" if ok else "**missed**")


def report(bench: Bench, elapsed: float) -> tuple[str, list[tuple[str, bool | None, str]]]:
    r = bench.results
    rows: list[list[str]] = []
    targets: list[tuple[str, bool | None, str]] = []

    w1 = r["w1"]
    t = {k: median(v) for k, v in w1["times"].items()}
    rows.append([f"W1 bulk load {w1['n']:,} closed trades", "time, s (rows/s)",
                 *(f"{fmt(t[k])} ({w1['n'] / t[k]:,.0f})" for k in NAMES),
                 ratio(t["tradedb"], t["floor"]), ratio(t["sqlalchemy"], t["tradedb"])])
    targets.append(("W1 within 1.3x of the floor", t["tradedb"] / t["floor"] <= 1.3, ratio(t["tradedb"], t["floor"])))
    targets.append(("W1 at least 2x faster than SQLAlchemy", t["sqlalchemy"] / t["tradedb"] >= 2,
                    f"SQLAlchemy's time is {ratio(t['sqlalchemy'], t['tradedb'])} tradedb's"))

    w2 = r["w2"]
    f2 = {k: {m: median([x[m] for x in v]) for m in ("total", "ops", "p50", "p99")} for k, v in w2["figures"].items()}
    rows.append([f"W2 lifecycle {w2['n']:,} x (create, close)", "calls/s",
                 *(fmt(f2[k]["ops"]) for k in NAMES), ratio(f2["tradedb"]["total"], f2["floor"]["total"]),
                 ratio(f2["sqlalchemy"]["total"], f2["tradedb"]["total"])])
    rows.append(["", "p50 / p99 per call, ms",
                 *(f"{fmt(f2[k]['p50'], 'ms')} / {fmt(f2[k]['p99'], 'ms')}" for k in NAMES),
                 ratio(f2["tradedb"]["p50"], f2["floor"]["p50"]) + " (p50)",
                 ratio(f2["sqlalchemy"]["p50"], f2["tradedb"]["p50"]) + " (p50)"])
    targets.append(("W2 within 1.5x of the floor", f2["tradedb"]["total"] / f2["floor"]["total"] <= 1.5,
                    ratio(f2["tradedb"]["total"], f2["floor"]["total"]) + " (total time)"))
    targets.append(("W2 at least 8x faster than SQLAlchemy", f2["sqlalchemy"]["total"] / f2["tradedb"]["total"] >= 8,
                    f"SQLAlchemy's time is {ratio(f2['sqlalchemy']['total'], f2['tradedb']['total'])} tradedb's"))

    w3 = r["w3"]
    f3 = {size: {k: {m: median([x[m] for x in v]) for m in ("p50", "p99")} for k, v in w3["figures"][size].items()}
          for size in ("base", "big")}
    for size in ("base", "big"):
        n = w3[size]
        rows.append([f"W3 open trades of one bot ({w3['open_per_bot']} open), {n:,} trades", "p50 / p99, ms",
                     *(f"{fmt(f3[size][k]['p50'], 'ms')} / {fmt(f3[size][k]['p99'], 'ms')}" for k in NAMES),
                     ratio(f3[size]["tradedb"]["p50"], f3[size]["floor"]["p50"]),
                     ratio(f3[size]["sqlalchemy"]["p50"], f3[size]["tradedb"]["p50"])])
    rows.append([f"W3 growth {w3['base']:,} -> {w3['big']:,} trades", "p50 at big / p50 at base",
                 *(ratio(f3["big"][k]["p50"], f3["base"][k]["p50"]) for k in NAMES), "", ""])
    targets.append((f"W3 p50 within 1.3x of the floor ({w3['big']:,} trades)",
                    f3["big"]["tradedb"]["p50"] / f3["big"]["floor"]["p50"] <= 1.3,
                    ratio(f3["big"]["tradedb"]["p50"], f3["big"]["floor"]["p50"])))
    targets.append((f"W3 no more than 1.2x slower at {w3['big']:,} than at {w3['base']:,}",
                    f3["big"]["tradedb"]["p50"] / f3["base"]["tradedb"]["p50"] <= 1.2,
                    ratio(f3["big"]["tradedb"]["p50"], f3["base"]["tradedb"]["p50"])))

    w4 = r["w4"]
    t4 = {k: median(v) for k, v in w4["times"].items()}
    ex = w4["exact"]
    rows.append([f"W4 trade summary over {w4['n']:,} trades", "time, ms (totals)",
                 f"{fmt(t4['floor'], 'ms')} (float SUM, {'exact' if ex['floor'] else 'not exact'}); "
                 f"{fmt(t4['floor_exact'], 'ms')} (exact in SQL)",
                 f"{fmt(t4['tradedb'], 'ms')} ({'exact' if ex['tradedb'] else 'NOT exact'})" if "tradedb" in t4 else
                 "not available (no get_trade_summary)",
                 f"{fmt(t4['sqlalchemy'], 'ms')} ({'exact' if ex['sqlalchemy'] else 'not exact'})",
                 ratio(t4.get("tradedb"), t4["floor"]) + " (of float SUM)", ratio(t4["sqlalchemy"], t4.get("tradedb"))])
    targets.append(("W4 exact totals within 1.5x of the floor's float SUM",
                    None if "tradedb" not in t4 else bool(ex["tradedb"] and t4["tradedb"] / t4["floor"] <= 1.5),
                    "get_trade_summary not in tradedb yet" if "tradedb" not in t4 else
                    f"{ratio(t4['tradedb'], t4['floor'])}, {'exact' if ex['tradedb'] else 'NOT exact'}"))

    w5 = r["w5"]
    f5 = {k: {"wall": median([x["wall"] for x in v]), "errors": max(x["errors"] for x in v),
              "worst": max(x["worst"] for x in v), "worst_op": max(v, key=lambda x: x["worst"])["worst_op"],
              "p99": median([x["p99"] for x in v]), "over_1s": sum(x["over_1s"] for x in v),
              "ops": sum(x["ops"] for x in v)}
          for k, v in w5["figures"].items()}
    rows.append([f"W5 {w5['procs']} processes x {w5['cycles']} lifecycles", "wall s / errors",
                 *(f"{fmt(f5[k]['wall'])} / {f5[k]['errors']}" for k in NAMES),
                 ratio(f5["tradedb"]["wall"], f5["floor"]["wall"]) + " (wall)",
                 ratio(f5["sqlalchemy"]["wall"], f5["tradedb"]["wall"]) + " (wall)"])
    rows.append(["", "p99 / worst op, ms (ops over 1 s)",
                 *(f"{fmt(f5[k]['p99'], 'ms')} / {fmt(f5[k]['worst'], 'ms')} ({f5[k]['over_1s']} of {f5[k]['ops']:,})"
                   for k in NAMES),
                 ratio(f5["tradedb"]["p99"], f5["floor"]["p99"]) + " (p99)",
                 ratio(f5["sqlalchemy"]["p99"], f5["tradedb"]["p99"]) + " (p99)"])
    targets.append(("W5 zero errors", f5["tradedb"]["errors"] == 0, f"{f5['tradedb']['errors']} errors"))
    targets.append(("W5 worst single operation under 1 s", f5["tradedb"]["worst"] < 1.0,
                    f"{fmt(f5['tradedb']['worst'], 'ms')} ms ({f5['tradedb']['worst_op']}); {f5['tradedb']['over_1s']} of "
                    f"{f5['tradedb']['ops']:,} ops over 1 s; the floor's worst {fmt(f5['floor']['worst'], 'ms')} ms"))

    mem = r["memory"]
    for size, n in (("base", bench.base_count), ("big", bench.cfg["w3"])):
        rows.append([f"Memory: iterate all {n:,} trades", "peak RSS growth, MB (s)",
                     *(f"{mem[size][k]['growth_mb']:.0f} ({mem[size][k]['seconds']:.1f} s)" for k in NAMES), "", ""])
    growth = mem["big"]["tradedb"]["growth_mb"] - mem["base"]["tradedb"]["growth_mb"]
    targets.append((f"Memory flat from {bench.base_count:,} to {bench.cfg['w3']:,} trades (growth under 32 MB)",
                    growth < 32, f"+{growth:.0f} MB ({mem['big']['tradedb']['how']})"))

    lines = [
        "# tradedb benchmark results",
        "",
        f"Written by `python bench/run.py --scale {bench.scale}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
        f" in {elapsed:.0f} s. Each figure is the median of {bench.reps} repetitions;"
        " implementations take turns going first. This is a shared, noisy 2-core machine: trust the ratios"
        " within this run, not the absolute times.",
        "",
        "| workload | measure | floor (sqlite3) | tradedb | SQLAlchemy ORM | tradedb ÷ floor | SQLAlchemy ÷ tradedb |",
        "|---|---|---|---|---|---|---|",
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
        "Ratios are of times (lower is better for tradedb in the first, higher in the second). W5's errors and"
        " worst operation are the worst over all repetitions, its wall time the median. Memory is the peak"
        " resident set (VmHWM) of a fresh process above its size before iterating.",
        "",
        "SQLAlchemy's tables follow the original design: no CHECK constraints, its four indexes plus bot_id;"
        " so its inserts skip the constraint checks tradedb's schema makes (the floor's and tradedb's schema"
        " are the same), its open-trades query reads each bot's whole history through the bot_id index, and"
        " its `Numeric` columns hold floats, so its sums are float sums.",
        "",
        "## Targets (tradedb)",
        "",
        "| target | result | figure |",
        "|---|---|---|",
        *(f"| {name} | {verdict(ok)} | {figure} |" for name, ok, figure in targets),
        "",
        "## Checks (every implementation produced the same rows and totals)",
        "",
        *(f"- {'ok' if ok else '**FAILED**'}: {what}{(' (' + detail + ')') if detail else ''}"
          for what, ok, detail in bench.checks),
        "",
    ]
    if bench.notes:
        lines += ["## Notes", "", *(f"- {note}" for note in bench.notes), ""]
    w5_samples = {k: v[-1]["samples"] for k, v in w5["figures"].items() if v[-1]["samples"]}
    if w5_samples:
        lines += ["W5 error samples:", "", *(f"- {k}: {'; '.join(s)}" for k, s in w5_samples.items()), ""]
    lines += [
        "## Machine and versions",
        "",
        f"- {machine()}",
        *(f"- {k} {v}" for k, v in versions(bench.commit).items()),
        "",
        "## Raw figures (seconds)",
        "",
        "```json",
        json.dumps(r, indent=1, default=str),
        "```",
        "",
    ]
    return "\n".join(lines), targets


async def run_async(bench: Bench) -> None:
    await bench.w1()
    await bench.w2()
    await bench.load_history()
    await bench.w3()
    await bench.w4()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=tuple(SCALES), default="small")
    parser.add_argument("--reps", type=int, default=None, help="repetitions per figure (default 3)")
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--worker", choices=("w5", "mem"), help=argparse.SUPPRESS)
    parser.add_argument("--impl", choices=NAMES, help=argparse.SUPPRESS)
    parser.add_argument("--path", type=Path, action="append", help=argparse.SUPPRESS)
    parser.add_argument("--proc", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--cycles", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker == "mem":
        print(json.dumps(asyncio.run(mem_worker(args.impl, args.path[0]))))
        return
    if args.worker == "w5":
        asyncio.run(w5_worker(args.impl, args.path, args.proc, args.cycles))
        return

    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="tradedb-bench-"))
    bench = Bench(args.scale, args.reps or SCALES[args.scale]["reps"], work)
    log(f"tradedb benchmark, scale {args.scale}, working in {work}")
    try:
        asyncio.run(run_async(bench))
        bench.memory()
        bench.w5()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text, targets = report(bench, time.perf_counter() - started)
    args.output.write_text(text)
    table = text.split("\n## Checks")[0]
    print(table)
    failed = [what for what, ok, _ in bench.checks if not ok]
    log(f"report written to {args.output} in {time.perf_counter() - started:.0f} s; "
        f"{len(bench.checks) - len(failed)} checks ok, {len(failed)} failed")
    if failed:  # a missed speed target is reported, not an error; different results are
        sys.exit(f"{len(failed)} checks failed: the implementations did not store or return the same things")


if __name__ == "__main__":
    main()
