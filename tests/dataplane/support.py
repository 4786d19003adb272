"""A live emulator with `--data-plane` and the moves of the tests: a SIM on a gateway,
a device attached and its session up, fetches that must work or fail in time."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.dataplane.device import PREFIX, Device
from tests.emulator import live
from tests.integration.cloud import Cloud, Sim

IMEI = "353456789012345"
OTHER_IMEI = "353456789099999"


class DataPlaneCloud(Cloud):
    """`Cloud` whose steering client also sends the credentials."""

    def __init__(self, info: dict[str, Any]) -> None:
        super().__init__(info)
        self.steer.close()
        self.steer = httpx.Client(base_url=self.url, auth=(live.TOKEN, live.SECRET), timeout=15)

    def dataplane(self) -> dict[str, Any]:
        """`GET /_emulator/dataplane`."""
        doc: dict[str, Any] = self.ok(self.steer.get("/_emulator/dataplane"))
        return doc

    def attach(self, sim: Sim, imei: str = IMEI) -> dict[str, Any]:
        """`POST /_emulator/network/attach`."""
        body = {"iccid": sim.iccid, "imsi": sim.imsi, "imei": imei}
        doc: dict[str, Any] = self.ok(self.steer.post("/_emulator/network/attach", json=body))
        return doc

    def session(self, sim: Sim, state: str) -> dict[str, Any]:
        """`POST /_emulator/network/session`."""
        body = {"iccid": sim.iccid, "state": state}
        doc: dict[str, Any] = self.ok(self.steer.post("/_emulator/network/session", json=body))
        return doc

    def traffic_status(self, sim: Sim) -> tuple[int, int]:
        """The gateway's `traffic_status`: (uplink, downlink) bytes this month."""
        doc = self.ok(self.api.get(f"/appliance/{sim.gateway}/mobilegateway/traffic_status"))
        status = doc["traffic_status"]
        return int(status["uplink_bytes"]), int(status["downlink_bytes"])

    def power(self, sim: Sim, on: bool) -> None:
        """Boot or shut down the SIM's gateway."""
        path = f"/appliance/{sim.gateway}/power"
        self.ok(self.api.put(path) if on else self.api.delete(path))


@dataclass
class Plane:
    """A live emulator with its data plane, and the devices a test made."""

    proc: subprocess.Popen[str]
    info: dict[str, Any]
    cloud: DataPlaneCloud
    devices: list[Device] = field(default_factory=list)

    @property
    def instance(self) -> str:
        """The instance name (every namespace it makes starts with it)."""
        name: str = self.info["data_plane"]["instance"]
        return name

    def device(self, name: str) -> Device:
        """A device namespace, removed after the test."""
        device = Device.create(name)
        self.devices.append(device)
        return device

    def remove_devices(self) -> None:
        """Remove the test's device namespaces."""
        for device in self.devices:
            device.remove()
        self.devices.clear()

    def connect(
        self, sim: Sim, name: str = "dev", imei: str = IMEI
    ) -> tuple[Device, dict[str, Any]]:
        """Attach, make the pair as the stub does, configure the host side, session up."""
        answer = self.cloud.attach(sim, imei)
        assert answer["accepted"], answer
        link = answer["dataplane"]
        device = self.device(name)
        device.plug(link)
        device.configure(link)
        session = self.cloud.session(sim, "up")
        assert session == {"accepted": True, "reason": None}, session
        return device, link

    def urls(self) -> tuple[str, str]:
        """The internet host's URL and the (only) gateway's closed-network host's URL."""
        doc = self.cloud.dataplane()
        return doc["internet"]["url"], doc["gateways"][0]["closed_network"]["url"]


@contextmanager
def start_plane(db: Path, extra: list[str] | None = None) -> Iterator[Plane]:
    """An emulator with `--data-plane` (prefix `sgdp`) on `db`, stopped after the block."""
    proc, info = start_process(db, extra)
    cloud = DataPlaneCloud(info)
    plane = Plane(proc, info, cloud)
    try:
        yield plane
    finally:
        plane.remove_devices()
        cloud.close()
        live.stop(proc)


def start_process(
    db: Path, extra: list[str] | None = None
) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """Start `serve --data-plane` and read its announcement."""
    return live.start(db, extra=["--data-plane", "--data-plane-prefix", PREFIX, *(extra or [])])


def reachable(device: Device, url: str, timeout: float = 0.3) -> bool:
    """True when `GET url` answers 200 from inside the device."""
    try:
        status, _ = device.get(url, timeout=timeout)
    except OSError:
        return False
    return status == 200


def within(seconds: float, check: Callable[[], bool]) -> float:
    """Poll `check` until true; the seconds it took. Fails after `seconds`."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > seconds:
            raise AssertionError(f"not within {seconds} s")
        time.sleep(0.02)
    return time.monotonic() - start
