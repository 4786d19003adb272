"""The asyncio modem client over real ports: pty, socket:// (a ser2net-like bridge), loop://."""

from __future__ import annotations

import asyncio
import contextlib
import os
import selectors
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.at import commands
from agent.at.errors import ModemTimeout, ModemUnavailable
from agent.modem.client import Modem
from firmware_stubs.faults import Faults
from tests.agent.conftest import Bench

pytestmark = pytest.mark.asyncio


@contextlib.contextmanager
def tcp_bridge(device_path: str) -> Iterator[int]:
    """Serve the tty at `device_path` on a TCP port of 127.0.0.1, as ser2net does."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def pump() -> None:
        conn, _ = server.accept()
        tty = os.open(device_path, os.O_RDWR | os.O_NOCTTY)
        with selectors.DefaultSelector() as sel, conn:
            sel.register(conn, selectors.EVENT_READ, "net")
            sel.register(tty, selectors.EVENT_READ, "tty")
            while not stop.is_set():
                for key, _ in sel.select(0.05):
                    if key.data == "net":
                        data = conn.recv(4096)
                        if not data:
                            stop.set()
                        os.write(tty, data)
                    else:
                        conn.sendall(os.read(tty, 4096))
        os.close(tty)

    thread = threading.Thread(target=pump, name="tcp-bridge")
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        with contextlib.suppress(OSError):
            socket.create_connection(server.getsockname(), timeout=1).close()
        thread.join(5)
        server.close()


async def test_pty_path_round_trip(bench: Bench) -> None:
    with bench.stub() as stub:
        async with await Modem.open(stub.device_path) as modem:
            response = await modem.command(commands.read("+CPIN"))
    assert response.result.ok
    assert response.lines == ("+CPIN: SIM PIN",)


async def test_socket_url_round_trip(bench: Bench) -> None:
    with bench.stub() as stub, tcp_bridge(stub.device_path) as port:
        async with await Modem.open(f"socket://127.0.0.1:{port}") as modem:
            response = await modem.command(commands.execute("+CGMI"))
    assert response.result.ok
    assert response.lines


async def test_loop_url_without_a_modem_times_out_and_closes_cleanly() -> None:
    async with await Modem.open("loop://", prepare=False) as modem:
        with pytest.raises(ModemTimeout, match=r"no answer to AT\+CSQ within 0.2 s"):
            await modem.command(commands.execute("+CSQ", timeout=0.2))


async def test_a_missing_port_is_a_transport_error(tmp_path: Path) -> None:
    with pytest.raises(ModemUnavailable, match="cannot open modem port"):
        await Modem.open(str(tmp_path / "ttyUSB9"))


async def test_timeout_then_resync_then_the_next_answer_is_its_own(bench: Bench) -> None:
    with bench.stub(Faults(delay=0.4)) as stub:
        async with await Modem.open(stub.device_path) as modem:
            with pytest.raises(ModemTimeout):
                await modem.command(commands.execute("+CGMI", timeout=0.1))
            response = await modem.command(commands.read("+CPIN"))
    assert response.lines == ("+CPIN: SIM PIN",)


async def test_one_command_in_flight_each_caller_gets_its_own_answer(bench: Bench) -> None:
    with bench.stub() as stub:
        async with await Modem.open(stub.device_path) as modem:
            answers = await asyncio.gather(
                *(modem.command(commands.read("+CPIN")) for _ in range(5)),
                *(modem.command(commands.execute("+CSQ")) for _ in range(5)),
            )
    assert [a.lines[0].split(":")[0] for a in answers] == ["+CPIN"] * 5 + ["+CSQ"] * 5


async def test_urc_callbacks_receive_registration_changes(bench: Bench) -> None:
    bench.write_card(pin_enabled=False)
    seen: list[str] = []
    with bench.stub() as stub:
        async with await Modem.open(stub.device_path) as modem:
            modem.on_urc(seen.append)
            await modem.command(commands.write("+CEREG", 1))
            await modem.command(commands.write("+CFUN", 0))
            await modem.command(commands.write("+CFUN", 1))
            for _ in range(100):
                if any(line.startswith("+CEREG: 1") for line in seen):
                    break
                await asyncio.sleep(0.02)
    assert any(line.startswith("+CEREG: 1") for line in seen), seen


async def test_garbled_and_dropped_bytes_give_timeouts_not_wrong_answers(bench: Bench) -> None:
    bench.write_card(pin_enabled=False)
    faults = Faults(garble=0.02, drop=0.02, seed=7)
    ok = 0
    with bench.stub(faults) as stub:
        async with await Modem.open(stub.device_path, prepare=False) as modem:
            for _ in range(40):
                try:
                    response = await modem.command(commands.read("+CPIN", timeout=0.3))
                except ModemTimeout:
                    continue
                # a garbled echo may become a bare line, but never two commands' answers
                assert len([line for line in response.lines if "CPIN:" in line]) <= 1
                ok += response.result.ok and response.lines == ("+CPIN: READY",)
    assert ok > 0
