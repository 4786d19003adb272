"""The daemon's test rig: a stub behind a symlink, a real mosquitto, real files."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from agent.daemon.config import DaemonConfig, load_config
from agent.daemon.supervisor import Daemon, Timing
from agent.reporting.backoff import Backoff
from firmware_stubs import NetworkProfile, StubModem
from tests.agent.conftest import ICCID, PIN, Bench, secret_file
from tests.agent.usage.test_meter import FakeSysfs
from tests.mqtt_broker import DEVICE_ACL, Mosquitto, MosquittoFactory, mosquitto, mosquitto_factory

__all__ = ["mosquitto", "mosquitto_factory"]

TOKEN = "device-token-daemon-7c41"
CLOUD_PASSWORD = "cloud-pw-daemon-2f9d"
APN = "iot.example"
FAST = Timing(
    modem_backoff=Backoff(initial=0.05, maximum=0.2),
    mqtt_backoff=Backoff(initial=0.05, maximum=0.5),
    port_poll=0.05,
    mqtt_poll=1.0,
    shutdown=3.0,
)


def toml(sections: Mapping[str, Mapping[str, object]]) -> str:
    """A TOML document of flat tables (strings, numbers, booleans, paths)."""
    lines: list[str] = []
    for name, table in sections.items():
        lines.append(f"[{name}]")
        for key, value in table.items():
            if isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, int | float):
                text = repr(value)
            else:
                text = json.dumps(str(value))
            lines.append(f"{key} = {text}")
        lines.append("")
    return "\n".join(lines)


def point(link: Path, target: str) -> None:
    """Make `link` a symlink to `target`, atomically replacing what it pointed to."""
    tmp = link.with_name(link.name + ".new")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(target)
    os.replace(tmp, link)


@dataclass
class Rig:
    """Everything one daemon test needs; `config()` writes and loads the TOML."""

    bench: Bench
    tmp: Path
    sysfs: FakeSysfs
    broker: Mosquitto
    link: Path
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    stubs: list[StubModem] = field(default_factory=list)

    def stub(self, **network: Any) -> StubModem:
        """Start a stub on a new pty (the card file persists) and point the link at it."""
        network.setdefault("register_delay", 0.0)
        network.setdefault("cops_scan_seconds", 0.05)
        stub = StubModem(card_path=self.bench.card_path, network=NetworkProfile(**network))
        stub.start()
        self.stubs.append(stub)
        point(self.link, stub.device_path)
        return stub

    def config(self, **changes: dict[str, Any]) -> DaemonConfig:
        """Write the config (the defaults with `changes` merged per section) and load it."""
        for name, table in changes.items():
            self.sections.setdefault(name, {}).update(table)
        path = self.tmp / "agent.toml"
        path.write_text(toml(self.sections))
        return load_config(path)

    def daemon(self, config: DaemonConfig | None = None, **kwargs: Any) -> Daemon:
        """A daemon on the rig's config and state dir, with short delays."""
        kwargs.setdefault("timing", FAST)
        return Daemon(config or self.config(), state_dir=self.bench.state_dir, **kwargs)


@pytest.fixture
def rig(bench: Bench, tmp_path: Path, mosquitto_factory: MosquittoFactory) -> Iterator[Rig]:
    """A stub-ready bench, a fake sysfs with `wwan0`, and a broker that checks tokens."""
    acl = DEVICE_ACL + "\nuser cloud\ntopic readwrite simgate/v1/devices/#\n"
    broker = mosquitto_factory(
        users={ICCID: TOKEN, "cloud": CLOUD_PASSWORD}, acl=acl, persistence=True
    )
    sysfs = FakeSysfs(tmp_path)
    sysfs.set("wwan0", tx=0, rx=0)
    rig = Rig(bench, tmp_path, sysfs, broker, tmp_path / "modem")
    rig.sections = {
        "modem": {"port": rig.link, "check_interval_s": 0.2},
        "sim": {"pin_file": secret_file(tmp_path / "pin", PIN)},
        "internet": {"apn": APN},
        "usage": {"source": "os", "iface": "wwan0", "interval_s": 0.2, "sysfs_root": sysfs.root},
        "mqtt": {
            "host": broker.host,
            "port": broker.port,
            "token_file": secret_file(tmp_path / "token", TOKEN),
            "keepalive_s": 5,
        },
        "state": {"dir": bench.state_dir},
    }
    try:
        yield rig
    finally:
        for stub in rig.stubs:
            stub.stop()


@contextlib.asynccontextmanager
async def running(daemon: Daemon) -> AsyncIterator[asyncio.Task[None]]:
    """Run `daemon` for the block; then stop it and wait (bounded) for a clean end."""
    task = asyncio.create_task(daemon.run())
    try:
        yield task
    finally:
        daemon.stop()
        await asyncio.wait_for(task, 10)
