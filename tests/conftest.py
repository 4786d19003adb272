"""Suite-wide fixtures: every test must leave no thread and no asyncio task behind."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def no_leftover_threads() -> Iterator[None]:
    """Fail a test that leaves a thread running (a stub, server or client not stopped)."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 2.0
    while True:
        leftover = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not leftover or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    assert not leftover, f"test left threads running: {[t.name for t in leftover]}"
