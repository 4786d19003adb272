"""The garbage collector of a server holding a fleet: thresholds set, long pauses logged.

A collection holds every acknowledgement while it runs; with 10,000 devices connected a
middle-generation one took 0.4 to 0.7 s. `tune_gc` sets the thresholds and logs each
collection longer than `LONG_COLLECTION` (a warning of `emulator.ingest`), so a latency
tail in the field can be matched with its cause.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Iterator

import pytest

from emulator import ingest


@pytest.fixture
def tuned() -> Iterator[None]:
    """`tune_gc()` for one test; the interpreter's own settings back afterwards."""
    thresholds = gc.get_threshold()
    callbacks = list(gc.callbacks)
    ingest.tune_gc()
    try:
        yield
    finally:
        gc.callbacks[:] = callbacks
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def test_tune_gc_sets_the_thresholds_and_watches_once(tuned: None) -> None:
    ingest.tune_gc()  # a second call adds no second watcher
    assert gc.get_threshold() == ingest.GC_THRESHOLDS
    assert gc.callbacks.count(ingest._log_long_collections) == 1


def test_a_long_collection_is_logged_and_a_short_one_is_not(
    tuned: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="emulator.ingest")
    watch = ingest._log_long_collections  # called with the phases Python reports
    watch("start", {"generation": 0})
    watch("stop", {"generation": 0, "collected": 3})
    assert not [r for r in caplog.records if "garbage collection" in r.message]
    watch("start", {"generation": 2})
    time.sleep(ingest.LONG_COLLECTION + 0.05)
    watch("stop", {"generation": 2, "collected": 7})
    (record,) = [r for r in caplog.records if "garbage collection" in r.message]
    assert record.levelno == logging.WARNING
    assert "generation 2" in record.message
    assert "(7 collected)" in record.message
