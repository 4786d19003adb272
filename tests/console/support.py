"""Seed a running emulator through its public doors only: the Sakura API, the steering
API, the radio network endpoints and MQTT (contracts §3, §4)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from paho.mqtt import publish

from tests.emulator.sakura_fixtures import (
    gateway_create_request,
    sim_create_request,
    switch_create_request,
)

ZONE = "is1a"
IMEI = "353456789012345"


@dataclass
class Emulator:
    """A client for one running `simgate emulator serve`."""

    info: dict[str, Any]

    def __post_init__(self) -> None:
        self.base = str(self.info["http"])
        self.auth = (str(self.info["access_token"]), str(self.info["access_token_secret"]))
        self.http = httpx.Client(base_url=self.base, auth=self.auth, timeout=30)
        self.api = f"/cloud/zone/{ZONE}/api/cloud/1.1"

    def close(self) -> None:
        """Close the HTTP client."""
        self.http.close()

    def ok(self, method: str, url: str, body: Any = None) -> Any:
        """A request that must succeed; its JSON."""
        response = self.http.request(method, url, json=body)
        assert response.status_code < 300, f"{method} {url}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    def reset(self, now: str = "2026-03-10T09:00:00+09:00") -> None:
        """Forget everything; freeze the clock at `now`."""
        self.ok("POST", "/_emulator/reset")
        self.ok("PUT", "/_emulator/clock", {"now": now, "frozen": True})

    def sim(self, name: str, tags: list[str] | None = None) -> dict[str, str]:
        """Manufacture and register a SIM; `{"id", "iccid", "imsi"}`."""
        card = self.ok("POST", "/_emulator/sims", {})
        body = sim_create_request(card["iccid"], card["passcode"], name)
        body["CommonServiceItem"]["Tags"] = tags or []
        sim = self.ok("POST", f"{self.api}/commonserviceitem", body)["CommonServiceItem"]
        return {"id": sim["ID"], "iccid": card["iccid"], "imsi": card["imsi"]}

    def sim_info(self, sim_id: str) -> dict[str, Any]:
        """`sim/status` of a SIM (the Sakura API's view)."""
        info: dict[str, Any] = self.ok("GET", f"{self.api}/commonserviceitem/{sim_id}/sim/status")[
            "sim"
        ]
        return info

    def activate(self, sim_id: str) -> None:
        """Activate through the Sakura API."""
        self.ok("PUT", f"{self.api}/commonserviceitem/{sim_id}/sim/activate")

    def gateway(self, name: str, sims: list[dict[str, str]], *, power: bool = True) -> str:
        """A gateway on a switch with these SIMs, powered on; its id."""
        gw = self.ok("POST", f"{self.api}/appliance", gateway_create_request(name, internet=False))
        gw_id = str(gw["Appliance"]["ID"])
        sw = self.ok("POST", f"{self.api}/switch", switch_create_request(f"{name}-sw"))
        self.ok("PUT", f"{self.api}/appliance/{gw_id}/interface/1/to/switch/{sw['Switch']['ID']}")
        for sim in sims:
            self.ok(
                "POST",
                f"{self.api}/appliance/{gw_id}/mobilegateway/sims",
                {"sim": {"resource_id": sim["id"]}},
            )
        if power:
            self.ok("PUT", f"{self.api}/appliance/{gw_id}/power")
        return gw_id

    def gateway_info(self, gw_id: str) -> dict[str, Any]:
        """The gateway as the Sakura API shows it."""
        doc: dict[str, Any] = self.ok("GET", f"{self.api}/appliance/{gw_id}")["Appliance"]
        return doc

    def traffic(self, sim: dict[str, str], up: int, down: int) -> None:
        """Attach, bring a session up and report network-measured traffic."""
        attach = self.ok(
            "POST",
            "/_emulator/network/attach",
            {"iccid": sim["iccid"], "imsi": sim["imsi"], "imei": IMEI},
        )
        assert attach["accepted"], attach
        self.ok("POST", "/_emulator/network/session", {"iccid": sim["iccid"], "state": "up"})
        result = self.ok(
            "POST", "/_emulator/network/traffic", {"iccid": sim["iccid"], "up": up, "down": down}
        )
        assert result["accepted"], result

    def clock(self) -> dict[str, Any]:
        """`GET /_emulator/clock`."""
        doc: dict[str, Any] = self.ok("GET", "/_emulator/clock")
        return doc

    def publish(self, iccid: str, leaf: str, doc: dict[str, Any], *, retain: bool = False) -> None:
        """Publish one device message as the SIM's device (its token, its topic)."""
        token = self.ok("GET", f"/_emulator/sims/{iccid}/token")["token"]
        url = urlsplit(str(self.info["mqtt"]))
        publish.single(
            f"simgate/v1/devices/{iccid}/{leaf}",
            json.dumps(doc),
            qos=1,
            retain=retain,
            hostname=url.hostname or "127.0.0.1",
            port=url.port or 1883,
            client_id=iccid,
            auth={"username": iccid, "password": token},
        )

    def state_report(self, iccid: str, seq: int, state: str, pin: int, puk: int) -> None:
        """The device's retained `state` report: its SIM in `state`."""
        self.publish(
            iccid,
            "state",
            {
                "seq": seq,
                "at": "2026-03-10T00:00:00Z",
                "sim": {"state": state, "iccid": iccid, "pin_retries": pin, "puk_retries": puk},
                "net": {},
                "internet": {},
            },
            retain=True,
        )

    def usage_report(self, iccid: str, seq: int, up: int, down: int) -> None:
        """One `usage` report from the device."""
        self.publish(
            iccid,
            "usage",
            {
                "seq": seq,
                "iccid": iccid,
                "imei": IMEI,
                "start": "2026-03-10T00:00:00Z",
                "end": "2026-03-10T00:05:00Z",
                "up": up,
                "down": down,
                "source": "modem",
            },
        )
