"""The daemon's control socket, on a real unix socket: answers, refusals, no daemon."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest

from agent.daemon.control import ControlServer, DaemonError, ask

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(30)]


def answer(question: str) -> object:
    if question == "sim":
        return {"state": "READY", "iccid": "8981100000000000001"}
    raise LookupError(f"no {question} yet")


async def test_questions_are_answered_and_refusals_carry_an_exit_code(tmp_path: Path) -> None:
    path = tmp_path / "run" / "port-x.sock"
    server = ControlServer(path, answer)
    await server.start()
    try:
        assert path.stat().st_mode & 0o777 == 0o660  # the service user and its group
        assert await ask(path, "sim") == {"state": "READY", "iccid": "8981100000000000001"}
        with pytest.raises(DaemonError, match="no net yet") as refused:
            await ask(path, "net")
        assert refused.value.code == 5
        with pytest.raises(DaemonError, match="unknown question") as unknown:
            await ask(path, "reboot")
        assert unknown.value.code == 2
        reader, writer = await asyncio.open_unix_connection(str(path))
        writer.write(b"not json\n")
        await writer.drain()
        assert json.loads(await reader.readline()) == {"error": "bad request", "exit_code": 2}
        writer.close()
        await writer.wait_closed()
    finally:
        await server.close()
    assert not path.exists()
    assert await ask(path, "sim") is None  # no daemon: the command opens the port itself


async def test_a_dead_daemons_socket_file_means_no_daemon(tmp_path: Path) -> None:
    path = tmp_path / "port-y.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as dead:
        dead.bind(str(path))  # a daemon that died: its socket file stays, nobody listens
    assert path.exists()
    assert await ask(path, "sim") is None
    replacement = ControlServer(path, answer)
    await replacement.start()  # the next daemon (which holds the lock) replaces it
    try:
        assert await ask(path, "sim") is not None
    finally:
        await replacement.close()
