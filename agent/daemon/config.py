"""The daemon's TOML configuration: parsed strictly, every error naming its key.

No secret lives in the config: it names the files that hold them (mode 0600, or a
systemd credential), or leaves them to `$SIMGATE_PIN` / `$SIMGATE_MQTT_TOKEN`.
`load_config` also checks the secrets can be read safely, so a daemon that starts is one
that can unlock and log in; they are read again when used.

Exit codes (contracts §1): a bad file or value is 2; a config that would break a safety
rule (`allow_last_attempt = true`, a secret file readable by others) is 3.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

from agent.modem.ownership import BadPortUrl
from agent.modem.transport import check_port_url
from agent.net.data_connection import validate_apn
from agent.net.errors import InvalidApn
from agent.reporting.token import TOKEN_ENV, Token, load_token
from agent.sim.manager import PIN_LENGTHS
from agent.sim.secrets import SecretSourceError, UnsafeSecretFile, check_pin_format, secret_from
from agent.usage.sources import DEFAULT_INTERFACE, SYSFS_NET
from simgate_common.exit_codes import ExitCode

PIN_ENV: Final = "SIMGATE_PIN"
AUTO: Final = "auto"
USAGE_SOURCES: Final = ("auto", "modem", "os")
_IFACE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,14}")  # `os:<iface>` must fit the wire's source
_HOST = re.compile(r"[A-Za-z0-9_.:-]{1,253}")
T = TypeVar("T")

_SECTIONS: Final[dict[str, frozenset[str]]] = {
    "modem": frozenset({"port", "baudrate", "check_interval_s"}),
    "sim": frozenset({"pin_file", "allow_last_attempt"}),
    "internet": frozenset({"enabled", "apn", "cid", "host", "dns_file"}),
    "usage": frozenset({"source", "iface", "interval_s", "sysfs_root"}),
    "mqtt": frozenset({"host", "port", "tls", "ca_file", "token_file", "keepalive_s"}),
    "state": frozenset({"dir"}),
}
_REQUIRED_SECTIONS: Final = ("modem", "mqtt")


class ConfigError(Exception):
    """A config the daemon will not run with; `key` names the culprit (`[sim] pin_file`)."""

    def __init__(self, key: str, problem: str, code: ExitCode = ExitCode.BAD_INPUT) -> None:
        super().__init__(f"{key}: {problem}" if key else problem)
        self.key = key
        self.problem = problem
        self.code = code


@dataclass(frozen=True)
class ModemConfig:
    """`[modem]`: a fixed port URL, or `auto` (found with pyudev)."""

    port: str
    baudrate: int = 115200
    check_interval_s: float = 30.0

    @property
    def auto(self) -> bool:
        """True when the port is found by udev rather than named."""
        return self.port == AUTO


@dataclass(frozen=True)
class SimConfig:
    """`[sim]`: where the PIN is (a 0600 file, else `$SIMGATE_PIN`, else none)."""

    pin_file: Path | None = None

    def pin(self) -> str | None:
        """The PIN, read now (the file may have been fixed since start); None if none set."""
        if self.pin_file is None and not _env_set(PIN_ENV):
            return None
        return secret_from(self.pin_file, PIN_ENV, "PIN")


@dataclass(frozen=True)
class InternetConfig:
    """`[internet]`: keep a data connection up on `apn` while `enabled`."""

    enabled: bool = True
    apn: str | None = None
    cid: int | None = None
    host: bool = True  # also keep the host's side: `[usage] iface`, routes, DNS
    dns_file: Path | None = None  # where DNS goes when systemd-resolved does not run


@dataclass(frozen=True)
class UsageConfig:
    """`[usage]`: what to meter and how often a usage record is made."""

    source: str = "auto"
    iface: str = DEFAULT_INTERFACE
    interval_s: float = 300.0
    sysfs_root: Path = SYSFS_NET


@dataclass(frozen=True)
class MqttConfig:
    """`[mqtt]`: the broker, and the device token's file (else `$SIMGATE_MQTT_TOKEN`)."""

    host: str
    port: int = 1883
    tls: bool = False
    ca_file: Path | None = None
    token_file: Path | None = None
    keepalive_s: int = 30

    def token(self) -> Token | None:
        """The device token, read now; None (anonymous) when neither file nor env is set."""
        if self.token_file is None and not _env_set(TOKEN_ENV):
            return None
        return load_token(self.token_file)


@dataclass(frozen=True)
class DaemonConfig:
    """The whole config file."""

    path: Path
    modem: ModemConfig
    sim: SimConfig
    internet: InternetConfig
    usage: UsageConfig
    mqtt: MqttConfig
    state_dir: Path | None = None


def _env_set(name: str) -> bool:
    return bool(os.environ.get(name, "").strip())


class _Section:
    """Typed getters over one table; each error names `[section] key`."""

    def __init__(self, name: str, table: Mapping[str, Any], base: Path) -> None:
        self.name = name
        self.table = table
        self.base = base

    def key(self, key: str) -> str:
        return f"[{self.name}] {key}"

    def fail(self, key: str, problem: str, code: ExitCode = ExitCode.BAD_INPUT) -> ConfigError:
        return ConfigError(self.key(key), problem, code)

    def get(self, key: str, check: Callable[[Any, str], T], default: T) -> T:
        if key not in self.table:
            return default
        return check(self.table[key], key)

    def need(self, key: str, check: Callable[[Any, str], T]) -> T:
        if key not in self.table:
            raise self.fail(key, "is required")
        return check(self.table[key], key)

    def text(self, value: Any, key: str) -> str:
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, not {_kind(value)}")
        if not value.strip():
            raise self.fail(key, "must not be empty")
        return value

    def port_url(self, value: Any, key: str) -> str:
        text = self.text(value, key)
        try:
            check_port_url(text)
        except BadPortUrl as exc:
            raise self.fail(key, str(exc)) from None
        return text

    def flag(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, not {_kind(value)}")
        return value

    def integer(self, low: int, high: int) -> Callable[[Any, str], int]:
        def check(value: Any, key: str) -> int:
            if not isinstance(value, int) or isinstance(value, bool):
                raise self.fail(key, f"must be an integer, not {_kind(value)}")
            if not low <= value <= high:
                raise self.fail(key, f"must be between {low} and {high}, not {value}")
            return value

        return check

    def seconds(self, low: float) -> Callable[[Any, str], float]:
        def check(value: Any, key: str) -> float:
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise self.fail(key, f"must be a number of seconds, not {_kind(value)}")
            if not math.isfinite(value) or value < low:
                raise self.fail(key, f"must be at least {low:g} seconds, not {value}")
            return float(value)

        return check

    def path(self, value: Any, key: str) -> Path:
        path = Path(self.text(value, key)).expanduser()
        return path if path.is_absolute() else self.base / path

    def choice(self, options: tuple[str, ...]) -> Callable[[Any, str], str]:
        def check(value: Any, key: str) -> str:
            if self.text(value, key) not in options:
                raise self.fail(key, f"must be one of {', '.join(options)}, not {value!r}")
            return str(value)

        return check


def _kind(value: object) -> str:
    names = {str: "a string", bool: "a boolean", int: "an integer", float: "a number"}
    names |= {dict: "a table", list: "an array"}
    return names.get(type(value), type(value).__name__)


def parse_config(doc: Mapping[str, Any], path: Path) -> DaemonConfig:
    """Validate a parsed TOML document; relative paths are taken from `path`'s folder."""
    for name, value in doc.items():
        if name not in _SECTIONS:
            raise ConfigError(f"[{name}]", f"unknown section (known: {', '.join(_SECTIONS)})")
        if not isinstance(value, dict):
            raise ConfigError(f"[{name}]", f"must be a table, not {_kind(value)}")
        for key in value:
            if key not in _SECTIONS[name]:
                known = ", ".join(sorted(_SECTIONS[name]))
                raise ConfigError(f"[{name}] {key}", f"unknown key (known: {known})")
    for name in _REQUIRED_SECTIONS:
        if name not in doc:
            raise ConfigError(f"[{name}]", "section is required")
    base = path.parent
    sections = {name: _Section(name, doc.get(name, {}), base) for name in _SECTIONS}
    return DaemonConfig(
        path=path,
        modem=_modem(sections["modem"]),
        sim=_sim(sections["sim"]),
        internet=_internet(sections["internet"]),
        usage=_usage(sections["usage"]),
        mqtt=_mqtt(sections["mqtt"]),
        state_dir=sections["state"].get("dir", sections["state"].path, None),
    )


def _modem(s: _Section) -> ModemConfig:
    return ModemConfig(
        port=s.need("port", s.port_url),
        baudrate=s.get("baudrate", s.integer(300, 4_000_000), 115200),
        check_interval_s=s.get("check_interval_s", s.seconds(0.05), 30.0),
    )


def _sim(s: _Section) -> SimConfig:
    if s.get("allow_last_attempt", s.flag, False):
        raise s.fail(
            "allow_last_attempt",
            "refused by safety rule 1: the daemon never enters a PIN automatically when "
            "fewer than 2 tries remain; spend the last try by hand with "
            "`simgate agent sim unlock --allow-last-attempt`, or remove the key",
            ExitCode.REFUSED_BY_SAFETY_RULE,
        )
    return SimConfig(pin_file=s.get("pin_file", s.path, None))


def _internet(s: _Section) -> InternetConfig:
    enabled = s.get("enabled", s.flag, True)
    apn = s.get("apn", s.text, None)
    if apn is not None:
        try:
            validate_apn(apn)
        except InvalidApn as exc:
            raise s.fail("apn", str(exc)) from None
    elif enabled:
        raise s.fail("apn", "is required while enabled = true (the APN your carrier issued)")
    return InternetConfig(
        enabled=enabled,
        apn=apn,
        cid=s.get("cid", s.integer(1, 255), None),
        host=s.get("host", s.flag, True),
        dns_file=s.get("dns_file", s.path, None),
    )


def _usage(s: _Section) -> UsageConfig:
    iface = s.get("iface", s.text, DEFAULT_INTERFACE)
    if not _IFACE.fullmatch(iface):
        raise s.fail("iface", f"not a network interface name: {iface!r} (like wwan0, usb0)")
    return UsageConfig(
        source=s.get("source", s.choice(USAGE_SOURCES), "auto"),
        iface=iface,
        interval_s=s.get("interval_s", s.seconds(0.05), 300.0),
        sysfs_root=s.get("sysfs_root", s.path, SYSFS_NET),
    )


def _mqtt(s: _Section) -> MqttConfig:
    host = s.need("host", s.text)
    if not _HOST.fullmatch(host):
        raise s.fail("host", f"not a host name or address: {host!r}")
    tls = s.get("tls", s.flag, False)
    return MqttConfig(
        host=host,
        port=s.get("port", s.integer(1, 65535), 8883 if tls else 1883),
        tls=tls,
        ca_file=s.get("ca_file", s.path, None),
        token_file=s.get("token_file", s.path, None),
        keepalive_s=s.get("keepalive_s", s.integer(5, 3600), 30),
    )


def check_secrets(config: DaemonConfig) -> None:
    """Read the PIN and the token once, so that a bad file stops the daemon at start."""
    pin_key = "[sim] pin_file" if config.sim.pin_file is not None else f"${PIN_ENV}"
    with _secret(pin_key):
        pin = config.sim.pin()
        if pin is not None:
            check_pin_format(pin, "PIN", PIN_LENGTHS)
    with _secret("[mqtt] token_file" if config.mqtt.token_file is not None else f"${TOKEN_ENV}"):
        config.mqtt.token()
    if config.mqtt.ca_file is not None and not config.mqtt.ca_file.is_file():
        raise ConfigError("[mqtt] ca_file", f"{config.mqtt.ca_file} is not a readable file")


@contextlib.contextmanager
def _secret(key: str) -> Iterator[None]:
    """Turn a secret's read error into a `ConfigError` naming `key` (never the value)."""
    try:
        yield
    except UnsafeSecretFile as exc:
        raise ConfigError(key, f"{exc} (safety rule 2)", ExitCode.REFUSED_BY_SAFETY_RULE) from None
    except (SecretSourceError, ValueError) as exc:
        raise ConfigError(key, str(exc)) from None


def load_config(path: Path, *, secrets: bool = True) -> DaemonConfig:
    """Read, parse and validate the config file at `path` (and its secrets, by default)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("", f"cannot read config file {path}: {exc}") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("", f"config file {path} is not valid TOML: {exc}") from None
    config = parse_config(doc, path)
    if secrets:
        check_secrets(config)
    return config
