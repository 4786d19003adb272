"""Waiting for the modem: a fixed port with backoff, and udev hot-plug (the device list and
the event stream faked; the ports are real ptys of the stub)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agent.daemon.commands import watch_modems
from agent.daemon.watcher import EventCallback, FixedPortWatcher, PyudevEvents, UdevWatcher
from agent.discovery.discover import DiscoveredModem
from agent.reporting.backoff import Backoff
from tests.agent.conftest import Bench
from tests.agent.daemon.conftest import Rig, point, running
from tests.agent.reporting.helpers import wait_until

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(30)]


class FakeUdev:
    """The udev event stream, driven by the test."""

    def __init__(self) -> None:
        self.callback: EventCallback | None = None
        self.stopped = False

    def start(self, callback: EventCallback) -> None:
        self.callback = callback

    def stop(self) -> None:
        self.stopped = True

    def fire(self, action: str, node: str) -> None:
        assert self.callback is not None
        self.callback(action, node)


def quectel(port: str) -> DiscoveredModem:
    return DiscoveredModem(
        "Quectel", "EC25/EG25-G", "2c7c", "0125", port, "wwan0", [port], known=True
    )


async def test_a_fixed_port_is_retried_until_it_opens_and_its_loss_is_seen(
    bench: Bench, tmp_path: Path
) -> None:
    link = tmp_path / "modem"
    watcher = FixedPortWatcher(str(link), backoff=Backoff(0.02, 0.1), path_poll=0.02)
    opening = asyncio.create_task(watcher.open())
    await asyncio.sleep(0.2)
    assert not opening.done()  # nothing there yet: retrying
    with bench.stub() as stub:
        point(link, stub.device_path)
        modem = await asyncio.wait_for(opening, 5)
        gone = asyncio.create_task(watcher.gone(modem))
        await asyncio.sleep(0.1)
        assert not gone.done()
    await asyncio.wait_for(gone, 5)  # the pty is gone: the symlink dangles
    await modem.close()
    await watcher.aclose()


async def test_auto_waits_for_a_modem_to_be_plugged_in_and_sees_it_unplugged(
    bench: Bench,
) -> None:
    udev = FakeUdev()
    found: list[DiscoveredModem] = [quectel(str(bench.tmp / "no-such-tty"))]
    watcher = UdevWatcher(find=lambda: list(found), events=udev, rescan=30)
    opening = asyncio.create_task(watcher.open())
    await asyncio.sleep(0.2)
    assert not opening.done()  # a modem whose port does not open is skipped
    with bench.stub() as stub:
        found[:] = [quectel(stub.device_path)]
        udev.fire("add", stub.device_path)
        modem = await asyncio.wait_for(opening, 5)
        assert watcher.modem is not None
        assert watcher.modem.interface == "wwan0"
        gone = asyncio.create_task(watcher.gone(modem))
        udev.fire("remove", "/dev/ttyUSB9")  # another tty: not ours
        await asyncio.sleep(0.05)
        assert not gone.done()
        udev.fire("remove", stub.device_path)
        await asyncio.wait_for(gone, 2)
        await modem.close()
    await watcher.aclose()
    assert udev.stopped


async def test_the_daemon_in_auto_mode_follows_hot_plug(rig: Rig) -> None:
    udev = FakeUdev()
    found: list[DiscoveredModem] = []
    watcher = UdevWatcher(find=lambda: list(found), events=udev, rescan=30)
    daemon = rig.daemon(rig.config(modem={"port": "auto"}), watcher=watcher)
    async with running(daemon):
        await asyncio.sleep(0.2)
        assert daemon.sessions == 0
        stub = rig.stub()
        found.append(quectel(stub.device_path))
        udev.fire("add", stub.device_path)
        await wait_until(lambda: daemon.state.internet["active"] is True, 10, "connected")
        found.clear()  # unplugged: gone from udev's device list (the pty itself stays)
        udev.fire("remove", stub.device_path)
        await wait_until(lambda: not daemon.state.modem_present, 5, "the loss noticed")
        found.append(quectel(stub.device_path))  # plugged back in
        udev.fire("add", stub.device_path)
        await wait_until(lambda: daemon.sessions == 2, 5, "a second session")
        await wait_until(lambda: daemon.state.internet["active"] is True, 10, "connected")
    assert udev.stopped


async def test_the_real_udev_stream_starts_and_stops() -> None:
    events = PyudevEvents()
    try:
        events.start(lambda action, node: None)
    except (ImportError, OSError) as exc:  # no libudev or no netlink here
        pytest.skip(f"udev monitor unavailable: {exc}")
    events.stop()


async def test_discover_watch_lists_again_on_each_change(
    capsys: pytest.CaptureFixture[str],
) -> None:
    udev = FakeUdev()
    found: list[DiscoveredModem] = []
    watching = asyncio.create_task(watch_modems(True, udev, find=lambda: list(found), settle=0.01))
    lines: list[str] = []

    def printed() -> bool:
        lines.extend(capsys.readouterr().out.splitlines())
        return bool(lines)

    await wait_until(printed, 5, "the first list")
    assert lines == ["[]"]
    lines.clear()
    udev.fire("remove", "/dev/ttyUSB7")  # a change that changes nothing: no new list
    found.append(quectel("/dev/ttyUSB2"))
    udev.fire("add", "/dev/ttyUSB2")
    await wait_until(printed, 5, "a new list")
    await asyncio.sleep(0.1)
    printed()
    watching.cancel()
    await asyncio.gather(watching, return_exceptions=True)
    assert udev.stopped
    assert len(lines) == 1
    assert '"at_port": "/dev/ttyUSB2"' in lines[0]
