"""The daemon's TOML config: every bad key named, secrets checked, safety rules kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.cli import main
from agent.daemon.config import ConfigError, load_config
from tests.agent.conftest import PIN, secret_file
from tests.agent.daemon.conftest import toml

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def sections(tmp_path: Path) -> dict[str, dict[str, Any]]:
    """A valid config: fixed port, PIN and token files, OS metering."""
    return {
        "modem": {"port": "/dev/ttyUSB2"},
        "sim": {"pin_file": secret_file(tmp_path / "pin", PIN)},
        "internet": {"apn": "iot.example"},
        "usage": {"iface": "wwan0", "interval_s": 60},
        "mqtt": {"host": "mqtt.example.net", "token_file": secret_file(tmp_path / "tok", "t0k")},
    }


def write(tmp_path: Path, sections: dict[str, dict[str, Any]]) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(toml(sections))
    return path


def refused(tmp_path: Path, sections: dict[str, dict[str, Any]]) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, sections))
    return caught.value


def test_a_good_config_and_its_defaults(
    tmp_path: Path, sections: dict[str, dict[str, Any]]
) -> None:
    config = load_config(write(tmp_path, sections))
    assert config.modem.port == "/dev/ttyUSB2"
    assert config.modem.baudrate == 115200
    assert not config.modem.auto
    assert config.sim.pin() == PIN
    assert config.internet.enabled
    assert (config.internet.host, config.internet.dns_file) == (True, None)
    assert config.usage.source == "auto"
    assert config.usage.interval_s == 60.0
    assert (config.mqtt.port, config.mqtt.tls) == (1883, False)
    assert "t0k" not in repr(config.mqtt.token())
    assert config.state_dir is None


def test_tls_defaults_to_8883_and_relative_paths_follow_the_config(
    tmp_path: Path, sections: dict[str, dict[str, Any]]
) -> None:
    sections["mqtt"]["tls"] = True
    sections["sim"]["pin_file"] = "pin"
    sections["state"] = {"dir": "state"}
    config = load_config(write(tmp_path, sections))
    assert config.mqtt.port == 8883
    assert config.sim.pin_file == tmp_path / "pin"
    assert config.state_dir == tmp_path / "state"


@pytest.mark.parametrize(
    ("section", "key", "value", "named"),
    [
        ("modme", "port", "x", "[modme]"),
        ("internet", "apm", "iot.example", "[internet] apm"),
        ("modem", "port", None, "[modem] port"),
        ("modem", "port", "", "[modem] port"),
        ("modem", "baudrate", "fast", "[modem] baudrate"),
        ("modem", "baudrate", True, "[modem] baudrate"),
        ("modem", "check_interval_s", 0, "[modem] check_interval_s"),
        ("sim", "allow_last_attempt", "no", "[sim] allow_last_attempt"),
        ("internet", "apn", "bad apn", "[internet] apn"),
        ("internet", "apn", None, "[internet] apn"),
        ("internet", "enabled", "yes", "[internet] enabled"),
        ("internet", "cid", 0, "[internet] cid"),
        ("internet", "host", "yes", "[internet] host"),
        ("internet", "dns_file", 5, "[internet] dns_file"),
        ("usage", "source", "magic", "[usage] source"),
        ("usage", "iface", "../etc", "[usage] iface"),
        ("usage", "iface", "WWAN0", "[usage] iface"),
        ("usage", "interval_s", 0, "[usage] interval_s"),
        ("usage", "interval_s", "5m", "[usage] interval_s"),
        ("mqtt", "host", None, "[mqtt] host"),
        ("mqtt", "host", "a host", "[mqtt] host"),
        ("mqtt", "port", 70000, "[mqtt] port"),
        ("mqtt", "tls", 1, "[mqtt] tls"),
        ("mqtt", "keepalive_s", 1, "[mqtt] keepalive_s"),
        ("mqtt", "ca_file", "missing.pem", "[mqtt] ca_file"),
    ],
)
def test_each_bad_key_is_named(
    tmp_path: Path,
    sections: dict[str, dict[str, Any]],
    section: str,
    key: str,
    value: object,
    named: str,
) -> None:
    table = sections.setdefault(section, {})
    if value is None:
        table.pop(key, None)
    else:
        table[key] = value
    error = refused(tmp_path, sections)
    assert error.key == named
    assert str(error).startswith(named)
    assert error.code == 2


def test_a_missing_section_and_bad_toml(
    tmp_path: Path, sections: dict[str, dict[str, Any]]
) -> None:
    del sections["mqtt"]
    assert refused(tmp_path, sections).key == "[mqtt]"
    path = tmp_path / "broken.toml"
    path.write_text("[modem\nport = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML") as caught:
        load_config(path)
    assert caught.value.code == 2


def test_allow_last_attempt_is_refused_by_safety_rule_1(
    tmp_path: Path, sections: dict[str, dict[str, Any]]
) -> None:
    sections["sim"]["allow_last_attempt"] = True
    error = refused(tmp_path, sections)
    assert error.key == "[sim] allow_last_attempt"
    assert "safety rule 1" in str(error)
    assert error.code == 3
    sections["sim"]["allow_last_attempt"] = False  # saying no is fine
    load_config(write(tmp_path, sections))


@pytest.mark.parametrize(("section", "key"), [("sim", "pin_file"), ("mqtt", "token_file")])
def test_a_secret_file_readable_by_others_is_refused(
    tmp_path: Path, sections: dict[str, dict[str, Any]], section: str, key: str
) -> None:
    Path(sections[section][key]).chmod(0o644)
    error = refused(tmp_path, sections)
    assert error.key == f"[{section}] {key}"
    assert "chmod 600" in str(error)
    assert error.code == 3


def test_pin_problems_are_named_without_the_pin(
    tmp_path: Path, sections: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    secret_file(tmp_path / "pin", "12ab")
    error = refused(tmp_path, sections)
    assert (error.key, error.code) == ("[sim] pin_file", 2)
    assert "12ab" not in str(error)
    sections["sim"]["pin_file"] = tmp_path / "nowhere"
    assert "cannot read the PIN file" in str(refused(tmp_path, sections))
    del sections["sim"]
    monkeypatch.setenv("SIMGATE_PIN", "99")
    error = refused(tmp_path, sections)
    assert error.key == "$SIMGATE_PIN"
    monkeypatch.setenv("SIMGATE_PIN", "9753")
    assert load_config(write(tmp_path, sections)).sim.pin() == "9753"
    monkeypatch.delenv("SIMGATE_PIN")
    assert load_config(write(tmp_path, sections)).sim.pin() is None  # a card without a lock


def test_the_shipped_example_is_valid() -> None:
    config = load_config(REPO / "docs" / "agent-config.example.toml", secrets=False)
    assert config.modem.port
    assert config.internet.apn


def test_run_exits_2_or_3_naming_the_key(
    tmp_path: Path, sections: dict[str, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    sections["usage"]["source"] = "magic"
    path = write(tmp_path, sections)
    assert main(["run", "--config", str(path)]) == 2
    assert "[usage] source: must be one of auto, modem, os" in capsys.readouterr().err
    sections["usage"]["source"] = "os"
    sections["sim"]["allow_last_attempt"] = True
    path = write(tmp_path, sections)
    assert main(["run", "--config", str(path)]) == 3
    assert "safety rule 1" in capsys.readouterr().err
    assert main(["run", "--config", str(tmp_path / "none.toml")]) == 2
    assert main(["run"]) == 2


def test_a_port_url_of_an_unknown_scheme_is_a_bad_config(
    tmp_path: Path, sections: dict[str, dict[str, Any]]
) -> None:
    sections["modem"]["port"] = "telnet://modem:23"
    error = refused(tmp_path, sections)
    assert error.key == "[modem] port"
    assert error.code == 2
    assert "unknown URL scheme 'telnet'" in str(error)
    sections["modem"]["port"] = "socket://192.0.2.10:4001"
    assert load_config(write(tmp_path, sections)).modem.port == "socket://192.0.2.10:4001"
