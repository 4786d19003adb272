"""Suite-wide fixtures: every test must leave no thread and no asyncio task behind."""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
import time
from collections.abc import Awaitable, Callable, Iterator

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


def _fail_on_leftover_tasks(test: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    @functools.wraps(test)
    async def checked(*args: object, **kwargs: object) -> None:
        await test(*args, **kwargs)
        await asyncio.sleep(0)  # let tasks that were just cancelled finish
        current = asyncio.current_task()
        leftover = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
        for task in leftover:
            task.cancel()
        assert not leftover, f"test left asyncio tasks running: {leftover}"

    return checked


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Wrap every coroutine test so that it fails when it leaves a task running."""
    for item in items:
        if isinstance(item, pytest.Function) and inspect.iscoroutinefunction(item.obj):
            item.obj = _fail_on_leftover_tasks(item.obj)
