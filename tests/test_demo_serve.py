"""`tradedb demo --serve`: the dashboard while the bots replay the market on an accelerated clock, then until Ctrl-C."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

import tradedb

ADDRESS = re.compile(r"tradedb dashboard of .* at (http://\S+/) \(read-only\)")


class Demo:
    """`tradedb demo --serve ...` in a subprocess, its output read line by line as it comes."""

    def __init__(self, database: Path | str, *args: str, cwd: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("TRADEDB_DATABASE", "TRADEDB_DASHBOARD_TOKEN")}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tradedb", "demo", "--serve", "--port", "0", *args, "--database", str(database)],
            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        """The first line (from the start of the output) matching `pattern`, waiting up to `timeout` seconds."""
        found = next((m for line in self.lines if (m := re.search(pattern, line))), None)
        deadline = time.monotonic() + timeout
        while found is None:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
            found = re.search(pattern, line)
        assert found is not None, f"no line matching {pattern!r} within {timeout} s:\n" + "\n".join(self.lines)
        return found

    def output(self) -> str:
        """Everything printed so far (once the process has ended: all of it)."""
        while True:
            try:
                line = self._queue.get(timeout=0.5 if self.process.poll() is not None else 0)
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
        return "\n".join(self.lines)

    def interrupt(self, within: float) -> int:
        """Ctrl-C, and the exit status, which must come within `within` seconds."""
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=within)
        except subprocess.TimeoutExpired:
            self.process.kill()
            pytest.fail(f"still running {within} s after SIGINT:\n{self.output()}")

    def kill(self) -> None:
        """Make sure it has ended, and close its output."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=5)
        assert self.process.stdout is not None
        self.process.stdout.close()


def get(address: str, path: str) -> Any:
    with urllib.request.urlopen(address + path.lstrip("/"), timeout=5) as response:
        return json.load(response)


async def statuses(database: Path | str) -> dict[str, str]:
    async with tradedb.connect(database, migrate=False) as repo:
        return {bot.id: bot.status for bot in await repo.list_bot_instances()}


def test_the_bots_trade_on_a_clock_while_the_dashboard_shows_them_then_it_serves_until_ctrl_c(tmp_path: Path) -> None:
    # Seed 2's first day closes its trades at hours 10, 14 and 17 or so: the overview sees them come one by one.
    database = tmp_path / "demo.db"
    demo = Demo(database, "--days", "1", "--seed", "2", cwd=tmp_path)
    try:
        address = demo.wait_for(ADDRESS.pattern, 30)[1]
        demo.wait_for("Replaying the market at 1 simulated hour a second", 30)
        replay_started = time.monotonic()
        seen: list[int] = []
        while time.monotonic() - replay_started < 60:
            overview = get(address, "/api/overview")
            bots = overview["bots"]
            assert len(bots) == 3
            if all(bot["status"] == "stopped" for bot in bots):
                break
            seen.append(overview["totals"]["closed_trades"])
            for bot in bots:
                # Heartbeats every 5 simulated hours (5 s): never stale, never long silent.
                assert bot["status"] == "running" and not bot["stale"], bot
                assert bot["heartbeat_age_seconds"] is not None and bot["heartbeat_age_seconds"] < 15, bot
            time.sleep(0.5)
        replayed = time.monotonic() - replay_started
        # 24 simulated hours at about one a second, not as fast as it can (under a second without --serve).
        assert 20 < replayed < 45, replayed
        assert seen == sorted(seen), seen
        assert seen[0] == 0 and len(set(seen)) >= 3, seen  # none at first, then some, then more
        demo.wait_for("The replay is over; the dashboard keeps serving at " + re.escape(address), 15)
        out = demo.output()
        assert re.search(r"  demo1-bot\d-\S+ opens [A-Z]+USDT (long|short) ", out), out
        assert re.search(r"  demo1-bot\d-\S+ closes [A-Z]+USDT (long|short) @ .*: net PnL -?\d", out), out
        assert "day 1/1 done: " in out and "Per bot (metrics" in out
        # Still serving after the replay, the books as the report left them.
        overview = get(address, "/api/overview")
        assert overview["totals"]["closed_trades"] >= max(seen) > 0
        assert {bot["status"] for bot in overview["bots"]} == {"stopped"}
        assert demo.interrupt(within=5) == 0
        out = demo.output()
        assert out.rstrip().endswith("tradedb dashboard stopped"), out
        assert "Traceback" not in out and "interrupted" not in out
        with pytest.raises(OSError):
            get(address, "/api/overview")
    finally:
        demo.kill()


def test_ctrl_c_during_the_replay_stops_the_bots_and_exits_cleanly(database: Path | str, tmp_path: Path) -> None:
    demo = Demo(database, "--days", "2", "--bots", "2", cwd=tmp_path)
    try:
        address = demo.wait_for(ADDRESS.pattern, 30)[1]
        demo.wait_for("Replaying the market", 30)
        time.sleep(3)
        assert {bot["status"] for bot in get(address, "/api/overview")["bots"]} == {"running"}
        started = time.monotonic()
        assert demo.interrupt(within=10) == 0
        stopped_in = time.monotonic() - started
        out = demo.output()
        assert re.search(r"Stopped at hour \d+/48: the bots stop here", out), out
        assert "Per bot (metrics" in out and out.rstrip().endswith("tradedb dashboard stopped"), out
        assert "Traceback" not in out
        assert stopped_in < 5, stopped_in
    finally:
        demo.kill()
    found = asyncio.run(statuses(database))
    assert len(found) == 2 and set(found.values()) == {"stopped"}, found


def test_serving_off_loopback_without_a_token_is_refused_before_the_database_is_made(tmp_path: Path) -> None:
    database = tmp_path / "demo.db"
    env = {k: v for k, v in os.environ.items() if k not in ("TRADEDB_DATABASE", "TRADEDB_DASHBOARD_TOKEN")}
    done = subprocess.run(
        [sys.executable, "-m", "tradedb", "demo", "--serve", "--host", "0.0.0.0", "--days", "1",
         "--database", str(database)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 1 and done.stdout == ""
    assert "0.0.0.0 is reachable from other machines: give a token with --token" in done.stderr
    assert not database.exists()
