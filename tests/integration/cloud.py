"""The emulator as a test's cloud: a live server on 127.0.0.1, driven through the Sakura
API and `/_emulator/`, and stubs whose radio network it is."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from firmware_stubs import EmulatorNetwork, NetworkProfile, SimCard, StubModem, TrafficProfile
from tests.emulator import live
from tests.emulator.sakura_fixtures import (
    gateway_create_request,
    sim_create_request,
    switch_create_request,
)

OTHER_IMEI = "353456789099999"
FAST = NetworkProfile(
    register_delay=0.05, cops_scan_seconds=0.05, attach_retry=0.1, attach_retry_max=0.4
)
TRAFFIC = TrafficProfile(rate_up=1000.0, rate_down=4000.0, interval=0.1)


@dataclass(frozen=True)
class Sim:
    """A card the emulator made, and its SIM resource once registered."""

    iccid: str
    imsi: str
    passcode: str
    id: str | None = None
    gateway: str | None = None


class Cloud:
    """Clients on one live emulator: `api` (Sakura API, is1a, authenticated), `steer`."""

    def __init__(self, info: dict[str, Any]) -> None:
        self.info = info
        self.url: str = info["http"]
        self.api = httpx.Client(
            base_url=info["api_root"] + "/is1a/api/cloud/1.1",
            auth=(live.TOKEN, live.SECRET),
            timeout=10,
        )
        self.steer = httpx.Client(base_url=self.url, auth=(live.TOKEN, live.SECRET), timeout=10)

    def close(self) -> None:
        """Close the clients."""
        self.api.close()
        self.steer.close()

    def ok(self, response: httpx.Response) -> Any:
        """The JSON of a 2xx answer."""
        assert response.is_success, response.text
        return response.json()

    def reset(self) -> None:
        """Forget everything (faults included)."""
        self.ok(self.steer.post("/_emulator/reset"))
        self.ok(self.steer.delete("/_emulator/faults"))

    def card(self) -> Sim:
        """A card shipped by the factory, not registered."""
        doc = self.ok(self.steer.post("/_emulator/sims", json={}))
        return Sim(doc["iccid"], doc["imsi"], doc["passcode"])

    def sim(
        self,
        *,
        activate: bool = True,
        gateway: bool = True,
        internet: bool = True,
        switch: bool = False,
    ) -> Sim:
        """A registered SIM, on a powered gateway with the connections asked for."""
        card = self.card()
        body = sim_create_request(card.iccid, card.passcode)
        sim_id = self.ok(self.api.post("/commonserviceitem", json=body))["CommonServiceItem"]["ID"]
        if activate:
            self.ok(self.api.put(f"/commonserviceitem/{sim_id}/sim/activate"))
        gw_id = None
        if gateway:
            gw = self.api.post("/appliance", json=gateway_create_request(internet=internet))
            gw_id = self.ok(gw)["Appliance"]["ID"]
            sims = f"/appliance/{gw_id}/mobilegateway/sims"
            self.ok(self.api.post(sims, json={"sim": {"resource_id": sim_id}}))
            if switch:
                sw = self.ok(self.api.post("/switch", json=switch_create_request()))["Switch"]
                self.ok(self.api.put(f"/appliance/{gw_id}/interface/1/to/switch/{sw['ID']}"))
            self.ok(self.api.put(f"/appliance/{gw_id}/power"))
        return Sim(card.iccid, card.imsi, card.passcode, sim_id, gw_id)

    def set_internet(self, sim: Sim, enabled: bool) -> None:
        """The gateway's internet connection on or off (a settings update)."""
        flag = "True" if enabled else "False"
        settings = {"MobileGateway": {"InternetConnection": {"Enabled": flag}}}
        body = {"Appliance": {"Settings": settings}}
        self.ok(self.api.put(f"/appliance/{sim.gateway}", json=body))

    def deactivate(self, sim: Sim) -> None:
        """Deactivate the SIM."""
        self.ok(self.api.put(f"/commonserviceitem/{sim.id}/sim/deactivate"))

    def imei_lock(self, sim: Sim, imei: str) -> None:
        """Lock the SIM to `imei`."""
        body = {"sim": {"imei": imei}}
        self.ok(self.api.put(f"/commonserviceitem/{sim.id}/sim/imeilock", json=body))

    def account(self, **changes: object) -> None:
        """Change the account's policies (e.g. `session_cut_bytes`)."""
        self.ok(self.steer.put("/_emulator/account", json=changes))

    def faults(self, *rules: dict[str, object]) -> None:
        """Replace the fault rules."""
        self.ok(self.steer.put("/_emulator/faults", json={"rules": list(rules), "seed": 1}))

    def status(self, sim: Sim) -> dict[str, Any]:
        """`sim/status`'s SIMInfo."""
        info: dict[str, Any] = self.ok(self.api.get(f"/commonserviceitem/{sim.id}/sim/status"))
        sim_info: dict[str, Any] = info["sim"]
        return sim_info

    def month_bytes(self, sim: Sim) -> tuple[int, int]:
        """This month's bytes up and down, as `sim/status` says."""
        month = self.status(sim)["traffic_bytes_of_current_month"]
        return int(month["uplink_bytes"]), int(month["downlink_bytes"])

    def session_log(self, sim: Sim) -> list[tuple[str, str | None]]:
        """The session log, oldest first: (status, reason)."""
        logs = self.ok(self.api.get(f"/commonserviceitem/{sim.id}/sim/sessionlog"))["logs"]
        return [(e["session_status"], e.get("reason")) for e in reversed(logs)]

    def traffic_events(self, sim: Sim) -> list[dict[str, Any]]:
        """The SIM's `traffic` events in the billing log."""
        lines = self.steer.get("/_emulator/events").text.splitlines()
        events = [json.loads(line) for line in lines if line.strip()]
        return [e for e in events if e["type"] == "traffic" and e["iccid"] == sim.iccid]


def stub_for(
    cloud_url: str,
    sim: Sim,
    *,
    traffic: TrafficProfile | None = TRAFFIC,
    imei: str | None = None,
    timeout: float = 2.0,
) -> StubModem:
    """A stub (not started) holding `sim`'s card, PIN off, with the emulator as network."""
    card = SimCard(
        iccid=sim.iccid,
        imsi=sim.imsi,
        pin="0000",
        puk="12345678",
        pin_enabled=False,
        pin_retries=3,
        puk_retries=10,
    )
    carrier = EmulatorNetwork(
        cloud_url, traffic=traffic, timeout=timeout, credentials=(live.TOKEN, live.SECRET)
    )
    return StubModem(card=card, network=FAST, carrier=carrier, imei=imei)


def wait_for(check: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    """Poll `check` until true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
