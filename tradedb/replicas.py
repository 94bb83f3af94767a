"""Read replicas on PostgreSQL: reads spread over streaming standbys, with read-your-writes for this repository.

A ReplicatedDatabase is the Database the repository awaits: writes,
transactions, health and migrations go to the primary; a read outside a
transaction goes to a replica, chosen in turn among those the background
check finds reachable and no further behind than max_replica_lag.

Read-your-writes: after each write this repository commits, it notes the
primary's WAL position (pg_current_wal_lsn(), which is past the commit). A
later read waits until the chosen replica has replayed that far
(pg_last_wal_replay_lsn()), checking every few milliseconds up to
replica_wait seconds, then reads from the primary instead. Other processes'
writes are not waited for: their changes appear on the replica as it
replays them (its lag, which health reports).

A replica that fails a read, or that the check finds down or too far
behind, is skipped until the check finds it well again; the change is
logged once, never raised: the read goes to another replica or the primary.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from .database import Session
from .errors import DatabaseBusy, ServerUnreachable, TradeDBError
from .queries import QUERIES

Result = TypeVar("Result")
WAL_POSITION = QUERIES["server_wal_position"]
CHECK_INTERVAL = 1.0
# How often a read waiting for a replica to replay this repository's last write looks again.
WAIT_STEP = 0.005
log = logging.getLogger("tradedb.replicas")


@dataclass
class ReplicaState:
    """What the last check (or read) found of one replica."""

    location: str
    reachable: bool = False
    in_recovery: bool | None = None
    replayed: int = 0  # WAL bytes replayed (pg_last_wal_replay_lsn() - '0/0')
    lag_bytes: int | None = None
    lag_seconds: float | None = None
    error: str | None = None
    usable: bool = False
    checked: bool = False  # found at least once: only later changes are news
    reads: int = 0

    def report(self) -> dict[str, Any]:
        """The health report's entry for this replica."""
        return {
            "replica": self.location, "reachable": self.reachable, "in_recovery": self.in_recovery,
            "replay_lag_seconds": None if self.lag_seconds is None else round(self.lag_seconds, 3),
            "replay_lag_bytes": self.lag_bytes, "used_for_reads": self.usable, "reads_served": self.reads,
            **({"error": self.error} if self.error else {}),
        }


def _wal_position(session: Session) -> tuple[int, bool, float | None]:
    """(WAL position in bytes: replayed on a standby, written on a primary; in recovery; seconds since the last replayed commit)."""
    position, in_recovery, replay_age = session.one(WAL_POSITION, {})
    return int(position or 0), bool(in_recovery), None if replay_age is None else float(replay_age)


class ReplicatedDatabase:
    """A primary and its read replicas, behind the one Database interface."""

    dialect = "postgresql"
    path: Path | None = None

    def __init__(self, primary: Any, replicas: Sequence[Any], *, replica_wait: float, max_replica_lag: float) -> None:
        self.primary = primary
        self.replicas = list(replicas)
        self.replica_wait = replica_wait
        self.max_replica_lag = max_replica_lag
        self.states = [ReplicaState(replica.location) for replica in self.replicas]
        self._turn = itertools.count()
        self._written = 0  # the primary's WAL position after this repository's last write
        self._checker: asyncio.Task[None] | None = None
        self._samples: collections.deque[tuple[float, int]] = collections.deque()
        self.busy_timeout = primary.busy_timeout

    @property
    def location(self) -> str:
        """The primary's URL without the password."""
        return str(self.primary.location)

    def default_backup_path(self) -> Path:
        """As the primary's (backups are taken from the primary)."""
        return self.primary.default_backup_path()  # type: ignore[no-any-return]

    async def open(self) -> None:
        """Check each replica once (a replica that is down now is skipped, not an error), then keep checking."""
        await self.check()
        self._checker = asyncio.create_task(self._keep_checking(), name="tradedb-replica-check")

    async def close(self) -> None:
        """Stop checking and close every connection."""
        if self._checker is not None:
            self._checker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checker
            self._checker = None
        for replica in self.replicas:
            await replica.close()
        await self.primary.close()

    # Where calls go

    async def write(self, unit: Callable[..., Result], *args: Any) -> Result:
        """On the primary; then note its WAL position, which this repository's reads wait for."""
        result = await self.primary.write(unit, *args)
        if not self.primary.in_transaction():
            await self._note_write()
        return result  # type: ignore[no-any-return]

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """On the primary, reads inside it too; its commit is waited for like a write's."""
        outermost = not self.primary.in_transaction()
        async with self.primary.transaction():
            yield
        if outermost:
            await self._note_write()

    async def inspect(self, unit: Callable[..., Result], *args: Any) -> Result:
        """Health and schema checks: on the primary."""
        return await self.primary.inspect(unit, *args)  # type: ignore[no-any-return]

    async def backup(self, dest: Path) -> None:
        await self.primary.backup(dest)

    def bulk(self) -> contextlib.AbstractAsyncContextManager[None]:
        """The primary's (writes go there)."""
        return self.primary.bulk()  # type: ignore[no-any-return]

    def changes(self, interval: float) -> AsyncIterator[int]:
        """The primary's notifications (a standby does not relay NOTIFY)."""
        return self.primary.changes(interval)  # type: ignore[no-any-return]

    def in_transaction(self) -> bool:
        return bool(self.primary.in_transaction())

    async def read(self, unit: Callable[..., Result], *args: Any) -> Result:
        """On a replica that has replayed this repository's last write, else on the primary."""
        if self.primary.in_transaction():
            return await self.primary.read(unit, *args)  # type: ignore[no-any-return]
        usable = [i for i, state in enumerate(self.states) if state.usable]
        if usable:
            start = next(self._turn)
            for offset in range(len(usable)):
                index = usable[(start + offset) % len(usable)]
                if not await self._caught_up(index):
                    continue
                try:
                    result = await self.replicas[index].read(unit, *args)
                except (ServerUnreachable, DatabaseBusy) as error:
                    # Down, or a query cancelled by the standby's replay (a recovery conflict): elsewhere.
                    self._set(index, usable=False, reachable=isinstance(error, DatabaseBusy), error=str(error))
                    continue
                self.states[index].reads += 1
                log.debug("read on replica %s", self.states[index].location)
                return result  # type: ignore[no-any-return]
        log.debug("read on the primary")
        return await self.primary.read(unit, *args)  # type: ignore[no-any-return]

    # Read-your-writes

    async def _note_write(self) -> None:
        if not self.replicas:
            return
        try:
            position, _, _ = await self.primary.inspect(_wal_position)
        except TradeDBError:
            # The write committed; without the position, reads go to the primary until the next write.
            position = 1 << 62
        self._written = max(self._written, position)

    async def _caught_up(self, index: int) -> bool:
        """Whether replica `index` has replayed this repository's last write, waiting up to replica_wait for it."""
        state = self.states[index]
        if state.replayed >= self._written:
            return True
        deadline = time.monotonic() + self.replica_wait
        while True:
            try:
                position, _, _ = await self.replicas[index].inspect(_wal_position)
            except TradeDBError as error:
                self._set(index, usable=False, reachable=False, error=str(error))
                return False
            state.replayed = max(state.replayed, position)
            if position >= self._written:
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(WAIT_STEP)

    # The background check

    async def _keep_checking(self) -> None:
        while True:
            await asyncio.sleep(CHECK_INTERVAL)
            try:
                await self.check()
            except Exception as error:  # never let the checker die: log it, and look again next time
                log.warning("checking the read replicas failed: %s", error)

    async def check(self) -> None:
        """Look at every replica now: reachable, in recovery, replay lag in bytes and seconds; usable for reads or not."""
        now = time.monotonic()
        try:
            primary_position, _, _ = await self.primary.inspect(_wal_position)
        except TradeDBError:
            primary_position = None
        else:
            self._samples.append((now, primary_position))
            while self._samples and now - self._samples[0][0] > max(60.0, 2 * self.max_replica_lag):
                self._samples.popleft()
        for index, replica in enumerate(self.replicas):
            try:
                position, in_recovery, _ = await asyncio.wait_for(replica.inspect(_wal_position),
                                                                          timeout=max(2.0, self.busy_timeout))
            except (TradeDBError, TimeoutError) as error:
                self._set(index, usable=False, reachable=False,
                          error=str(error) or "no answer within the busy timeout")
                continue
            state = self.states[index]
            state.replayed = max(state.replayed, position)
            state.in_recovery = in_recovery
            behind = None if primary_position is None else max(0, primary_position - position)
            state.lag_bytes = behind
            if not in_recovery:
                # The primary itself, another database, a promoted standby: its WAL position says nothing
                # of this primary's writes, so it could never serve read-your-writes.
                state.lag_seconds = None
                self._set(index, usable=False, reachable=True,
                          error="not a standby (pg_is_in_recovery() is false): give the URL of a streaming standby "
                                "of the primary")
                continue
            lag = self._seconds_behind(position, now)
            state.lag_seconds = lag
            too_far = lag is None or lag > self.max_replica_lag
            self._set(index, usable=not too_far, reachable=True,
                      error=f"replay lag {lag:.1f} s is past max_replica_lag ({self.max_replica_lag:g} s)"
                      if too_far and lag is not None else None)

    def _seconds_behind(self, position: int, now: float) -> float | None:
        """How long ago the primary was first past `position`, from the positions sampled at each check.

        Not now() - pg_last_xact_replay_timestamp(): on an idle primary that
        grows with the time since the last commit, though nothing is missing.
        """
        for sampled_at, sampled in self._samples:
            if sampled > position:
                return now - sampled_at
        return 0.0 if self._samples else None

    def _set(self, index: int, *, usable: bool, reachable: bool, error: str | None) -> None:
        """Record a replica's state, logging once when it starts or stops serving reads."""
        state = self.states[index]
        if state.usable != usable and (state.checked or not usable):
            if usable:
                log.warning("read replica %s is back: reads go to it again", state.location)
            else:
                log.warning("read replica %s is skipped (%s): reads go to %s", state.location, error or "unusable",
                            "another replica" if any(s.usable for s in self.states if s is not state) else "the primary")
        state.usable, state.reachable, state.error, state.checked = usable, reachable, error, True

    def replica_report(self) -> list[dict[str, Any]]:
        """Each replica as the last check found it (for health and `tradedb status`)."""
        return [state.report() for state in self.states]
