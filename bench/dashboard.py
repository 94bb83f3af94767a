"""The dashboard at scale: server time of each endpoint on a big database, and its figures proved exact.

    python bench/dashboard.py [--backend sqlite|postgresql] [--trades 1000000] [--bots 10] [--reps 20]
                              [--output bench/RESULTS-dashboard.md]

Builds (once, then cached) a database of N trades written the way tradedb
writes them, serves `tradedb.dashboard.create_app` in-process (httpx's ASGI
transport: no socket, no browser), times every endpoint the pages call
(median and p95 of --reps rounds, endpoints taking turns), measures the CSV
export's throughput, then proves the dashboard's figures exact: for every bot
and for all bots, its counts and PnL against get_trade_summary and against the
generated data, the daily series summing to the total, every page total and
distribution against the matching trades. It exits 1 when any figure
differs. The 300 ms target (issue 13) is reported, not enforced. See
bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import csv
import gc
import hashlib
import io
import json
import logging
import os
import platform
import random
import shutil
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # a clean clone without an install still finds tradedb

import data  # noqa: E402
import pg  # noqa: E402

UTC = timezone.utc
GENERATOR = 1  # bump when the generated data changes: cached databases are rebuilt
TARGET_MS = 300.0
SPAN = timedelta(days=365)  # the history: one year, ending a few minutes before the build
SYMBOL = "ETHUSDT"  # the symbol filter of the timings and checks
LIVE = "live"  # the last fifth of the bots are live bots, the others paper
METRICS_EVERY = timedelta(days=7)  # one stored performance_metrics row per bot and week
PAGE_SIZE = 50  # the dashboard's default page
# The pnl_percentage buckets of closed_trade_stats (/tmp/dash/CONTRACT.md, computed here on their own).
EDGES = tuple(Decimal(e) for e in ("-20", "-10", "-5", "-3", "-2", "-1", "-0.5", "0", "0.5", "1", "2", "3", "5", "10", "20"))
DEFAULT_CACHE = Path(os.environ.get("TRADEDB_BENCH_CACHE") or Path(tempfile.gettempdir()) / "tradedb-bench-dashboard")
CACHE_PREFIX = "tdbench_dashboard_"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


# The database: what it holds, where it is cached --------------------------------------------------


class Spec:
    """The database a run measures: its size and shape, the backend, and the schema it was built with."""

    def __init__(self, backend: str, trades: int, bots: int, open_per_bot: int, seed: int) -> None:
        self.backend, self.trades, self.seed = backend, trades, seed
        self.bot_ids = data.bot_ids(bots, "dash_bot")
        live = max(1, bots // 5) if bots > 1 else 0
        self.types = {b: (LIVE if i >= bots - live else "paper") for i, b in enumerate(self.bot_ids)}
        self.open_count = min(open_per_bot * bots, trades // 100)
        self.bot = self.bot_ids[0]  # the bot of the one-bot timings and checks

    def key(self) -> str:
        """Changes whenever the data or the schema (any migration of the backend) would."""
        digest = hashlib.sha256(repr((GENERATOR, self.backend, self.trades, self.bot_ids, self.types, self.open_count,
                                      self.seed, SPAN, METRICS_EVERY)).encode())
        for path in sorted((ROOT / "migrations" / self.backend).glob("*.sql")):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
        return digest.hexdigest()[:10]

    def name(self) -> str:
        return f"{CACHE_PREFIX}{self.backend[:2]}_{self.trades}_{len(self.bot_ids)}_{self.key()}"


def bucket_of(percentage: Decimal | None) -> int:
    """The bucket of a pnl_percentage: 0 below -20, i in [EDGES[i-1], EDGES[i]), 15 from 20 up; -1 for None."""
    return -1 if percentage is None else bisect.bisect_right(EDGES, percentage)


class Truth:
    """What the generated trades add up to, computed here in Python, exactly: what the dashboard must show."""

    def __init__(self, spec: Spec, anchor: datetime) -> None:
        self.anchor = anchor
        last = (anchor - timedelta(days=1)).date()
        self.window = (last - timedelta(days=29), last)  # the last 30 whole days before the build
        self.bots: dict[str, dict[str, Any]] = {
            b: {"closed": 0, "wins": 0, "losses": 0, "net": Decimal(0), "open": 0, "daily": defaultdict(Decimal)}
            for b in spec.bot_ids
        }
        self.filters: dict[str, dict[str, Any]] = {
            name: {"count": 0, "buckets": [0] * (len(EDGES) + 1), "unknown": 0} for name in FILTERS
        }
        self.bot = spec.bot
        self.max_net: Decimal | None = None
        self.last_exit: datetime | None = None
        self.total = 0
        self.metrics = 0

    def matches(self, name: str, trade: dict[str, Any], day: date) -> bool:
        since, until = self.window
        if name == "all":
            return True
        if name == "bot":
            return bool(trade["bot_id"] == self.bot)
        if name == "symbol":
            return bool(trade["symbol"] == SYMBOL)
        if name == "type":
            return bool(trade["trade_type"] == LIVE)
        if name == "days":
            return since <= day <= until
        if name == "symbol_days":
            return trade["symbol"] == SYMBOL and since <= day <= until
        raise AssertionError(name)

    def add(self, trade: dict[str, Any]) -> None:
        self.total += 1
        mine = self.bots[trade["bot_id"]]
        if trade["status"] == "open":
            mine["open"] += 1
            return
        net, day = trade["net_pnl"], trade["exit_time"].date()
        with localcontext(data.EXACT):
            mine["net"] += net
            mine["daily"][day] += net
        mine["closed"] += 1
        mine["wins"] += net > 0
        mine["losses"] += net < 0
        self.max_net = net if self.max_net is None or net > self.max_net else self.max_net
        self.last_exit = trade["exit_time"] if self.last_exit is None or trade["exit_time"] > self.last_exit else self.last_exit
        bucket = bucket_of(trade["pnl_percentage"])
        for name, counts in self.filters.items():
            if self.matches(name, trade, day):
                counts["count"] += 1
                if bucket < 0:
                    counts["unknown"] += 1
                else:
                    counts["buckets"][bucket] += 1

    def to_json(self) -> dict[str, Any]:
        return {
            "anchor": self.anchor.isoformat(), "window": [d.isoformat() for d in self.window], "bot": self.bot,
            "max_net": str(self.max_net), "last_exit": None if self.last_exit is None else self.last_exit.isoformat(),
            "total": self.total, "metrics": self.metrics, "filters": self.filters,
            "bots": {b: {**v, "net": str(v["net"]), "daily": {d.isoformat(): str(n) for d, n in sorted(v["daily"].items())}}
                     for b, v in self.bots.items()},
        }

    @classmethod
    def from_json(cls, spec: Spec, doc: dict[str, Any]) -> "Truth":
        truth = cls(spec, datetime.fromisoformat(doc["anchor"]))
        truth.window = tuple(date.fromisoformat(d) for d in doc["window"])  # type: ignore[assignment]
        truth.max_net = None if doc["max_net"] == "None" else Decimal(doc["max_net"])
        truth.last_exit = None if doc["last_exit"] is None else datetime.fromisoformat(doc["last_exit"])
        truth.total, truth.metrics, truth.filters = doc["total"], doc["metrics"], doc["filters"]
        for b, v in doc["bots"].items():
            daily = defaultdict(Decimal, {date.fromisoformat(d): Decimal(n) for d, n in v["daily"].items()})
            truth.bots[b] = {**v, "net": Decimal(v["net"]), "daily": daily}
        return truth


# The filters of the checks and timings; each is also a query string of /api/trades and /api/distribution.
FILTERS = ("all", "bot", "symbol", "type", "days", "symbol_days")


def filter_params(name: str, truth: Truth) -> dict[str, str]:
    since, until = (d.isoformat() for d in truth.window)
    return {
        "all": {}, "bot": {"bot": truth.bot}, "symbol": {"symbol": SYMBOL}, "type": {"type": LIVE},
        "days": {"since": since, "until": until}, "symbol_days": {"symbol": SYMBOL, "since": since, "until": until},
    }[name]


def generate(spec: Spec, anchor: datetime) -> Iterator[dict[str, Any]]:
    """The trades, every column filled, round-robin over the bots, entries spread evenly over SPAN and exits
    1 to 3,000 minutes later, the newest exit before `anchor`; the last open_count trades are open (bench/data.py's
    generator, re-timed)."""
    rng = random.Random(spec.seed)
    n = spec.trades
    step = SPAN / n
    # The latest exit is at most 3,000 minutes and 2 s after the last entry: end 5 minutes before the anchor.
    first = anchor - timedelta(minutes=5 + 3_000, seconds=2) - step * (n - 1)
    for index in range(n):
        bot = spec.bot_ids[index % len(spec.bot_ids)]
        trade = data._entry(rng, index, bot)
        exit_ = data._exit(rng, trade)
        fraction = trade["entry_time"] - (data.START + timedelta(seconds=30 * index))  # its random microseconds
        held = exit_["exit_time"] - trade["entry_time"]
        entry = first + step * index + fraction
        trade.update(trade_type=spec.types[bot], entry_time=entry, buy_order_created=entry - timedelta(seconds=2),
                     buy_order_closed=entry)
        exit_["exit_time"] = entry + held
        yield data.open_trade(trade) if index >= n - spec.open_count else data.settle(trade, exit_)


def chunks(stream: Iterator[dict[str, Any]], size: int = 20_000) -> Iterator[list[dict[str, Any]]]:
    while True:
        chunk = [t for _, t in zip(range(size), stream)]
        if not chunk:
            return
        yield chunk


async def add_bots(location: Any, spec: Spec) -> None:
    """A new database through tradedb (its migrations, its triggers), and the bots, through the API."""
    import tradedb

    async with tradedb.connect(location) as repo:
        for bot_id in spec.bot_ids:
            await repo.create_bot_instance({"id": bot_id, "type": spec.types[bot_id], "current_balance": "10000",
                                            "config_file": f"configs/{bot_id}.yaml"})


async def finish_bots(location: Any, spec: Spec, truth: Truth) -> None:
    """Through the API: weekly performance metrics over the history, heartbeats, and the last bot stopped."""
    import tradedb

    rng = random.Random(spec.seed + 1)
    start = truth.anchor - SPAN
    async with tradedb.connect(location) as repo:
        for bot_id in spec.bot_ids:
            at, count = start + METRICS_EVERY, 0
            while at < truth.anchor:
                count += 1
                await repo.create_performance_metrics({
                    "bot_id": bot_id, "calculated_at": at,
                    "sharpe_ratio": Decimal(rng.randint(-20_000, 30_000)).scaleb(-4),
                    "max_drawdown": Decimal(rng.randint(0, 250_000)).scaleb(-4),
                    "win_rate": Decimal(rng.randint(3_000, 7_000)).scaleb(-2),
                    "total_return": Decimal(rng.randint(-50_000, 80_000)).scaleb(-4),
                    "profit_factor": Decimal(rng.randint(5_000, 30_000)).scaleb(-4),
                    "total_trades": count * 100,
                })
                truth.metrics += 1
                at += METRICS_EVERY
            await repo.heartbeat(bot_id)
        if len(spec.bot_ids) > 1:
            await repo.stop_bot(spec.bot_ids[-1])


def build_sqlite(path: Path, spec: Spec) -> Truth:
    """The trades go in with executemany of rows converted in advance (bench/impl_floor.py), on tradedb's migrated
    schema with every trigger on: closed_trade_stats is kept by its triggers, as for any writer."""
    from impl_floor import INSERT, connect, dec, now, to_row

    asyncio.run(add_bots(path, spec))
    anchor = datetime.now(UTC).replace(microsecond=0)
    truth = Truth(spec, anchor)
    conn = connect(path)
    stamp = now()
    books: dict[str, Decimal] = defaultdict(Decimal)
    loaded = 0
    for chunk in chunks(generate(spec, anchor)):
        rows = [to_row(t, stamp) for t in chunk]
        for t in chunk:
            truth.add(t)
            if t["status"] == "closed":
                books[t["bot_id"]] += t["net_pnl"]
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(INSERT, rows)
        conn.execute("COMMIT")
        loaded += len(chunk)
        if loaded % 200_000 == 0:
            log(f"  {loaded:,} trades")
    conn.execute("BEGIN IMMEDIATE")
    for bot_id, change in books.items():  # the books, as close_trade leaves them
        conn.execute("UPDATE bot_instances SET total_pnl = ?, current_balance = ? WHERE id = ?",
                     (dec(change), dec(Decimal("10000") + change), bot_id))
    conn.execute("COMMIT")
    conn.close()
    asyncio.run(finish_bots(path, spec, truth))
    conn = sqlite3.connect(path)  # the last connection to close folds the WAL back in: the file alone is the database
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    if Path(f"{path}-wal").exists():
        raise RuntimeError(f"{path}-wal is still there after the build: is another process using the file?")
    return truth


async def build_postgresql(url: str, spec: Spec) -> Truth:
    """The trades go in by COPY of rows converted in advance (bench/impl_floor_pg.py), on tradedb's migrated schema:
    COPY fires the row triggers, so closed_trade_stats is kept as for any writer. Then VACUUM ANALYZE, as
    autovacuum would do within minutes."""
    import asyncpg  # type: ignore[import-untyped]
    from impl_floor_pg import COLUMNS, to_row

    await add_bots(url, spec)
    anchor = datetime.now(UTC).replace(microsecond=0)
    truth = Truth(spec, anchor)
    conn = await asyncpg.connect(url)
    try:
        stamp = datetime.now(UTC)
        books: dict[str, Decimal] = defaultdict(Decimal)
        loaded = 0
        for chunk in chunks(generate(spec, anchor)):
            for t in chunk:
                truth.add(t)
                if t["status"] == "closed":
                    books[t["bot_id"]] += t["net_pnl"]
            await conn.copy_records_to_table("trades", records=[to_row(t, stamp) for t in chunk], columns=COLUMNS)
            loaded += len(chunk)
            if loaded % 200_000 == 0:
                log(f"  {loaded:,} trades")
        await conn.executemany(
            "UPDATE bot_instances SET total_pnl = total_pnl + $2, current_balance = current_balance + $2 WHERE id = $1",
            list(books.items()))
    finally:
        await conn.close()
    await finish_bots(url, spec, truth)
    pg.vacuum_analyze(url)
    return truth


class Store:
    """Where the database lives: cached between runs (a file, or a database tdbench_dashboard_* on the server), or a
    scratch one (--no-cache) removed at the end."""

    def __init__(self, spec: Spec, cache: Path | None, server: str) -> None:
        self.spec, self.cache, self.server = spec, cache, server
        self.scratch = pg.Scratch(server) if spec.backend == "postgresql" else None
        self.work: Path | None = None
        self.built_in: float | None = None  # seconds, when this run built it

    def meta_path(self) -> Path:
        assert self.cache is not None
        return self.cache / f"{self.spec.name()}.json"

    def exists(self, location: Any) -> bool:
        if self.spec.backend == "sqlite":
            return Path(location).exists()
        assert self.scratch is not None
        import psycopg

        with psycopg.connect(self.server, autocommit=True) as conn:
            return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (pg.database_name(location),)).fetchone() is not None

    def open(self, rebuild: bool) -> tuple[Any, Truth]:
        """The database's location and what it holds: the cached one when it is there, else built now."""
        spec = self.spec
        if self.cache is None:
            if self.scratch is not None:
                location: Any = self.scratch.new("dashboard")
            else:
                self.work = Path(tempfile.mkdtemp(prefix="tradedb-bench-dashboard-"))
                location = self.work / "dashboard.db"
            return location, self._build(location)
        self.cache.mkdir(parents=True, exist_ok=True)
        location = self.cache / f"{spec.name()}.db" if spec.backend == "sqlite" else pg.database_url(self.server, spec.name())
        meta = self.meta_path()
        if not rebuild and meta.exists() and self.exists(location):
            log(f"using the cached database {location} (built {json.loads(meta.read_text())['built_at']})")
            return location, Truth.from_json(spec, json.loads(meta.read_text())["truth"])
        meta.unlink(missing_ok=True)
        self.drop(location)
        building = self._building(location)
        self.drop(building)
        try:
            truth = self._build(building)
        except BaseException:
            self.drop(building)
            raise
        if spec.backend == "sqlite":
            os.replace(building, location)
        else:
            from psycopg import sql
            import psycopg

            with psycopg.connect(self.server, autocommit=True) as conn:
                conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                    sql.Identifier(pg.database_name(building)), sql.Identifier(pg.database_name(location))))
        meta.write_text(json.dumps({"built_at": datetime.now(UTC).isoformat(timespec="seconds"),
                                    "build_seconds": self.built_in, "truth": truth.to_json()}))
        self.forget_older(location)
        return location, truth

    def forget_older(self, kept: Any) -> None:
        """Remove the cached databases of this size built from other data or another schema: never used again."""
        assert self.cache is not None
        spec = self.spec
        stem = f"{CACHE_PREFIX}{spec.backend[:2]}_{spec.trades}_{len(spec.bot_ids)}_"
        for path in self.cache.glob(f"{stem}*.json"):
            if path != self.meta_path():
                path.unlink(missing_ok=True)
                older = path.with_suffix(".db") if spec.backend == "sqlite" else pg.database_url(self.server, path.stem)
                self.drop(older)
                log(f"removed an older cached database: {pg.without_password(str(older))}")

    def _building(self, location: Any) -> Any:
        if self.spec.backend == "sqlite":
            return Path(f"{location}.building")
        return pg.database_url(self.server, f"{pg.database_name(location)[:54]}_building")

    def _build(self, location: Any) -> Truth:
        spec = self.spec
        log(f"building a database of {spec.trades:,} trades over {len(spec.bot_ids)} bots ({spec.open_count} open) "
            f"at {pg.without_password(str(location))} (untimed setup)")
        started = time.perf_counter()
        if spec.backend == "sqlite":
            truth = build_sqlite(Path(location), spec)
        else:
            if self.cache is not None:
                self._create(location)
            truth = asyncio.run(build_postgresql(location, spec))
        self.built_in = time.perf_counter() - started
        log(f"  built in {self.built_in:.0f} s")
        return truth

    def _create(self, url: str) -> None:
        from psycopg import sql
        import psycopg

        with psycopg.connect(self.server, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(pg.database_name(url))))

    def drop(self, location: Any) -> None:
        if self.spec.backend == "sqlite":
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{location}{suffix}").unlink(missing_ok=True)
            return
        assert self.scratch is not None
        self.scratch.drop(location)

    def release(self) -> None:
        """The end of the run: a scratch database is removed (a cached one stays)."""
        if self.work is not None:
            shutil.rmtree(self.work, ignore_errors=True)
        if self.scratch is not None and self.cache is None:
            left = self.scratch.drop_all()
            if left:
                log(f"could not drop these scratch databases, drop them by hand: {', '.join(left)}")


def drop_cache(cache: Path, server: str) -> None:
    """--drop-cache: every database this script cached, files and PostgreSQL databases alike."""
    for path in sorted(cache.glob(f"{CACHE_PREFIX}*")) if cache.exists() else []:
        path.unlink()
        log(f"removed {path}")
    try:
        import psycopg
        from psycopg import sql

        with psycopg.connect(server, autocommit=True, connect_timeout=5) as conn:
            names = [r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                                                (CACHE_PREFIX.replace("_", "\\_") + "%",))]
            for name in names:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
                log(f"dropped the database {name}")
    except Exception as error:  # no server: nothing cached there
        log(f"PostgreSQL not looked at ({' '.join(str(error).split())[:200]})")


# Timing ------------------------------------------------------------------------------------------------------


def endpoints(truth: Truth) -> list[tuple[str, str, bool]]:
    """(what, request, under the 300 ms target) for every endpoint the pages call."""
    def q(path: str, **params: Any) -> str:
        return f"{path}?{urlencode(params)}" if params else path

    days = filter_params("days", truth)
    middle = max(1, -(-truth.filters["all"]["count"] // PAGE_SIZE) // 2)
    return [
        ("overview", q("/api/overview"), True),
        ("daily PnL, all bots", q("/api/daily"), True),
        ("daily PnL, one bot", q("/api/daily", bot=truth.bot), True),
        ("open positions", q("/api/open"), True),
        ("closed trades, page 1 (exit time desc)", q("/api/trades"), True),
        (f"closed trades, middle page ({middle:,})", q("/api/trades", page=middle), True),
        ("closed trades, page 1 by net_pnl desc", q("/api/trades", sort="net_pnl"), True),
        ("closed trades, one bot", q("/api/trades", bot=truth.bot), True),
        (f"closed trades, symbol {SYMBOL}", q("/api/trades", symbol=SYMBOL), True),
        ("closed trades, 30 days", q("/api/trades", **days), True),
        (f"closed trades, type {LIVE}", q("/api/trades", type=LIVE), True),
        ("distribution, all", q("/api/distribution"), True),
        ("distribution, one bot", q("/api/distribution", bot=truth.bot), True),
        (f"distribution, {SYMBOL} + 30 days", q("/api/distribution", symbol=SYMBOL, **days), True),
        ("symbols and bots (filter lists)", q("/api/symbols"), True),
        ("a bot's page", q(f"/api/bots/{truth.bot}"), True),
    ]


class QueryLog(logging.Handler):
    """The named queries (and their parameters) tradedb runs, from its DEBUG log on tradedb.sql."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen: list[tuple[str, dict[str, Any]]] = []

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args
        if isinstance(args, tuple) and args and isinstance(args[0], str):
            params = args[1] if len(args) > 1 and isinstance(args[1], dict) else {}
            self.seen.append((args[0], params))


async def queries_of(client: Any, request: str) -> list[tuple[str, dict[str, Any]]]:
    sql_log = logging.getLogger("tradedb.sql")
    handler, level = QueryLog(), sql_log.level
    sql_log.addHandler(handler)
    sql_log.setLevel(logging.DEBUG)
    try:
        response = await client.get(request)
        response.raise_for_status()
    finally:
        sql_log.removeHandler(handler)
        sql_log.setLevel(level)
    return handler.seen


async def measure(client: Any, targets: list[tuple[str, str, bool]], reps: int) -> dict[str, dict[str, Any]]:
    """One untimed warm-up round (its times kept as 'first'), then `reps` rounds; each round starts one endpoint
    later, so a slow moment of the machine falls on all alike."""
    times: dict[str, list[float]] = {name: [] for name, _, _ in targets}
    first: dict[str, float] = {}
    sizes: dict[str, int] = {}
    for rnd in range(reps + 1):
        order = targets[rnd % len(targets):] + targets[:rnd % len(targets)]
        for name, request, _ in order:
            gc.collect()
            started = time.perf_counter()
            response = await client.get(request)
            elapsed = time.perf_counter() - started
            if response.status_code != 200:
                raise RuntimeError(f"{request}: {response.status_code} {response.text[:300]}")
            if rnd == 0:
                first[name] = elapsed
                sizes[name] = len(response.content)
            else:
                times[name].append(elapsed)
        if rnd and (rnd % 5 == 0 or rnd == reps):
            log(f"  round {rnd}/{reps}")
    return {
        name: {"request": request, "target": target, "first": first[name], "times": times[name], "bytes": sizes[name],
               "median": statistics.median(times[name]), "p95": pct(times[name], 0.95), "min": min(times[name])}
        for name, request, target in targets
    }


async def csv_throughput(client: Any, request: str, reps: int) -> dict[str, Any]:
    runs, body = [], b""
    for _ in range(reps):
        gc.collect()
        started = time.perf_counter()
        response = await client.get(request)
        runs.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise RuntimeError(f"{request}: {response.status_code} {response.text[:300]}")
        body = response.content
    rows = max(0, body.count(b"\n") - 1)  # amounts and ids hold no newline; the header is one line
    seconds = statistics.median(runs)
    return {"request": request, "rows": rows, "bytes": len(body), "times": runs, "median": seconds,
            "rows_per_s": rows / seconds if seconds else None, "body": body}


# Checks ------------------------------------------------------------------------------------------------------


class Checks:
    def __init__(self) -> None:
        self.items: list[tuple[str, bool, str]] = []

    def __call__(self, what: str, ok: bool, detail: str = "") -> bool:
        self.items.append((what, bool(ok), detail))
        if not ok:
            log(f"check FAIL {what}: {detail}")
        return bool(ok)

    def equal(self, what: str, got: Any, want: Any) -> bool:
        """Exact equality, of the same type (Decimals compared as numbers: '1.50000000' equals Decimal('1.5'))."""
        ok = got == want and type(got) is type(want)
        return self(what, ok, "" if ok else difference(got, want))

    @property
    def failed(self) -> list[tuple[str, bool, str]]:
        return [c for c in self.items if not c[1]]


def difference(got: Any, want: Any) -> str:
    """The first difference, short: for dicts and lists, the first key or place that differs."""
    if type(got) is not type(want):
        return f"got {type(got).__name__} {str(got)[:80]!r}, expected {type(want).__name__} {str(want)[:80]!r}"
    if isinstance(got, dict):
        for key in sorted(set(got) | set(want), key=str):
            if got.get(key) != want.get(key):
                return f"{len(got)} entries, expected {len(want)}; first difference at {key}: {got.get(key)} != {want.get(key)}"
    if isinstance(got, list) and len(got) == len(want):
        for index, (a, b) in enumerate(zip(got, want)):
            if a != b:
                return f"first difference at [{index}]: {a!r} != {b!r}"
    return f"{str(got)[:200]} != {str(want)[:200]}"


def dec(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


async def check_everything(client: Any, repo: Any, truth: Truth, spec: Spec, csv_run: dict[str, Any]) -> Checks:
    check = Checks()
    async def get(request: str) -> Any:
        return await client.get(request)

    summaries: dict[str | None, dict[str, Any]] = {None: await repo.get_trade_summary()}
    for bot_id in spec.bot_ids:
        summaries[bot_id] = await repo.get_trade_summary(bot_id=bot_id)
    all_summary = summaries[None]

    # The summaries themselves against the generated data (so that both sides below are the truth).
    check.equal("get_trade_summary(): closed trades = generated", all_summary["closed_trades"], truth.filters["all"]["count"])
    check.equal("get_trade_summary(): total net PnL = generated",
                all_summary["total_net_pnl"], sum((v["net"] for v in truth.bots.values()), Decimal(0)))

    # Overview: each bot and the totals row.
    overview = (await get("/api/overview")).json()
    today = date.fromisoformat(overview["today"])
    rows = {row["id"]: row for row in overview["bots"]}
    check.equal("overview: one row per bot", sorted(rows), sorted(spec.bot_ids))
    for bot_id in spec.bot_ids:
        row, s, t = rows.get(bot_id, {}), summaries[bot_id], truth.bots[bot_id]
        label = f"overview {bot_id}"
        check.equal(f"{label}: closed trades = get_trade_summary", row.get("closed_trades"), s["closed_trades"])
        check.equal(f"{label}: wins = get_trade_summary", row.get("wins"), s["winning_trades"])
        check.equal(f"{label}: losses = get_trade_summary", row.get("losses"), s["losing_trades"])
        check.equal(f"{label}: total PnL = get_trade_summary", dec(row.get("total_pnl")), s["total_net_pnl"])
        check.equal(f"{label}: win rate = get_trade_summary", dec(row.get("win_rate")), s["win_rate"])
        check.equal(f"{label}: open positions = get_trade_summary", row.get("open_positions"), s["open_trades"])
        check.equal(f"{label}: balance = 10000 + its PnL", dec(row.get("current_balance")), Decimal("10000") + t["net"])
        check.equal(f"{label}: today's PnL ({today}) = generated", dec(row.get("today_pnl")), t["daily"].get(today, Decimal(0)))
    totals = overview["totals"]
    check.equal("overview totals: closed trades = get_trade_summary()", totals["closed_trades"], all_summary["closed_trades"])
    check.equal("overview totals: wins = get_trade_summary()", totals["wins"], all_summary["winning_trades"])
    check.equal("overview totals: losses = get_trade_summary()", totals["losses"], all_summary["losing_trades"])
    check.equal("overview totals: total PnL = get_trade_summary()", dec(totals["total_pnl"]), all_summary["total_net_pnl"])
    check.equal("overview totals: win rate = get_trade_summary()", dec(totals["win_rate"]), all_summary["win_rate"])
    check.equal("overview totals: open positions = get_trade_summary()", totals["open_positions"], all_summary["open_trades"])

    # Daily PnL: every bot's series, exact, summing to its total; all bots' series summing to the grand total.
    daily = (await get("/api/daily")).json()
    days = [date.fromisoformat(d) for d in daily["days"]]
    check("daily: days ascending, each once", days == sorted(set(days)), f"{len(days)} days")
    series = {b["id"]: b for b in daily["bots"]}
    check.equal("daily: a series per bot", sorted(series), sorted(spec.bot_ids))
    grand = Decimal(0)
    for bot_id in spec.bot_ids:
        s, t, one = summaries[bot_id], truth.bots[bot_id], series.get(bot_id, {"daily": [], "cumulative": []})
        values = [dec(v) for v in one["daily"]]
        got = {day: v for day, v in zip(days, values) if v is not None}
        total = sum((v for v in got.values()), Decimal(0))
        grand += total
        label = f"daily {bot_id}"
        check.equal(f"{label}: sum of the daily PnL = get_trade_summary total net PnL", total, s["total_net_pnl"])
        last = dec(one["cumulative"][-1]) if one["cumulative"] else None
        check.equal(f"{label}: last cumulative value = get_trade_summary total net PnL", last, s["total_net_pnl"])
        check.equal(f"{label}: every day's PnL = generated ({len(t['daily'])} days)", got, dict(t["daily"]))
        running, carried = Decimal(0), True
        for value, cumulative in zip(values, one["cumulative"]):
            running += value or 0
            carried &= dec(cumulative) == running
        check(f"{label}: cumulative = running sum of daily", carried)
        alone = (await get(f"/api/daily?{urlencode({'bot': bot_id})}")).json()
        alone_days = [date.fromisoformat(d) for d in alone["days"]]
        alone_got = {d: dec(v) for d, v in zip(alone_days, alone["bots"][0]["daily"]) if v is not None} if alone["bots"] else {}
        check.equal(f"{label}: /api/daily?bot= gives the same days and amounts", alone_got, got)
    check.equal("daily, all bots: sum of every series = get_trade_summary() total net PnL", grand, all_summary["total_net_pnl"])

    # Page totals and distributions against the matching trades.
    expected_counts = {
        "all": all_summary["closed_trades"],
        "bot": summaries[truth.bot]["closed_trades"],
        "symbol": (await repo.get_trade_summary(symbol=SYMBOL))["closed_trades"],
        "type": (await repo.get_trade_summary(trade_type=LIVE))["closed_trades"],
    }
    for name in FILTERS:
        params = filter_params(name, truth)
        want = truth.filters[name]
        page = (await get(f"/api/trades?{urlencode(params)}")).json()
        shown = urlencode(params) or "no filter"
        if name in expected_counts:
            check.equal(f"trades page total ({shown}) = get_trade_summary closed trades", page["total"], expected_counts[name])
        check.equal(f"trades page total ({shown}) = generated matching trades", page["total"], want["count"])
        check.equal(f"trades page ({shown}): rows on page 1", len(page["rows"]), min(PAGE_SIZE, want["count"]))
        check(f"trades page ({shown}): every row matches the filter", all(row_matches(name, r, truth) for r in page["rows"]))
        times = [r["exit_time"] for r in page["rows"]]
        check(f"trades page ({shown}): newest exit first", times == sorted(times, reverse=True))
        dist = (await get(f"/api/distribution?{urlencode(params)}")).json()
        counts = [b["trades"] for b in dist["buckets"]]
        check.equal(f"distribution ({shown}): each bucket = generated", counts, want["buckets"])
        check.equal(f"distribution ({shown}): buckets + unknown = page total", sum(counts) + dist["unknown"], page["total"])
    if truth.filters["all"]["count"]:
        first = (await get("/api/trades")).json()["rows"][0]
        check.equal("trades page 1: newest exit = get_trade_summary last exit",
                    datetime.fromisoformat(first["exit_time"].replace("Z", "+00:00")), all_summary["last_exit_time"])
        top = (await get("/api/trades?sort=net_pnl")).json()["rows"][0]
        check.equal("trades by net_pnl desc: first row = largest generated net PnL", dec(top["net_pnl"]), truth.max_net)
        pages = -(-truth.filters["all"]["count"] // PAGE_SIZE)
        middle = (await get(f"/api/trades?page={max(1, pages // 2)}")).json()
        check.equal("trades middle page: a full page", len(middle["rows"]), min(PAGE_SIZE, truth.filters["all"]["count"]))
        check.equal("trades middle page: pages", middle["pages"], pages)
        # Deep pages are found by day (tradedb.reports.DEEP_OFFSET); by OFFSET alone they are the same rows.
        import tradedb.reports
        bot_pages = -(-truth.filters["bot"]["count"] // PAGE_SIZE)
        for order, bot in (("desc", None), ("asc", None), ("desc", truth.bot)):
            address = f"/api/trades?page={max(1, (bot_pages if bot else pages) // 2)}&order={order}"
            address += f"&{urlencode({'bot': bot})}" if bot else ""
            order += f", {bot}" if bot else ""
            by_day = (await get(address)).json()
            deep, tradedb.reports.DEEP_OFFSET = tradedb.reports.DEEP_OFFSET, 10**18
            try:
                plain = (await get(address)).json()
            finally:
                tradedb.reports.DEEP_OFFSET = deep
            check.equal(f"trades middle page, exit time {order}: the rows of OFFSET alone",
                        [r["id"] for r in by_day["rows"]], [r["id"] for r in plain["rows"]])

    # The CSV export: every trade of the bot, and its net PnL adding up exactly.
    bot_summary = summaries[truth.bot]
    reader = csv.reader(io.StringIO(csv_run["body"].decode()))
    header = next(reader)
    body = list(reader)
    net_at = header.index("net_pnl") if "net_pnl" in header else None
    check.equal(f"CSV of {truth.bot}: rows = get_trade_summary closed trades", len(body), bot_summary["closed_trades"])
    if net_at is not None:
        check.equal(f"CSV of {truth.bot}: sum of net_pnl = get_trade_summary total net PnL",
                    sum((Decimal(r[net_at]) for r in body if r[net_at]), Decimal(0)), bot_summary["total_net_pnl"])
    check.equal(f"CSV of {truth.bot}: each trade once", len({r[0] for r in body}), len(body))
    window = filter_params("days", truth)
    days_csv = (await get(f"/api/trades.csv?{urlencode(window)}")).content
    check.equal("CSV of the 30 days: rows = generated matching trades (read from trades, not closed_trade_stats)",
                max(0, days_csv.count(b"\n") - 1), truth.filters["days"]["count"])

    # Open positions, symbols, a bot's page.
    positions = (await get("/api/open")).json()["positions"]
    check.equal("open positions: count = get_trade_summary() open trades", len(positions), all_summary["open_trades"])
    entries = [p["entry_time"] for p in positions]
    check("open positions: oldest first", entries == sorted(entries))
    symbols = (await get("/api/symbols")).json()
    check.equal("symbols: every generated symbol", symbols["symbols"], sorted(data.SYMBOL_NAMES))
    check.equal("symbols: every bot", sorted(b["id"] for b in symbols["bots"]), sorted(spec.bot_ids))
    page = (await get(f"/api/bots/{truth.bot}")).json()
    for key in ("closed_trades", "wins", "losses", "total_pnl", "win_rate", "open_positions", "current_balance"):
        check.equal(f"bot page {truth.bot}: {key} = its overview row", page["bot"].get(key), rows[truth.bot][key])
    check.equal(f"bot page {truth.bot}: its stored metrics", len(page["metrics"]), truth.metrics // len(spec.bot_ids))
    stamps = [m["calculated_at"] for m in page["metrics"]]
    check("bot page: metrics oldest first", stamps == sorted(stamps))
    return check


def row_matches(name: str, row: dict[str, Any], truth: Truth) -> bool:
    day = date.fromisoformat(row["exit_time"][:10])
    since, until = truth.window
    return bool({
        "all": True, "bot": row["bot_id"] == truth.bot, "symbol": row["symbol"] == SYMBOL,
        "type": row["trade_type"] == LIVE, "days": since <= day <= until,
        "symbol_days": row["symbol"] == SYMBOL and since <= day <= until,
    }[name])


# Why a slow endpoint is slow ------------------------------------------------------------------------------------


def explain(backend: str, location: Any, name: str, params: dict[str, Any], runs: int = 3) -> tuple[float, str]:
    """A named query run alone (median seconds of `runs`, every row fetched) and its plan (EXPLAIN QUERY PLAN on
    SQLite, EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL)."""
    from tradedb.queries import DIALECTS

    query = DIALECTS[backend][name]
    values = query.bind(params)
    times = []
    if backend == "sqlite":
        conn = sqlite3.connect(f"file:{location}?mode=ro", uri=True)
        try:
            for _ in range(runs):
                started = time.perf_counter()
                conn.execute(query.sql, values).fetchall()
                times.append(time.perf_counter() - started)
            plan = "\n".join(f"{'  ' * 0}{row[3]}" for row in conn.execute("EXPLAIN QUERY PLAN " + query.sql, values))
        finally:
            conn.close()
        return statistics.median(times), plan
    import psycopg

    with psycopg.connect(location, autocommit=True, cursor_factory=psycopg.RawCursor) as server:
        for _ in range(runs):
            started = time.perf_counter()
            server.execute(query.sql, values).fetchall()
            times.append(time.perf_counter() - started)
        plan = "\n".join(row[0] for row in server.execute("EXPLAIN (ANALYZE, BUFFERS) " + query.sql, values))
    return statistics.median(times), plan


# The run ---------------------------------------------------------------------------------------------------


async def run(location: Any, spec: Spec, truth: Truth, reps: int, csv_reps: int, explain_all: bool) -> dict[str, Any]:
    import httpx
    import tradedb
    from tradedb.dashboard.app import create_app

    result: dict[str, Any] = {}
    async with tradedb.connect(location) as repo:
        app = create_app(repo)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8750", timeout=600) as client:
            targets = endpoints(truth)
            result["queries"] = {name: await queries_of(client, request) for name, request, _ in targets}
            log(f"timing {len(targets)} endpoints, {reps} rounds (after one warm-up round)")
            load_before = os.getloadavg()
            result["timings"] = await measure(client, targets, reps)
            result["load"] = (load_before, os.getloadavg())
            csv_request = f"/api/trades.csv?{urlencode({'bot': truth.bot})}"
            log(f"CSV export of {truth.bot}, {csv_reps} times")
            csv_run = await csv_throughput(client, csv_request, csv_reps)
            result["queries"]["CSV export, one bot"] = (await queries_of(client, csv_request))[:3]
            log("checking the figures")
            checks = await check_everything(client, repo, truth, spec, csv_run)
            csv_run.pop("body")
            result["csv"] = csv_run
            result["checks"] = checks.items
            result["database"] = await describe(repo, location, spec)
    slow = {name: t for name, t in result["timings"].items() if explain_all or t["p95"] * 1000 >= TARGET_MS}
    result["explained"] = {}
    for name in slow:
        plans = []
        for query_name, params in result["queries"][name]:
            seconds, plan = await asyncio.to_thread(explain, spec.backend, location, query_name, params)
            plans.append({"query": query_name, "params": params, "seconds": seconds, "plan": plan})
        result["explained"][name] = plans
    return result


async def describe(repo: Any, location: Any, spec: Spec) -> dict[str, Any]:
    """The database's size: rows of each table, and on disk."""
    out: dict[str, Any] = {}
    if spec.backend == "sqlite":
        conn = sqlite3.connect(f"file:{location}?mode=ro", uri=True)
        try:
            for table in ("trades", "closed_trade_stats", "performance_metrics", "bot_instances"):
                out[table] = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        finally:
            conn.close()
        out["size"] = Path(location).stat().st_size
        return out
    import psycopg

    with psycopg.connect(location, autocommit=True) as server:
        for table in ("trades", "closed_trade_stats", "performance_metrics", "bot_instances"):
            out[table] = server.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
        out["size"] = server.execute("SELECT pg_database_size(current_database())").fetchone()[0]  # type: ignore[index]
        out["server_version"] = server.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
    return out


# The report --------------------------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    value = seconds * 1000
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:,.0f}"


def verdict(timing: dict[str, Any]) -> str:
    if not timing["target"]:
        return ""
    median, p95 = timing["median"] * 1000, timing["p95"] * 1000
    if p95 < TARGET_MS:
        return "under"
    if median < TARGET_MS:
        return "**p95 over**"
    return "**OVER**"


def versions(backend: str, server_version: str) -> list[str]:
    from importlib.metadata import PackageNotFoundError, version

    import run  # the benchmark's own report helpers

    out = [f"Python {platform.python_version()}"]
    out.append(f"SQLite {sqlite3.sqlite_version}" if backend == "sqlite" else f"PostgreSQL server {server_version}")
    for package in ("tradedb", "starlette", "httpx", "aiosqlite" if backend == "sqlite" else "psycopg", "asyncpg"):
        if backend == "sqlite" and package == "asyncpg":
            continue
        try:
            out.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            out.append(f"{package} not installed")
    out.append(f"tradedb at {run.commit()}")
    return out


def section(backend: str, spec: Spec, truth: Truth, result: dict[str, Any], store: Store, reps: int, command: str,
            elapsed: float) -> str:
    import run

    db = result["database"]
    label = "SQLite" if backend == "sqlite" else "PostgreSQL"
    built = (f"built by this run in {store.built_in:.0f} s" if store.built_in is not None else "cached from an earlier run")
    where = "a file" if backend == "sqlite" else "a database on the server"
    lines = [
        f"## {label}: {spec.trades:,} trades",
        "",
        f"Written by `{command}` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC in {elapsed:.0f} s; "
        f"{run.machine()}; {', '.join(versions(backend, db.get('server_version', '')))}.",
        "",
        f"The database ({where}, {db['size'] / 2**20:,.0f} MiB; {built}): {db['trades']:,} trades over "
        f"{len(spec.bot_ids)} bots ({sum(1 for t in spec.types.values() if t == LIVE)} live, the others paper; "
        f"{spec.open_count:,} open), 10 symbols, exits over the year before {truth.anchor:%Y-%m-%d %H:%M} UTC; "
        f"{db['closed_trade_stats']:,} rows in closed_trade_stats, {db['performance_metrics']:,} performance_metrics rows."
        + (" No ANALYZE (tradedb never runs it, so a real file has no statistics either)." if backend == "sqlite"
           else " VACUUM ANALYZEd after loading, as autovacuum would."),
        "",
        f"Server time per request, ms, through the ASGI app in-process (routing, the Guard middleware, the handler, "
        f"the repository's reads, JSON): median and p95 of {reps} rounds after a warm-up round (its time is 'first'); "
        f"each round starts one endpoint later. Target: under {TARGET_MS:.0f} ms. The machine's load average "
        f"(1, 5, 15 min) was {', '.join(f'{x:.1f}' for x in result['load'][0])} before the rounds and "
        f"{', '.join(f'{x:.1f}' for x in result['load'][1])} after (2 cores; other jobs ran): 'min' is the "
        f"closest to a quiet machine.",
        "",
        "| endpoint | request | median | p95 | min | first | response | under 300 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, t in result["timings"].items():
        lines.append(f"| {name} | `{t['request']}` | {ms(t['median'])} | {ms(t['p95'])} | {ms(t['min'])} | "
                     f"{ms(t['first'])} | {t['bytes'] / 1024:,.1f} KiB | {verdict(t)} |")
    c = result["csv"]
    lines += [
        "",
        f"CSV export (`{c['request']}`, streamed, every matching trade in exit order): {c['rows']:,} rows, "
        f"{c['bytes'] / 2**20:.1f} MiB in {c['median']:.2f} s (median of {len(c['times'])}: "
        f"{', '.join(f'{s:.2f}' for s in c['times'])} s), **{c['rows_per_s']:,.0f} rows/s**.",
        "",
        "What each endpoint reads (tradedb's named queries, from its `tradedb.sql` log):",
        "",
    ]
    for name, seen in result["queries"].items():
        names = ", ".join(dict.fromkeys(q for q, _ in seen)) or "none"
        lines.append(f"- {name}: {names}")
    if result["explained"]:
        lines += ["", "### Endpoints with a p95 at or over 300 ms: their queries alone, and their plans", ""]
        for name, plans in result["explained"].items():
            lines.append(f"**{name}** (median {ms(result['timings'][name]['median'])} ms):")
            lines.append("")
            for p in plans:
                shown = {k: v for k, v in p["params"].items() if v is not None}
                lines += [f"- `{p['query']}` {shown}: {ms(p['seconds'])} ms alone", "", "```", p["plan"], "```", ""]
    failed = [c for c in result["checks"] if not c[1]]
    lines += ["", f"### Checks: {len(result['checks']) - len(failed)} ok, {len(failed)} failed", ""]
    lines += [f"- {'ok' if ok else '**FAILED**'}: {what}" + (f" ({detail})" if detail and not ok else "")
              for what, ok, detail in result["checks"]]
    return "\n".join(lines) + "\n"


HEADER = """# tradedb dashboard at scale

`python bench/dashboard.py` (see bench/README.md): the server time of every
endpoint the dashboard's pages call, on a database of a million trades, and
the proof that its figures are exact. Issue 13's target: the overview, a
closed-trades page and each chart's data under 300 ms of server time on a
1,000,000-trade database; aggregates over all history read
`closed_trade_stats` (kept by triggers, migration 0003), not the trades
table. The checks compare every figure, exactly (`Decimal` equality), with
`get_trade_summary` and with the generated data; the run exits 1 if any
differs. This is a shared, noisy 2-core machine: medians and p95 of many
rounds, each round starting one endpoint later.
"""


def write_report(output: Path, backend: str, text: str) -> None:
    """This backend's section of the report; the other backend's, and the notes written by hand between
    <!-- notes --> and <!-- /notes -->, kept as they were."""
    sections = {}
    old = output.read_text() if output.exists() else ""
    for part in ("notes", "sqlite", "postgresql"):
        b, e = f"<!-- {part} -->", f"<!-- /{part} -->"
        if b in old and e in old:
            sections[part] = old[old.index(b):old.index(e) + len(e)]
    sections[backend] = f"<!-- {backend} -->\n{text}<!-- /{backend} -->"
    parts = [HEADER] + [sections[b] for b in ("notes", "sqlite", "postgresql") if b in sections]
    output.write_text("\n".join(parts) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--trades", type=int, default=1_000_000)
    parser.add_argument("--bots", type=int, default=10)
    parser.add_argument("--open-per-bot", type=int, default=20, help="open positions per bot (default 20)")
    parser.add_argument("--reps", type=int, default=20, help="timed rounds per endpoint (default 20)")
    parser.add_argument("--csv-reps", type=int, default=3, help="timed CSV exports (default 3)")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS-dashboard.md")
    parser.add_argument("--postgresql-url", default=None,
                        help=f"the server (default: $TRADEDB_BENCH_POSTGRESQL_URL or {pg.DEFAULT_URL}); "
                             "its own database is never written")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                        help=f"where built databases are kept between runs (default {DEFAULT_CACHE}, or "
                             "$TRADEDB_BENCH_CACHE; on PostgreSQL the database tdbench_dashboard_* on the server)")
    parser.add_argument("--no-cache", action="store_true", help="build a scratch database and remove it at the end")
    parser.add_argument("--rebuild", action="store_true", help="build the cached database again")
    parser.add_argument("--drop-cache", action="store_true", help="remove every cached database (files and "
                        "tdbench_dashboard_* on the server) and exit")
    parser.add_argument("--explain-all", action="store_true", help="plans for every endpoint, not only the slow ones")
    args = parser.parse_args()
    server = args.postgresql_url or pg.server_url()
    if args.drop_cache:
        drop_cache(args.cache, server)
        return
    if args.trades < 10 or args.bots < 1 or args.reps < 1 or args.csv_reps < 1:
        parser.error("--trades at least 10, --bots, --reps and --csv-reps at least 1")
    started = time.perf_counter()
    spec = Spec(args.backend, args.trades, args.bots, args.open_per_bot, args.seed)
    if args.backend == "postgresql":
        try:
            pg.Scratch(server).check()
        except pg.Unreachable as error:
            sys.exit(f"bench: {error}")
        signal.signal(signal.SIGTERM, lambda *_: sys.exit("bench: terminated"))  # unwinds: scratch databases dropped
    store = Store(spec, None if args.no_cache else args.cache, server)
    try:
        location, truth = store.open(args.rebuild)
        result = asyncio.run(run(location, spec, truth, args.reps, args.csv_reps, args.explain_all))
    finally:
        store.release()
    command = " ".join(["python bench/dashboard.py", *sys.argv[1:]])
    text = section(args.backend, spec, truth, result, store, args.reps, command, time.perf_counter() - started)
    write_report(args.output, args.backend, text)
    print(text.split("\nWhat each endpoint reads")[0])
    failed = [what for what, ok, _ in result["checks"] if not ok]
    log(f"report written to {args.output}; {len(result['checks']) - len(failed)} checks ok, {len(failed)} failed")
    if failed:
        sys.exit(f"{len(failed)} checks failed: the dashboard's figures are not exact")


if __name__ == "__main__":
    main()
