"""`simgate emulator serve --mosquitto-dir DIR` with a dynamic-security store: SIMs made by
the bulk API log in at once, a deleted SIM's device is dropped, reports are stored, and
`/metrics` counts mosquitto's devices, with no reload of the broker."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.backend import Backend
from emulator.mosquitto_dynsec import plugin_path
from simgate_common import wire
from tests.emulator import live
from tests.fleet.dynsec_support import TEST_LINES, Device
from tests.fleet.test_metrics import fleet, metrics, publish_acked, usage
from tests.mqtt_broker import Mosquitto, free_port, require

SIMS = "/cloud/zone/is1a/api/cloud/1.1/commonserviceitem"


class GeneratedMosquitto(Mosquitto):
    """mosquitto run with the config `mosquitto-config --dynamic-security` wrote."""

    def __init__(self, directory: Path, generated: Path, port: int) -> None:
        self._generated = generated
        super().__init__(directory, port=port)

    def _write_config(self) -> None:
        self.config_path.write_text(self._generated.read_text() + "\n".join(TEST_LINES) + "\n")


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[tuple[dict[str, Any], GeneratedMosquitto]]:
    require(plugin_path(), "mosquitto's dynamic-security plugin")
    db, files, port = tmp_path / "emulator.db", tmp_path / "dynsec", free_port()
    Backend(db).close()
    made = subprocess.run(
        [
            *(sys.executable, "-m", "simgate.cli", "emulator", "mosquitto-config"),
            *("--db", str(db), "--out", str(files), "--json", "--dynamic-security"),
            *("--listen", f"127.0.0.1:{port}"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    paths = json.loads(made.stdout)
    assert Path(paths["dynamic_security"]).stat().st_mode & 0o777 == 0o600
    broker = GeneratedMosquitto(tmp_path / "broker", Path(paths["config"]), port)
    broker.start()
    extra = ["--mqtt", f"mqtt://127.0.0.1:{port}", "--mosquitto-dir", str(files)]
    try:
        with live.serving(db, extra=extra) as info:
            yield info, broker
    finally:
        broker.stop()


def test_bulk_sims_log_in_at_once_and_deleted_ones_are_dropped(
    cloud: tuple[dict[str, Any], GeneratedMosquitto],
) -> None:
    info, broker = cloud
    pid, config = broker.pid, broker.config_path.stat().st_mtime_ns
    with httpx.Client(base_url=info["http"], auth=(live.TOKEN, live.SECRET), timeout=60) as api:
        sims = fleet(api, 20)
        first, second = sims[0], sims[1]
        deadline = time.monotonic() + 10  # the controller connects in the background
        while True:
            with Device(broker.port, first["iccid"], first["token"]) as probe:
                if probe.wait_answer():
                    break
            assert time.monotonic() < deadline, "the new SIM's login was never accepted"
            time.sleep(0.1)
        with (
            Device(broker.port, first["iccid"], first["token"]) as kept,
            Device(broker.port, second["iccid"], second["token"]) as doomed,
        ):
            assert kept.wait_answer()
            assert doomed.wait_answer()
            publish_acked(kept, wire.usage_topic(first["iccid"]), usage(first["iccid"], 1))
            reports = api.get(f"/_emulator/sims/{first['iccid']}/reports").json()
            assert [r["seq"] for r in reports] == [1]
            assert api.delete(f"{SIMS}/{second['sim_id']}").status_code == 200
            assert doomed.dropped.wait(5), "the deleted SIM's device was not dropped"
            assert not kept.dropped.is_set()
            deadline = time.monotonic() + 15  # mosquitto publishes $SYS every 5 s
            while metrics(api)["simgate_mqtt_connected_devices"] != 1:
                assert time.monotonic() < deadline, metrics(api)
                time.sleep(0.2)
            assert metrics(api)["simgate_reports_stored_total"] >= 1
        with Device(broker.port, second["iccid"], second["token"]) as again:
            assert not again.wait_answer()
    assert (broker.pid, broker.config_path.stat().st_mtime_ns) == (pid, config)
