"""The daemon's control socket: one-shot status commands answered by the port's owner.

While the daemon holds a port, `sim status`, `net status`, `internet status` and `usage`
must not open it a second time; they connect to this unix socket instead (beside the
port's lock, mode 0660: the service user and its group) and get the daemon's latest
documents. One request a connection, one JSON line each way:

    -> {"ask": "sim" | "net" | "internet" | "usage"}
    <- {"document": {...}}  or  {"error": "...", "exit_code": 5}
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from simgate_common.exit_codes import ExitCode

log = logging.getLogger(__name__)

QUESTIONS: Final = ("sim", "net", "internet", "usage")
TIMEOUT: Final = 5.0
Answer = Callable[[str], object]
"""Gives the document for a question; raises `LookupError` (with a reason) if none yet."""


class DaemonError(Exception):
    """The daemon answered with an error; `code` is the exit status it asks for."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class ControlServer:
    """Serves `answer` on the unix socket at `path` until `close()`."""

    def __init__(self, path: Path, answer: Answer) -> None:
        self.path = path
        self._answer = answer
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Listen (replacing a dead daemon's socket file)."""
        self.path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # the caller holds the port's lock: this one is stale
        old = os.umask(0o117)
        try:
            self._server = await asyncio.start_unix_server(self._serve, path=str(self.path))
        finally:
            os.umask(old)
        log.debug("control socket at %s", self.path)

    async def close(self) -> None:
        """Stop listening and remove the socket file."""
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await self._server.wait_closed()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(TIMEOUT):
                line = await reader.readline()
                writer.write(json.dumps(self._reply(line)).encode() + b"\n")
                await writer.drain()
        except (TimeoutError, OSError) as exc:
            log.debug("control socket: a client left: %s", exc)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    def _reply(self, line: bytes) -> Mapping[str, Any]:
        try:
            request = json.loads(line)
            question = request["ask"]
        except (ValueError, TypeError, KeyError):
            return {"error": "bad request", "exit_code": int(ExitCode.BAD_INPUT)}
        if question not in QUESTIONS:
            return {"error": f"unknown question {question!r}", "exit_code": 2}
        try:
            return {"document": self._answer(question)}
        except LookupError as exc:
            return {"error": str(exc.args[0]), "exit_code": int(ExitCode.UNREACHABLE)}


async def ask(path: Path, question: str) -> object | None:
    """The daemon's document for `question`; None when no daemon listens at `path`.

    Raises `DaemonError` when the daemon answers with an error.
    """
    try:
        reader, writer = await asyncio.open_unix_connection(str(path))
    except (FileNotFoundError, ConnectionRefusedError):
        return None  # no daemon (or a dead one's socket file)
    except PermissionError as exc:
        raise DaemonError(
            f"the daemon's control socket {path} is not open to this user ({exc.strerror}); "
            "run as the service user or a member of its group",
            ExitCode.UNREACHABLE,
        ) from None
    try:
        async with asyncio.timeout(TIMEOUT):
            writer.write(json.dumps({"ask": question}).encode() + b"\n")
            await writer.drain()
            reply = json.loads(await reader.readline())
    except (TimeoutError, OSError, ValueError) as exc:
        raise DaemonError(
            f"the daemon did not answer on {path}: {exc or type(exc).__name__}",
            ExitCode.UNREACHABLE,
        ) from None
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    if not isinstance(reply, dict):
        raise DaemonError("the daemon's answer is not an object", ExitCode.UNREACHABLE)
    if "error" in reply:
        raise DaemonError(str(reply["error"]), int(reply.get("exit_code", 1)))
    return reply.get("document")
