"""The demo's cloud: `simgate emulator serve` as a child process, a small JSON client for
its Sakura API and steering API, and the provisioning a customer would do.

Standard library only (`urllib`): the demo runs with the `emulator` extra, not the test
extras. The PASSCODE and the API secret are never printed.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from simgate_common.exit_codes import ExitCode

JST = ZoneInfo("Asia/Tokyo")
ZONE = "is1a"
START_TIMEOUT = 30.0
HTTP_TIMEOUT = 10.0


class CloudError(Exception):
    """The emulator did not start, could not be reached, or refused a request."""

    def __init__(self, message: str, code: int = ExitCode.UNREACHABLE) -> None:
        super().__init__(message)
        self.code = code
        """The exit status: 5 (unreachable), or 1 for a request the emulator refused."""


@dataclass
class Emulator:
    """A running `simgate emulator serve` and what it announced (URLs, credentials)."""

    process: subprocess.Popen[bytes]
    info: dict[str, Any]
    log_path: Path

    def log_tail(self, lines: int = 15) -> str:
        """The end of its stderr, to explain a failure."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.rstrip().splitlines()[-lines:])

    def stop(self) -> int:
        """SIGTERM, wait (SIGKILL after 10 s), reap; returns its exit status."""
        proc = self.process
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()
        return code


def start_emulator(workdir: Path, *, verbose: bool = False, data_plane: bool = False) -> Emulator:
    """Start the emulator on 127.0.0.1 (free ports, SQLite and log in `workdir`, embedded
    broker; with `data_plane`, its kernel data plane) and wait for its JSON line."""
    log_path = workdir / "emulator.log"
    cmd = [sys.executable, "-m", "simgate.cli", "emulator", "serve", "--db"]
    cmd += [str(workdir / "emulator.db"), "--http", "127.0.0.1:0", "--mqtt", "embedded:0"]
    cmd += ["--json", *(["-v"] if verbose else []), *(["--data-plane"] if data_plane else [])]
    # Its own credentials, made and kept in the temporary database: not the caller's.
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMGATE_ACCESS_TOKEN")}
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, env=env
        )
    emulator = Emulator(proc, {}, log_path)
    try:
        emulator.info = json.loads(_first_line(proc))
    except BaseException as exc:
        emulator.stop()
        if not isinstance(exc, CloudError | ValueError):
            raise  # interrupted: stopped, and the caller says so
        tail = emulator.log_tail()
        why = f"the emulator did not start: {exc}" + (f"\n{tail}" if tail else "")
        raise CloudError(why) from None
    return emulator


def _first_line(proc: subprocess.Popen[bytes]) -> str:
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    deadline = time.monotonic() + START_TIMEOUT
    data = b""
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while b"\n" not in data:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CloudError(f"no announcement within {START_TIMEOUT:g} s")
            if not selector.select(remaining):
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                raise CloudError(f"it exited with status {proc.wait()}")
            data += chunk
    return data.split(b"\n", 1)[0].decode("utf-8")


class Cloud:
    """JSON over HTTP to one emulator: `api()` (Sakura API, zone is1a, Basic auth) and
    `steer()` (`/_emulator/`); both with the emulator's credentials (HTTP Basic)."""

    def __init__(self, info: dict[str, Any]) -> None:
        self.base = str(info["http"])
        if not self.base.startswith("http://"):
            raise CloudError(f"the emulator announced an unexpected URL: {self.base!r}")
        self.api_base = f"{info['api_root']}/{ZONE}/api/cloud/1.1"
        self.credentials = (str(info["access_token"]), str(info["access_token_secret"]))
        pair = ":".join(self.credentials).encode()
        self._auth = "Basic " + base64.b64encode(pair).decode("ascii")

    def api(self, method: str, path: str, body: object = None) -> Any:
        """A Sakura API call; its JSON answer."""
        return self._call(method, self.api_base + path, body, path, {"Authorization": self._auth})

    def steer(self, method: str, path: str, body: object = None) -> Any:
        """A steering API call (`/_emulator/...`); its JSON answer."""
        return self._call(method, self.base + path, body, path, {"Authorization": self._auth})

    def _call(self, method: str, url: str, body: object, path: str, headers: dict[str, str]) -> Any:
        data = None if body is None else json.dumps(body).encode("utf-8")
        if data is not None:
            headers = {**headers, "Content-Type": "application/json"}
        # The URLs are the emulator's own announcement, checked to be http:// in __init__.
        request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as answer:  # noqa: S310
                return json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as exc:
            why = _error_text(exc.read())
            raise CloudError(f"{method} {path}: HTTP {exc.code}: {why}", 1) from None
        except (urllib.error.URLError, OSError) as exc:
            raise CloudError(f"{method} {path}: the emulator cannot be reached: {exc}") from None

    def set_clock(self, now: datetime) -> datetime:
        """Set the virtual clock (it runs on from there); returns the emulator's now."""
        doc = self.steer("PUT", "/_emulator/clock", {"now": now.isoformat()})
        return datetime.fromisoformat(doc["now"])

    def advance_to(self, moment: datetime) -> dict[str, Any]:
        """Move the virtual clock forward to `moment`; returns the clock."""
        now = datetime.fromisoformat(self.steer("GET", "/_emulator/clock")["now"])
        seconds = max(0.0, (moment - now).total_seconds())
        clock: dict[str, Any] = self.steer("POST", "/_emulator/clock/advance", {"seconds": seconds})
        return clock


def _error_text(body: bytes) -> str:
    try:
        doc = json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")[:200]
    if isinstance(doc, dict):
        return str(doc.get("error_msg") or doc.get("detail") or doc)[:300]
    return str(doc)[:300]


@dataclass(frozen=True)
class Provisioned:
    """What the customer set up: the card (the PASSCODE is not kept), the SIM resource, a
    switch and a mobile gateway."""

    iccid: str
    imsi: str
    sim_id: str
    switch_id: str
    gateway_id: str


def manufacture_card(cloud: Cloud, iccid: str, imsi: str) -> str:
    """Have the emulator's factory ship the card `iccid`; returns its PASSCODE."""
    doc = cloud.steer("POST", "/_emulator/sims", {"iccid": iccid, "imsi": imsi})
    return str(doc["passcode"])


def register_sim(cloud: Cloud, iccid: str, passcode: str) -> str:
    """Register the card with its PASSCODE and activate it; returns the SIM's id."""
    item = {
        "Name": "demo-sim",
        "Description": "simgate demo",
        "Tags": ["simgate-demo"],
        "Status": {"ICCID": iccid},
        "Provider": {"Class": "sim"},
        "Icon": {},
        "Remark": {"PassCode": passcode},
    }
    sim_id = str(
        cloud.api("POST", "/commonserviceitem", {"CommonServiceItem": item})["CommonServiceItem"][
            "ID"
        ]
    )
    cloud.api("PUT", f"/commonserviceitem/{sim_id}/sim/activate")
    return sim_id


def build_gateway(cloud: Cloud, sim_id: str) -> tuple[str, str]:
    """A switch and a mobile gateway connected to it, the SIM added, powered on, internet
    on; returns (switch id, gateway id)."""
    switch = {
        "Name": "demo-switch",
        "Description": "",
        "Tags": [],
        "UserSubnet": {"NetworkMaskLen": 24, "DefaultRoute": "192.168.0.1"},
        "Icon": {},
    }
    switch_id = str(cloud.api("POST", "/switch", {"Switch": switch})["Switch"]["ID"])
    appliance = {
        "Class": "mobilegateway",
        "Name": "demo-gateway",
        "Description": "",
        "Tags": [],
        "Plan": {"ID": 2},
        "Remark": {"Switch": {"Scope": "shared"}, "Plan": {"ID": 2}, "Servers": [{}]},
        "Settings": {"MobileGateway": _gateway_settings(internet=False)},
        "Icon": {},
    }
    gateway_id = str(cloud.api("POST", "/appliance", {"Appliance": appliance})["Appliance"]["ID"])
    gateway = f"/appliance/{gateway_id}"
    cloud.api("PUT", f"{gateway}/interface/1/to/switch/{switch_id}")
    cloud.api("POST", f"{gateway}/mobilegateway/sims", {"sim": {"resource_id": sim_id}})
    cloud.api("PUT", f"{gateway}/power")
    settings = {"Settings": {"MobileGateway": _gateway_settings(internet=True)}}
    cloud.api("PUT", gateway, {"Appliance": settings})
    return switch_id, gateway_id


def _gateway_settings(*, internet: bool) -> dict[str, Any]:
    return {
        "InternetConnection": {"Enabled": "True" if internet else "False"},
        "InterDeviceCommunication": {"Enabled": "False"},
    }


def first_of_next_month(moment: datetime) -> datetime:
    """10:00 JST on the first day of the JST month after `moment`'s."""
    local = moment.astimezone(JST)
    first = (local.replace(day=1) + timedelta(days=32)).replace(day=1)
    return first.replace(hour=10, minute=0, second=0, microsecond=0)


def utc(moment: datetime) -> datetime:
    """`moment` in UTC."""
    return moment.astimezone(UTC)


def close_quietly(emulator: Emulator | None) -> None:
    """Stop the emulator if it runs; never raises."""
    if emulator is not None:
        with contextlib.suppress(Exception):
            emulator.stop()
