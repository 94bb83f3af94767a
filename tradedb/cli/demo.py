"""`tradedb demo`: paper bots trade a simulated market concurrently; one crashes and recovers; metrics follow.

Every run adds a new set of bots (demo1-..., demo2-..., numbered after the
runs already in the database), so running it again never changes earlier
data and the database stays valid. The simulated market ends at the
current hour, so the demo's trades are as recent as a real bot's. The same
seed gives the same trades: the same prices, sizes and moves (shifted to end
now), and the same trade ids for the same run number.

With --serve it also serves the dashboard (tradedb serve) of the database
and replays the market on an accelerated clock, a simulated hour about
every second, printing a line per simulated day; when the replay is over it
keeps serving until Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shlex
import shutil
import sys
import time
from pathlib import Path
from collections.abc import Callable, Sequence
from typing import Any

from .. import Repository, Trade
from ..dashboard import check_binding
from . import output
from .common import database_target, given_replicas, opened, require_creatable, where
from .market import HOUR, SYMBOLS, WARMUP
from .paperbot import INITIAL_BALANCE, Clock, Market, PaperBot, Tally, build_market
from .serve import given_token, serving, until_stopped
from .strategies import Position, strategy_for

# The victim crashes at the first candle past 40% of the run where it holds two positions (from halfway
# through what is left, one will do; at the last candle, whatever it holds): see PaperBot.run.
CRASH_AT = 0.4
MAX_DEMO_BOTS = 100
MAX_DEMO_DAYS = 3650  # ten years of hourly candles
# Under --serve: the replay's pace, and heartbeats every few seconds of it (a bot is stale after 5 minutes).
SECONDS_PER_HOUR = 1.0
HEARTBEAT_SECONDS = 5.0


def command_name() -> str:
    """How to run tradedb again from here: `tradedb` when that is on PATH, else the console script's path."""
    script = Path(sys.executable).with_name("tradedb")
    found = shutil.which("tradedb")
    if found is not None and script.exists() and os.path.samefile(found, script):
        return "tradedb"
    if not script.exists():  # not installed as a console script: this interpreter can still run it
        return f"{shlex.quote(sys.executable)} -m tradedb"
    try:
        shown = script.relative_to(Path.cwd())  # .venv/bin/tradedb, as the README types it
    except ValueError:
        shown = script
    # A bare name would be looked up on PATH, so a script in the current folder is ./tradedb.
    return shlex.quote(str(shown) if shown.is_absolute() or shown.parent != Path(".") else f"./{shown}")


async def next_run(repository: Repository) -> int:
    """1 + the highest demo run number among the bots already stored."""
    runs = [int(m[1]) for bot in await repository.list_bot_instances() if (m := re.match(r"demo(\d+)-bot\d", bot.id))]
    return max(runs, default=0) + 1


def describe(position: Position | Trade) -> str:
    """One line for a position: symbol, direction, size, entry price and time, trade id."""
    trade_id = position.trade_id if isinstance(position, Position) else position.id
    return (f"{position.symbol} {position.direction} {output.text(position.size)} @ "
            f"{output.text(position.entry_price)} since {output.text(position.entry_time)}  trade {trade_id}")


def hours_done(bots: Sequence[PaperBot]) -> int:
    """The simulated hours every bot has traded."""
    return max(0, min(bot.done for bot in bots) - WARMUP + 1)


async def supervise(bots: Sequence[PaperBot], tasks: dict[str, asyncio.Task[None]], progress: output.Progress,
                    hours: int, until: Sequence[asyncio.Event] = (),
                    narrate: Callable[[Sequence[PaperBot]], None] | None = None) -> None:
    """Wait until every task ends (or one of `until` is set), redrawing progress; a bot that fails stops the demo."""
    while not all(task.done() for task in tasks.values()) and not any(event.is_set() for event in until):
        await asyncio.wait(set(tasks.values()), timeout=0.05, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks.values():
            error = task.exception() if task.done() and not task.cancelled() else None
            if error is not None:
                raise error
        if narrate is not None:
            narrate(bots)
        progress.update(f"trading: hour {hours_done(bots)}/{hours}")


class Narrator:
    """Under --serve, a line per simulated day: what the bots opened and closed, and where their books stand."""

    def __init__(self, market: Market, tally: Tally, days: int, progress: output.Progress) -> None:
        self.market = market
        self.tally = tally
        self.days = days
        self.progress = progress
        tally.tell = self.say
        self.told = 0  # days told so far
        self.seen = Tally()  # the tally as the last line told it

    def __call__(self, bots: Sequence[PaperBot]) -> None:
        while self.told < min(self.days, hours_done(bots) // 24):
            self.told += 1
            now, seen = self.tally, self.seen
            opened, closed = now.opened - seen.opened, now.closed - seen.closed
            holding = sum(len(bot.positions) for bot in bots)
            self.say(f"{output.text(self.market.start + self.told * 24 * HOUR)}  "
                     f"day {self.told}/{self.days} done: {opened} opened, {closed} closed "
                     f"(net PnL {output.text(now.net_pnl - seen.net_pnl)}); {holding} open now; so far "
                     f"{output.plural(now.closed, 'trade')} closed ({now.wins} won), "
                     f"net PnL {output.text(now.net_pnl)}")
            self.seen = Tally(now.opened, now.closed, now.wins, now.net_pnl)

    def say(self, line: str) -> None:
        """Print a line at once (the output may be a pipe), under the progress line."""
        self.progress.clear()
        print(line, flush=True)


async def crash_and_recover(
    victim: PaperBot, tasks: dict[str, asyncio.Task[None]], progress: output.Progress
) -> PaperBot:
    """Cancel the victim's task with its positions open, then restart it and show what start_bot recovered."""
    held = list(victim.positions.values())
    task = tasks[victim.bot_id]
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    crashed_at = next(iter(victim.market.candles.values()))[victim.done].close_time
    progress.clear()
    print(f"\n{output.text(crashed_at)}  CRASH: {victim.bot_id} killed (task cancelled) "
          f"holding {output.plural(len(held), 'open position')} in memory:")
    for position in held:
        print(f"    {describe(position)}")
    print("    (a bot killed so stays 'running' with no heartbeats, and `tradedb bots` marks it STALE after 5 minutes;"
          " this one is restarted at once)")
    reborn = PaperBot(victim.repository, victim.bot_id, victim.strategy, victim.market,
                      clock=victim.clock, tally=victim.tally, heartbeat_every=victim.heartbeat_every)
    recovered = await reborn.start(first=False, resume_at=victim.done + 1)
    same = sorted(t.id for t in recovered) == sorted(p.trade_id for p in held)
    print(f"{output.text(crashed_at)}  RESTART: start_bot({victim.bot_id!r}) recovered "
          f"{output.plural(len(recovered), 'open position')} from the database:")
    for trade in recovered:
        print(f"    {describe(trade)}")
    print(f"    the same trades the killed bot held: {'yes' if same else 'NO'}; it trades on from there\n", flush=True)
    tasks[victim.bot_id] = asyncio.create_task(reborn.run(), name=victim.bot_id)
    return reborn


async def report(repository: Repository, bots: Sequence[PaperBot]) -> None:
    """Compute and store each bot's metrics, then print one line per bot."""
    rows: list[dict[str, Any]] = []
    for bot in bots:
        stopped = await repository.stop_bot(bot.bot_id)
        metrics = await repository.calculate_performance_metrics(bot.bot_id, starting_balance=INITIAL_BALANCE)
        summary = await repository.get_trade_summary(bot_id=bot.bot_id)
        rows.append({
            "bot": bot.bot_id, "closed": summary.get("closed_trades"), "open": summary.get("open_trades"),
            "win_rate_%": summary.get("win_rate"), "net_pnl": summary.get("total_net_pnl"),
            "return_%": metrics.total_return, "max_drawdown_%": metrics.max_drawdown,
            "sharpe": metrics.sharpe_ratio, "balance": stopped.current_balance,
        })
    print("Per bot (metrics computed from the closed trades and stored in performance_metrics):")
    output.table(rows, list(rows[0]))
    sys.stdout.flush()


async def run_demo(options: argparse.Namespace) -> int:
    """Run the demo on --database (default db/trading.db), creating and migrating it if needed."""
    started = time.monotonic()
    target = database_target(options)
    if isinstance(target, Path):
        require_creatable(target)
    if options.serve:
        check_binding(options.host, given_token(options))  # before the database is created
    market: Market = build_market(options.seed, options.days)
    if not options.serve:
        async with opened(target, migrate=True, replicas=given_replicas(options)) as repository:
            await trade(repository, options, market, target)
        print(f"\nDone in {time.monotonic() - started:.1f}s. {look_around(options, target)}")
        return 0
    async with opened(target, migrate=True, replicas=given_replicas(options)) as repository:
        async with serving(repository, options) as server:
            stop = asyncio.create_task(until_stopped())
            stopped = asyncio.Event()
            stop.add_done_callback(lambda _: stopped.set())
            try:
                finished = await trade(repository, options, market, target, stopped=stopped)
                print(f"\n{'Done' if finished else 'Stopped'} after {time.monotonic() - started:.1f}s. "
                      f"{look_around(options, target)}", flush=True)
                if finished:
                    print(f"\nThe replay is over; the dashboard keeps serving at {server.address} "
                          "until Ctrl-C", flush=True)
                    await stop
            finally:
                stop.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await stop
    print("tradedb dashboard stopped", flush=True)
    return 0


async def trade(repository: Repository, options: argparse.Namespace, market: Market, target: Path | str,
                stopped: asyncio.Event | None = None) -> bool:
    """Start the bots, trade the market (paced when `stopped` is given: --serve), crash one, report.

    False when `stopped` was set before the replay's end (its bots are stopped and reported all the same).
    """
    hours = options.days * 24
    progress = output.Progress(output.interactive())
    paced = stopped is not None
    clock = Clock(WARMUP, SECONDS_PER_HOUR) if paced else None
    tally = Tally()
    heartbeat_every = max(1, round(HEARTBEAT_SECONDS / SECONDS_PER_HOUR)) if paced else 24
    run = await next_run(repository)
    bots = [PaperBot(repository, f"demo{run}-bot{n}-{strategy_for(n).slug}", strategy_for(n), market,
                     clock=clock, tally=tally, heartbeat_every=heartbeat_every)
            for n in range(1, options.bots + 1)]
    print(f"tradedb demo: seed {options.seed}, {output.plural(options.bots, 'paper bot')}, "
          f"{output.plural(options.days, 'day')} of hourly candles from {output.text(market.start)} "
          f"to {output.text(market.start + hours * HOUR)} ({', '.join(SYMBOLS)})")
    print(f"database {where(target)}, run {run} (earlier runs are left as they are)\n")
    for bot in bots:
        await bot.start(first=True, resume_at=WARMUP)
        s = bot.strategy
        print(f"  started {bot.bot_id}: {s.entry_logic_name} + {s.exit_logic_name}, "
              f"balance {output.text(INITIAL_BALANCE)}")
    if clock is not None:
        print(f"\nReplaying the market at {output.plural(round(1 / SECONDS_PER_HOUR), 'simulated hour')} a second "
              f"(about {output.plural(-(-int(hours * SECONDS_PER_HOUR) // 60), 'minute')}); "
              "watch the dashboard, Ctrl-C stops", flush=True)
        clock.start()
    narrate = Narrator(market, tally, options.days, progress) if paced else None
    victim = bots[0]
    crash = asyncio.Event()
    crash_from = WARMUP + max(1, int(hours * CRASH_AT))
    tasks = {bot.bot_id: asyncio.create_task(bot.run(crash if bot is victim else None, crash_from), name=bot.bot_id)
             for bot in bots}
    until = () if stopped is None else (stopped,)
    try:
        await supervise(bots, tasks, progress, hours, until=(crash, *until), narrate=narrate)
        if crash.is_set() and not any(event.is_set() for event in until):
            bots[0] = await crash_and_recover(victim, tasks, progress)
            await supervise(bots, tasks, progress, hours, until=until, narrate=narrate)
    finally:
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
        progress.clear()
    finished = stopped is None or not stopped.is_set()
    if not finished:
        print(f"\nStopped at hour {hours_done(bots)}/{hours}: the bots stop here.", flush=True)
    await report(repository, bots)
    return finished


def look_around(options: argparse.Namespace, target: Path | str) -> str:
    """Commands to look at the database the demo wrote."""
    tradedb = command_name()
    if isinstance(target, Path):
        hint = "" if options.database is None else f" --database {shlex.quote(options.database)}"
        shell = f"sqlite3 {shlex.quote(str(target))}"
    else:
        # The URL without its password: psql and tradedb find it in $PGPASSWORD or ~/.pgpass.
        location = where(target)
        hint = "" if options.database is None else f" --database {shlex.quote(location)}"
        shell = f"psql {shlex.quote(location)}"
        if location != target:
            shell += " (the password is left out: give it in $PGPASSWORD or ~/.pgpass)"
    return (f"Look around: {tradedb} bots{hint}; {tradedb} trades --open{hint}; {tradedb} summary{hint}; {shell}")
