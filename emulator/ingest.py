"""The ingest writer of the embedded broker: one thread that stores device messages in
batches (group commit).

The embedded broker's gate hands each device message to `BatchWriter.store` and lets amqtt
acknowledge it only when the batch holding it is committed (SQLite WAL,
`synchronous=FULL`). Messages that arrive while a batch is being written form the next
batch, so an fsync is shared by everything in flight: one transaction per batch, not per
message. Outcomes come back in submission order. (The external broker's client batches
the same way on its own thread: `mqtt_client`.)
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from emulator.models.device_messages import Incoming, Outcome, Verdict
from emulator.models.devices import DeviceReports

log = logging.getLogger(__name__)

Result = Outcome | BaseException
Done = Callable[[Result], None]
DEFAULT_MAX_BATCH: Final = 1000


class IngestError(RuntimeError):
    """A message could not be stored (database failure, or the writer is stopped)."""


@dataclass
class IngestCounts:
    """How many messages got each verdict, and how many batches were written."""

    verdicts: dict[Verdict, int] = field(default_factory=lambda: dict.fromkeys(Verdict, 0))
    batches: int = 0
    failures: int = 0
    last_lag: float = 0.0
    """Seconds the oldest message of the last batch waited, from receipt to commit."""
    writing_since: float | None = None
    """`time.monotonic()` of the receipt of the oldest message of the batch being written."""

    def lag(self, now: float | None = None) -> float:
        """Ingest lag in seconds: how long the oldest message of the batch now being
        written has waited, else how long the last batch's oldest waited."""
        since = self.writing_since
        if since is None:
            return self.last_lag
        return max(self.last_lag, (time.monotonic() if now is None else now) - since)

    @property
    def stored(self) -> int:
        """Messages that changed the books (new usage, changed state or status)."""
        return self.verdicts[Verdict.STORED]

    def to_dict(self) -> dict[str, int]:
        """`{"stored", "duplicate", "ignored", "rejected", "batches", "failures"}`."""
        counts = {verdict.value: count for verdict, count in self.verdicts.items()}
        return {**counts, "batches": self.batches, "failures": self.failures}


class BatchWriter:
    """Stores `Incoming` messages through `DeviceReports.ingest` on its own thread."""

    def __init__(self, devices: DeviceReports, *, max_batch: int = DEFAULT_MAX_BATCH) -> None:
        self._devices = devices
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[tuple[Incoming, Done, float] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.counts = IngestCounts()

    @property
    def running(self) -> bool:
        """True between `start()` and `stop()`."""
        return self._thread is not None

    def start(self) -> None:
        """Start the writer thread (idempotent)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="simgate-ingest-writer", daemon=True
                )
                self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Store everything already submitted, then end the thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)
            if thread.is_alive():
                log.error("MQTT ingest: the writer did not finish within %.0f s", timeout)

    def submit(self, message: Incoming, done: Done) -> None:
        """Queue a message; `done(outcome)` (or `done(exception)`) is called on the writer
        thread once its batch is committed (or failed)."""
        if self._thread is None:
            done(IngestError("the ingest writer is not running"))
            return
        self._queue.put((message, done, time.monotonic()))

    async def store(self, message: Incoming) -> Outcome:
        """`submit` from asyncio: the outcome once the message is durably decided.

        Raises `IngestError` when it could not be stored."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self.submit(message, _Settle(loop, future))
        result = await future
        if isinstance(result, BaseException):
            raise IngestError(str(result)) from result
        return result

    def _run(self) -> None:
        stopping = False
        while not stopping:
            item = self._queue.get()
            if item is None:
                break
            batch = [item]
            while len(batch) < self._max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                batch.append(more)
            self._write(batch)

    @property
    def backlog(self) -> int:
        """Messages waiting for the writer (approximate)."""
        return self._queue.qsize()

    def _write(self, batch: list[tuple[Incoming, Done, float]]) -> None:
        results: list[Result]
        oldest = min(received for _, _, received in batch)
        self.counts.writing_since = oldest
        try:
            outcomes = self._devices.ingest([message for message, _, _ in batch])
        except Exception as exc:  # sqlite3.Error, OSError: nothing of the batch was kept
            log.error("MQTT ingest: could not store %d message(s): %s", len(batch), exc)
            self.counts.failures += len(batch)
            results = [exc] * len(batch)
        else:
            self.counts.batches += 1
            for outcome in outcomes:
                self.counts.verdicts[outcome.verdict] += 1
            results = list(outcomes)
        self.counts.last_lag = time.monotonic() - oldest
        self.counts.writing_since = None
        # Futures of one event loop are settled by one call_soon_threadsafe per batch: a
        # wake-up of the loop per message cost more than storing it (10,000 devices).
        settles: dict[asyncio.AbstractEventLoop, list[tuple[_Settle, Result]]] = {}
        for (_, done, _), result in zip(batch, results, strict=True):
            if isinstance(done, _Settle):
                settles.setdefault(done.loop, []).append((done, result))
                continue
            try:
                done(result)
            except Exception:
                log.exception("MQTT ingest: an acknowledgement callback failed")
        for loop, pairs in settles.items():
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                loop.call_soon_threadsafe(_settle_all, pairs)


class _Settle:
    """The `done` of `BatchWriter.store`: resolves an asyncio future on its own loop."""

    __slots__ = ("future", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[Result]) -> None:
        self.loop = loop
        self.future = future

    def __call__(self, result: Result) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is already closed
            self.loop.call_soon_threadsafe(_settle_all, [(self, result)])


def _settle_all(pairs: list[tuple[_Settle, Result]]) -> None:
    """On the loop's thread: set every future's result."""
    for settle, result in pairs:
        if not settle.future.done():
            settle.future.set_result(result)


GC_THRESHOLDS: Final = (50_000, 20, 100)
"""Young collections every 50,000 allocations, full ones after 100 middle ones."""


def tune_gc() -> None:
    """Keep the cyclic garbage collector from stalling a server that holds many
    connections. A full collection walks every live object: with 10,000 devices on the
    embedded broker (~600 MiB of sessions) each took 0.8 to 6.6 s, collected nothing, and
    held every acknowledgement meanwhile (p99 6.5 s). What exists at start (modules,
    schemas, the app) is frozen out of the collector's view, and collections are made
    rarer; reference counting still frees all garbage that has no cycle, which is nearly
    all of it."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    if _log_long_collections not in gc.callbacks:
        gc.callbacks.append(_log_long_collections)


LONG_COLLECTION: Final = 0.1
"""A collection that holds the process longer than this (seconds) is logged."""
_collection_started: list[float] = []


def _log_long_collections(phase: str, info: dict[str, int]) -> None:
    """Log a collection (of any generation) that held every acknowledgement for long
    (`tune_gc`)."""
    if phase == "start":
        _collection_started[:] = [time.perf_counter()]
        return
    if not _collection_started:
        return
    held = time.perf_counter() - _collection_started.pop()
    if held > LONG_COLLECTION:
        log.warning(
            "garbage collection of generation %d held the process for %.2f s (%d collected)",
            info.get("generation", -1),
            held,
            info.get("collected", 0),
        )
