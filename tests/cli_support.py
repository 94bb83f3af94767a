"""What the CLI tests share: running the command, and a populated sample database."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import tradedb

UTC = timezone.utc
T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
SCRIPT = Path(sys.executable).with_name("tradedb")


@dataclass
class Result:
    code: int
    out: str
    err: str


def cli(*args: str, cwd: Path, script: bool = False, env: dict[str, str] | None = None) -> Result:
    """Run `python -m tradedb ARGS` (or the console script) in `cwd`, never near the repository's db/; `env` added."""
    # Not a terminal, and no COLUMNS from the shell running the tests: tables are 120 columns unless `env` says.
    env = {k: v for k, v in os.environ.items() if k not in ("TRADEDB_DATABASE", "COLUMNS", "LINES")} | (env or {})
    command = [str(SCRIPT)] if script else [sys.executable, "-m", "tradedb"]
    done = subprocess.run([*command, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    return Result(done.returncode, done.stdout, done.stderr)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_one_line_error(result: Result, *words: str) -> None:
    assert result.code != 0, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert "Traceback" not in result.err and "error:" in lines[0]
    for word in words:
        assert word in lines[0], lines[0]


async def populate(path: Path) -> None:
    """Three bots (one stale), open and closed trades with awkward amounts, and an old metrics row."""
    now = datetime.now(UTC)
    async with tradedb.connect(path) as repo:
        await repo.create_bot_instance({"id": "alpha", "type": "paper", "current_balance": "1000"})
        await repo.create_bot_instance({"id": "beta", "type": "live", "current_balance": "250",
                                        "last_heartbeat": now - timedelta(hours=1)})
        await repo.create_bot_instance({"id": "gamma", "type": "paper", "status": "stopped"})
        common = {"bot_id": "alpha", "trade_type": "paper", "entry_logic_name": "E", "exit_logic_name": "X",
                  "interval": "1h"}
        long = await repo.create_trade({**common, "symbol": "BTCUSDT", "direction": "long", "entry_time": T0,
                                        "entry_price": "50000", "size": "0.1"})
        await repo.close_trade(long.id, exit_price="51000", exit_time=T0 + timedelta(days=1), commission="2.5")
        short = await repo.create_trade({**common, "symbol": "ETHUSDT", "direction": "short",
                                         "entry_time": T0 + timedelta(hours=12), "entry_price": "3000", "size": "1"})
        await repo.close_trade(short.id, exit_price="3100", exit_time=T0 + timedelta(days=2))
        await repo.create_trade({**common, "symbol": "SOLUSDT", "direction": "long",
                                 "entry_time": T0 + timedelta(days=3), "entry_price": "100.5", "size": "0.00000001"})
        recent = await repo.create_trade({**common, "symbol": "BTCUSDT", "direction": "long",
                                          "entry_time": now - timedelta(days=2), "entry_price": "60000", "size": "0.01"})
        await repo.close_trade(recent.id, exit_price="60100", exit_time=now - timedelta(days=1))
        await repo.create_performance_metrics({"bot_id": "alpha", "calculated_at": now - timedelta(days=800)})
