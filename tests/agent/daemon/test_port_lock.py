"""The daemon's port lock: held names its holder; a leftover file holds nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.modem.ownership import PortBusy, PortLock, daemon_holding, socket_paths


def test_a_held_lock_names_the_daemon_and_a_released_one_nobody(tmp_path: Path) -> None:
    port = str(tmp_path / "modem")
    first = PortLock(port, tmp_path)
    first.acquire()
    try:
        assert daemon_holding(port, tmp_path) == f"simgate-agent (pid {os.getpid()})"
        with pytest.raises(PortBusy) as busy:
            PortLock(port, tmp_path).acquire()  # another open file description: refused
        assert str(busy.value) == f"port busy: {port} is held by simgate-agent (pid {os.getpid()})"
    finally:
        first.release()
    assert first.path.exists()  # the file stays; only the lock says "held"
    assert daemon_holding(port, tmp_path) is None
    with PortLock(port, tmp_path):  # free again
        pass


def test_a_link_and_its_device_both_lead_to_the_daemon(tmp_path: Path) -> None:
    device = tmp_path / "ttyUSB2"
    device.touch()
    link = tmp_path / "simgate-modem"
    link.symlink_to(device)
    by_link = socket_paths(str(link), tmp_path)
    assert len(by_link) == 2  # by the name given, then by the device it names
    assert by_link[1] == socket_paths(str(device), tmp_path)[0]
    assert socket_paths("socket://10.0.0.1:4001", tmp_path)[0].name.startswith("port-")
