"""The mosquitto test helper itself: config, restart on the same port, skip vs CI failure."""

from __future__ import annotations

import socket
import stat
from pathlib import Path

import pytest

from tests.mqtt_broker import Mosquitto, MosquittoFactory

pytestmark = pytest.mark.timeout(30)


def accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


def test_config_has_nodelay_and_no_persistence(mosquitto: Mosquitto) -> None:
    config = mosquitto.config_path.read_text()
    assert "set_tcp_nodelay true" in config
    assert "persistence false" in config
    assert f"listener {mosquitto.port} 127.0.0.1" in config
    assert mosquitto.url == f"mqtt://127.0.0.1:{mosquitto.port}"


def test_stop_and_restart_keep_the_port(mosquitto: Mosquitto) -> None:
    port = mosquitto.port
    assert accepts(port)
    mosquitto.stop()
    assert not mosquitto.running
    assert not accepts(port)
    mosquitto.start()
    assert accepts(port)
    mosquitto.restart()
    assert mosquitto.port == port
    assert accepts(port)


def test_password_file_is_hashed_and_owner_only(mosquitto_factory: MosquittoFactory) -> None:
    broker = mosquitto_factory(users={"89811000000000000004": "s3cret-token"})
    passwords = broker.directory / "passwords"
    assert "s3cret-token" not in passwords.read_text()
    assert stat.S_IMODE(passwords.stat().st_mode) == 0o600
    assert "allow_anonymous false" in broker.config_path.read_text()


@pytest.mark.parametrize(("ci", "outcome"), [("", "skip"), ("true", "fail")])
def test_missing_mosquitto_skips_except_in_ci(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ci: str, outcome: str
) -> None:
    monkeypatch.setenv("SIMGATE_MOSQUITTO", str(tmp_path / "no-such-mosquitto"))
    monkeypatch.setenv("CI", ci)
    expected = pytest.skip.Exception if outcome == "skip" else pytest.fail.Exception
    with pytest.raises(expected, match="mosquitto is not installed"):
        Mosquitto(tmp_path / "broker")
