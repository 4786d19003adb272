"""Run a call inside a named network namespace without forking.

setns(2) with CLONE_NEWNET moves only the calling thread, so a short-lived thread joins
`/run/netns/NAME`, runs the call (the netlink and IP sockets it opens live in that
namespace) and ends. pyroute2's own NetNS forks a helper process instead, which hangs a
process that already holds an event loop and threads (the demo, the stub inside it).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000
T = TypeVar("T")


def run_in_namespace(name: str, call: Callable[[], T]) -> T:
    """`call()` in a thread that has joined namespace `name`; its result, or its error.

    `OSError` when the namespace does not exist or cannot be joined (no CAP_SYS_ADMIN)."""
    result: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            fd = os.open(NETNS_DIR / name, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            failure.append(OSError(exc.errno, f"no network namespace {name!r}: {exc.strerror}"))
            return
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
            if libc.setns(fd, CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                failure.append(OSError(err, f"cannot join namespace {name!r}: {os.strerror(err)}"))
                return
            result.append(call())
        except BaseException as exc:
            failure.append(exc)
        finally:
            os.close(fd)

    thread = threading.Thread(target=run, name=f"netns-{name}")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]
