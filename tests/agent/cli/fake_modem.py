"""A tiny modem on a real pty that answers from a table: for answers no stub would give."""

from __future__ import annotations

import contextlib
import os
import select
import threading
import tty
from collections.abc import Mapping


class TableModem:
    """Answers each command line with `answers[line]`, else `default` (None: silence);
    `path` is the tty."""

    def __init__(self, answers: Mapping[str, str], *, default: str | None = "OK") -> None:
        self.answers = dict(answers)
        self.default = default
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.path = os.ttyname(slave)
        os.close(slave)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="sgao-table-modem", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        buffer = b""
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                buffer += os.read(self.master, 4096)
            except OSError:
                continue  # no reader on the other side yet, or it hung up
            while b"\r" in buffer:
                line, buffer = buffer.split(b"\r", 1)
                command = line.strip().decode(errors="replace")
                if not command:
                    continue
                answer = self.answers.get(command.upper(), self.default)
                if answer is None:
                    continue
                with contextlib.suppress(OSError):
                    os.write(self.master, f"\r\n{answer}\r\n".encode())

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        os.close(self.master)
