"""What both backends' exec_many share: many rows per INSERT, and reading the rows ahead in a thread.

A statement costs a database far more than a row of it: exec_many sends an
INSERT of one VALUES row as one statement for up to ROWS_PER_STATEMENT rows,
then for 64 and 8, and the last few rows one by one. The rows (create_trades
checks and converts each trade as it is read) are read, and each whole
statement's parameters bound, in a thread of their own while the database
writes the ones before, the driver letting go of Python's lock meanwhile.
README, Performance, says what each gain measured.
"""

from __future__ import annotations

import functools
import itertools
import queue
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

ROWS_PER_STATEMENT = 500
# A bulk load of at least this many rows into a table that holds no more rows
# than it brings (SQLite) or none (PostgreSQL) builds the table's indexes
# once, at its end (Session.bulk_load): W1's 100,000 trades into an empty
# table, 15-25% faster on SQLite (README, The bulk path).
DEFERRED_INDEX_ROWS = 10_000
LOADED_TABLES = frozenset({"bot_instances", "trades", "performance_metrics"})
SMALLEST_MULTI_ROW = 8
_DO_UPDATE = re.compile(r"\bDO\s+UPDATE\b", re.IGNORECASE)


def statement_sizes(most: int) -> list[int]:
    """The statement sizes exec_many uses, largest first, when a statement may hold `most` rows."""
    return [size for size in sorted({most, 64, SMALLEST_MULTI_ROW}, reverse=True) if SMALLEST_MULTI_ROW <= size <= most]


@functools.lru_cache(maxsize=64)
def multi_row_sql(sql: str, params: int, rows: int, mark: str) -> str | None:
    """`sql`, an INSERT of one VALUES row holding each of its `params` parameters once, for `rows` rows.

    `mark` is the dialect's parameter sign ("?" or "$"), each numbered on from
    row to row (row 2's ?1 is ?params+1). SQLite's are sent as a bare "?"
    where the row holds them in order, which SQLite numbers the same way: it
    looks up each "?NNN" among those before it, so a statement of 500 rows of
    29 took 0.22 s to prepare, against 5 ms. None for any other statement, and
    for an upsert that updates: PostgreSQL refuses one statement updating a
    row twice, as two rows of a batch with one key would.
    """
    sign = re.escape(mark)
    values = re.search(rf"\bVALUES\s*(\((?:\s*{sign}\d+\s*,)*\s*{sign}\d+\s*\))", sql, re.IGNORECASE)
    if values is None or _DO_UPDATE.search(sql):
        return None
    parameter = re.compile(rf"{sign}(\d+)")
    numbers = [int(number) for number in parameter.findall(values[1])]
    if sorted(numbers) != list(range(1, params + 1)) or len(parameter.findall(sql)) != params:
        return None  # a parameter outside the VALUES row, or one used twice
    row = values[1]
    if mark == "?" and numbers == sorted(numbers):
        bare = parameter.sub("?", row)
        return sql[: values.start(1)] + ", ".join([bare] * rows) + sql[values.end(1) :]
    many = ", ".join(parameter.sub(lambda m: f"{mark}{int(m[1]) + n * params}", row) for n in range(rows))
    return sql[: values.start(1)] + many + sql[values.end(1) :]


def flattened(bind: Callable[[Mapping[str, Any]], tuple[Any, ...]]) -> Callable[[list[Mapping[str, Any]]], list[Any]]:
    """The parameters of a multi-row statement from its rows: each row's in turn."""
    return lambda rows: [value for row in rows for value in bind(row)]


def recorded(rows: Iterable[Mapping[str, Any]], into: list[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    """`rows`, each also kept in `into` as it is read (for the DEBUG log)."""
    for row in rows:
        into.append(row)
        yield row


class ReadAhead(Iterator[Mapping[str, Any]]):
    """The rows of an iterator, read in a thread of its own `size` at a time, up to two batches ahead.

    `prepare`, when given, turns each whole batch into a statement's
    parameters in that thread too (whole_batch() hands them over), so that the
    database's thread only sends them. Its error is raised where it happened
    in the order of the rows. Only this thread reads the iterator until it is
    done, or until close().
    """

    _END = object()

    def __init__(
        self, rows: Iterator[Mapping[str, Any]], size: int,
        prepare: Callable[[list[Mapping[str, Any]]], Any] | None = None,
    ) -> None:
        self._batches: queue.Queue[Any] = queue.Queue(maxsize=2)
        self._stopped = threading.Event()
        self._current: Iterator[Mapping[str, Any]] = iter(())
        self._done = False
        self._thread = threading.Thread(
            target=self._read, args=(rows, size, prepare), name="tradedb-read-ahead", daemon=True
        )
        self._thread.start()

    def _read(
        self, rows: Iterator[Mapping[str, Any]], size: int, prepare: Callable[[list[Mapping[str, Any]]], Any] | None
    ) -> None:
        batch: list[Mapping[str, Any]] = []
        try:
            for row in rows:
                batch.append(row)
                if len(batch) == size:
                    if not self._put((batch, self._prepared(prepare, batch))):
                        return
                    batch = []
            if self._put((batch, None)):
                self._put(self._END)
        except BaseException as error:  # noqa: BLE001 - handed to the reader, in its place among the rows
            if self._put((batch, None)):
                self._put(error)

    @staticmethod
    def _prepared(prepare: Callable[[list[Mapping[str, Any]]], Any] | None, batch: list[Mapping[str, Any]]) -> Any:
        if prepare is None:
            return None
        try:
            return prepare(batch)
        except Exception:  # noqa: BLE001 - the reader prepares the rows itself and meets the error in its place
            return None

    def _put(self, item: Any) -> bool:
        while not self._stopped.is_set():
            try:
                self._batches.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _next_batch(self) -> Any:
        """The next (rows, prepared) read ahead; None at the end."""
        if self._done:
            return None
        item = self._batches.get()
        if item is self._END:
            self._done = True
            return None
        if isinstance(item, BaseException):
            self._done = True
            raise item
        return item

    def whole_batch(self) -> Any:
        """The prepared parameters of the next whole batch, its rows taken; None when rows are left to iterate
        (a short last batch, one `prepare` refused) or at the end."""
        for row in self._current:  # rows of a batch begun one by one come first
            self._current = itertools.chain((row,), self._current)
            return None
        item = self._next_batch()
        if item is None:
            return None
        rows, prepared = item
        if prepared is None:
            self._current = iter(rows)
        return prepared

    def __next__(self) -> Mapping[str, Any]:
        while True:
            for row in self._current:
                return row
            item = self._next_batch()
            if item is None:
                raise StopIteration
            self._current = iter(item[0])

    def close(self) -> None:
        """Stop reading (a reader that stops early); the thread ends at its next batch."""
        self._stopped.set()
        self._thread.join()
