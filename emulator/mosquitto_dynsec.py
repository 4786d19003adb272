"""mosquitto without reloads: its dynamic-security plugin, driven over `$CONTROL`.

`write_dynsec_files(backend, directory)` writes `mosquitto.conf` (loading the plugin that
ships with Debian's mosquitto 2) and `dynamic-security.json` (the plugin's own store:
roles, the emulator's two logins, and every registered SIM's client), mode 0600, with
no token in clear (PBKDF2-SHA512 like `mosquitto_passwd`). From then on mosquitto owns
that file: `DynsecControl` changes one client at a time over
`$CONTROL/dynamic-security/v1` while the broker runs. No file rewrite, no SIGHUP:

- a registered SIM becomes a client (username = ICCID, password = its device token,
  textname = its SIM id) with a role of its own, `simgate-device-{ICCID}`: its own topic
  root only (mosquitto 2.0's plugin has no `%u` in ACLs);
- a deleted SIM's client (and role) is deleted, which disconnects its session at once;
- a deactivated SIM's client is disabled (kicked, and refused until it is activated
  again); a SIM never activated stays enabled, as on the embedded broker;
- a SIM deleted and registered again (a new token) gets a new client.

The emulator logs in twice: `simgate-emulator` (the ingest: every device topic) and
`simgate-control` (this module: `$CONTROL/dynamic-security/#` and `$SYS` client counts).
`DynsecControl.sync()` compares the database with what it last applied, so it is cheap
to call on every change (`SimModel.on_change`); `start()` first reads the broker's client
list, so a broker and database that drifted apart are reconciled.
"""

from __future__ import annotations

import base64
import contextlib
import glob
import hashlib
import json
import logging
import os
import secrets
import sysconfig
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from emulator.models.credentials import INGEST_USERNAME, MqttLogin, ingest_login
from emulator.mosquitto import PBKDF2_ITERATIONS, _write_atomically
from emulator.store import Store

if TYPE_CHECKING:
    from emulator.backend import Backend

log = logging.getLogger(__name__)

CONTROL_USERNAME: Final = "simgate-control"
CONTROL_TOPIC: Final = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC: Final = CONTROL_TOPIC + "/response"
SYS_CONNECTED: Final = "$SYS/broker/clients/connected"
DEVICE_ROLE_PREFIX: Final = "simgate-device-"
EMULATOR_ROLE: Final = "simgate-emulator"
CONTROL_ROLE: Final = "simgate-control"
PLUGIN_NAME: Final = "mosquitto_dynamic_security.so"
CONFIG_NAME: Final = "dynamic-security.json"
_CHUNK: Final = 1000
"""Commands per `$CONTROL` message (mosquitto saves its JSON store once per message)."""
_TIMEOUT: Final = 30.0


class DynsecError(RuntimeError):
    """The broker refused a command, or did not answer."""


def plugin_path() -> Path | None:
    """The dynamic-security plugin: `$SIMGATE_MOSQUITTO_DYNSEC`, else where Debian (any
    architecture) or a source build puts it; None when absent."""
    explicit = os.environ.get("SIMGATE_MOSQUITTO_DYNSEC")
    if explicit:
        return Path(explicit) if Path(explicit).is_file() else None
    multiarch = sysconfig.get_config_var("MULTIARCH") or ""
    candidates = [f"/usr/lib/{multiarch}/{PLUGIN_NAME}"] if multiarch else []
    candidates += sorted(glob.glob(f"/usr/lib/*/{PLUGIN_NAME}"))
    candidates += [f"/usr/lib/{PLUGIN_NAME}", f"/usr/local/lib/{PLUGIN_NAME}"]
    for candidate in candidates:
        if Path(candidate).is_file():
            return Path(candidate)
    return None


def control_login(store: Store) -> MqttLogin:
    """The login of this module's connection: made once, kept in the database."""
    with store.transaction() as db:
        password = db.meta_get("mqtt_control_password")
        if password is None:
            password = secrets.token_urlsafe(24)
            db.meta_set("mqtt_control_password", password)
    return MqttLogin(CONTROL_USERNAME, password)


def _acl(kind: str, topic: str, *, allow: bool = True) -> dict[str, Any]:
    return {"acltype": kind, "topic": topic, "priority": 0, "allow": allow}


def device_role(iccid: str) -> dict[str, Any]:
    """A device's own role: its topic root only. (mosquitto 2.0's plugin does not
    substitute `%u` in ACLs, so each device gets a role of its own.)"""
    own = f"simgate/v1/devices/{iccid}/#"
    return {
        "rolename": DEVICE_ROLE_PREFIX + iccid,
        "acls": [
            _acl("publishClientSend", own),
            _acl("publishClientReceive", own),
            _acl("subscribePattern", own),
            _acl("unsubscribePattern", own),
        ],
    }


def roles() -> list[dict[str, Any]]:
    """The emulator's roles: every device topic (the ingest); the plugin's API and the
    `$SYS` client count (the controller)."""
    every = "simgate/v1/devices/#"
    return [
        {
            "rolename": EMULATOR_ROLE,
            "acls": [
                _acl("publishClientSend", every),
                _acl("publishClientReceive", every),
                _acl("subscribePattern", every),
                _acl("subscribePattern", "$share/+/" + every),
                _acl("unsubscribePattern", every),
            ],
        },
        {
            "rolename": CONTROL_ROLE,
            "acls": [
                _acl("publishClientSend", "$CONTROL/dynamic-security/#"),
                _acl("publishClientReceive", "$CONTROL/dynamic-security/#"),
                _acl("subscribePattern", "$CONTROL/dynamic-security/#"),
                _acl("publishClientReceive", SYS_CONNECTED),
                _acl("subscribeLiteral", SYS_CONNECTED),
            ],
        },
    ]


def _hashed(password: str) -> dict[str, Any]:
    """The plugin's stored form of a password: base64 PBKDF2-SHA512 hash, salt, rounds."""
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ITERATIONS)
    return {
        "password": base64.b64encode(digest).decode(),
        "salt": base64.b64encode(salt).decode(),
        "iterations": PBKDF2_ITERATIONS,
    }


@dataclass(frozen=True)
class Wanted:
    """What the broker should know of one SIM's client."""

    iccid: str
    sim_id: str
    disabled: bool


def wanted_clients(store: Store) -> dict[str, Wanted]:
    """Every registered SIM's client, from the database (deactivated: disabled)."""
    with store.transaction() as db:
        rows = db.all("SELECT id, iccid, activated, deactivated_at FROM sims")
    return {
        str(row["iccid"]): Wanted(
            str(row["iccid"]),
            str(row["id"]),
            not row["activated"] and row["deactivated_at"] is not None,
        )
        for row in rows
    }


def store_document(backend: Backend) -> dict[str, Any]:
    """The plugin's JSON store for the current database."""
    clients: list[dict[str, Any]] = []
    for login, role in (
        (ingest_login(backend.store), EMULATOR_ROLE),
        (control_login(backend.store), CONTROL_ROLE),
    ):
        clients.append(
            {"username": login.username, "roles": [{"rolename": role}], **_hashed(login.password)}
        )
    tokens = {sim.iccid: backend.device_tokens.token_for(sim) for sim in backend.sims.list_all()}
    device_roles = []
    for want in wanted_clients(backend.store).values():
        client = {
            "username": want.iccid,
            "textname": want.sim_id,
            "roles": [{"rolename": DEVICE_ROLE_PREFIX + want.iccid}],
            **_hashed(tokens[want.iccid]),
        }
        if want.disabled:
            client["disabled"] = True
        clients.append(client)
        device_roles.append(device_role(want.iccid))
    return {
        "defaultACLAccess": {
            "publishClientSend": False,
            "publishClientReceive": False,
            "subscribe": False,
            "unsubscribe": True,
        },
        "clients": clients,
        "groups": [],
        "roles": roles() + device_roles,
    }


def dynsec_config_text(
    directory: Path, host: str, port: int, plugin: Path, extra_lines: Sequence[str] = ()
) -> str:
    """A complete mosquitto.conf that authenticates through the plugin."""
    lines = [
        "# generated by simgate emulator mosquitto-config --dynamic-security",
        f"listener {port} {host}",
        "set_tcp_nodelay true",
        "allow_anonymous false",
        "use_username_as_clientid true",
        f"plugin {plugin}",
        f"plugin_opt_config_file {directory / CONFIG_NAME}",
        "persistence true",
        f"persistence_location {directory}/",
        "autosave_interval 1",
        "max_queued_messages 100000",
        "max_inflight_messages 1000",
        "sys_interval 5",
        *extra_lines,
    ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class DynsecFiles:
    """Where the generated files are."""

    directory: Path
    store: Path
    config: Path
    users: int


def write_dynsec_files(
    backend: Backend,
    directory: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 1883,
    extra_config: Sequence[str] = (),
    plugin: Path | None = None,
) -> DynsecFiles:
    """Write `dynamic-security.json` and `mosquitto.conf` into `directory` (made 0700).
    FileNotFoundError when the plugin is not installed."""
    plugin = plugin or plugin_path()
    if plugin is None:
        raise FileNotFoundError(
            f"mosquitto's dynamic-security plugin ({PLUGIN_NAME}) is not installed "
            "(apt-get install mosquitto, or set $SIMGATE_MOSQUITTO_DYNSEC)"
        )
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    document = store_document(backend)
    devices = len(document["clients"]) - 2
    files = DynsecFiles(directory, directory / CONFIG_NAME, directory / "mosquitto.conf", devices)
    _write_atomically(files.store, json.dumps(document, indent=1) + "\n")
    _write_atomically(files.config, dynsec_config_text(directory, host, port, plugin, extra_config))
    return files


def is_dynsec_dir(directory: Path) -> bool:
    """True when `directory` holds a dynamic-security store (written by this module)."""
    return (directory / CONFIG_NAME).is_file()


class DynsecControl:
    """Keeps mosquitto's clients in step with the registered SIMs, over `$CONTROL`."""

    def __init__(
        self, backend: Backend, host: str, port: int, *, login: MqttLogin | None = None
    ) -> None:
        self.backend = backend
        self.host = host
        self.port = port
        self.login = login or control_login(backend.store)
        self.applied: dict[str, Wanted] = {}
        """What the broker knows, as last read or changed."""
        self.commands_sent = 0
        self.clients_connected: int | None = None
        """mosquitto's `$SYS/broker/clients/connected` (every client, the emulator's too)."""
        self._sync_lock = threading.Lock()
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._request_lock = threading.Lock()
        self._answer: dict[str, Any] | None = None
        self._answered = threading.Event()
        self._connected = threading.Event()
        self._client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=CONTROL_USERNAME,
            clean_session=True,
            protocol=paho.MQTTv311,
        )
        self._client.username_pw_set(self.login.username, self.login.password)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message

    # --- life cycle ---------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> None:
        """Connect, read the broker's clients, and bring them in step with the database."""
        self._client.connect(self.host, self.port, keepalive=30)
        self._client.loop_start()
        if not self._connected.wait(timeout):
            self._client.disconnect()
            self._client.loop_stop()
            raise DynsecError(
                f"mosquitto at {self.host}:{self.port} did not accept the login of "
                f"{CONTROL_USERNAME} within {timeout:g} s (is it running with the "
                "dynamic-security store `mosquitto-config --dynamic-security` wrote?)"
            )
        with self._sync_lock:
            self.applied = self.read_clients()
            self._ready.set()
        self.sync()

    def stop(self) -> None:
        """Disconnect (and end `start_background`'s thread)."""
        self._stopping.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(30)
        self._client.disconnect()
        self._client.loop_stop()

    @property
    def ready(self) -> bool:
        """True once the broker's clients were read (and `sync` applies changes)."""
        return self._ready.is_set()

    def start_background(self, retry: float = 1.0) -> None:
        """`start()` on a thread of its own, retried until it works or `stop()`: the
        broker may come up after the emulator. Changes made meanwhile are reconciled."""

        def run() -> None:
            while not self._stopping.is_set():
                try:
                    self.start()
                except (OSError, DynsecError) as exc:
                    log.warning("mosquitto: dynamic-security control not ready (%s)", exc)
                    self._client.loop_stop()
                    self._stopping.wait(retry)
                else:
                    log.info("mosquitto: dynamic-security control connected")
                    return

        self._thread = threading.Thread(target=run, name="simgate-dynsec", daemon=True)
        self._thread.start()

    @property
    def connected_devices(self) -> int | None:
        """Devices connected now: mosquitto's count less the emulator's own clients
        (this one and the ingest); None until mosquitto has published it."""
        count = self.clients_connected
        if count is None:
            return None
        return max(0, count - 2)

    # --- what to change -----------------------------------------------------------------

    def sync(self) -> int:
        """Apply every difference between the database and the broker; how many commands
        were sent. Safe to call from any thread, after every change."""
        if not self._ready.is_set():
            return 0  # `start()` reconciles everything once connected
        with self._sync_lock:
            wanted = wanted_clients(self.backend.store)
            commands: list[dict[str, Any]] = []
            tokens: dict[str, str] | None = None
            for iccid, known in list(self.applied.items()):
                want = wanted.get(iccid)
                if want is None or want.sim_id != known.sim_id:
                    commands.append({"command": "deleteClient", "username": iccid})
                if want is None:
                    role = DEVICE_ROLE_PREFIX + iccid
                    commands.append({"command": "deleteRole", "rolename": role})
            for iccid, want in wanted.items():
                known_or_none = self.applied.get(iccid)
                if known_or_none is None or known_or_none.sim_id != want.sim_id:
                    if tokens is None:
                        tokens = self._tokens()
                    if known_or_none is None:
                        commands.append({"command": "createRole", **device_role(iccid)})
                    commands.append(
                        {
                            "command": "createClient",
                            "username": iccid,
                            "password": tokens[iccid],
                            "textname": want.sim_id,
                            "roles": [{"rolename": DEVICE_ROLE_PREFIX + iccid}],
                        }
                    )
                    if want.disabled:
                        commands.append({"command": "disableClient", "username": iccid})
                elif known_or_none.disabled != want.disabled:
                    verb = "disableClient" if want.disabled else "enableClient"
                    commands.append({"command": verb, "username": iccid})
            if commands:
                self.run(commands)
                log.info("mosquitto: %d dynamic-security change(s) applied", len(commands))
            self.applied = wanted
            return len(commands)

    def _tokens(self) -> dict[str, str]:
        return {
            sim.iccid: self.backend.device_tokens.token_for(sim)
            for sim in self.backend.sims.list_all()
        }

    def read_clients(self) -> dict[str, Wanted]:
        """The SIM clients the broker has now (usernames that are not ICCIDs are left
        alone)."""
        answer = self.run([{"command": "listClients", "verbose": True, "count": -1}])
        clients = answer[0].get("data", {}).get("clients", [])
        known: dict[str, Wanted] = {}
        for client in clients:
            username = str(client.get("username", ""))
            if username.isdigit():
                known[username] = Wanted(
                    username, str(client.get("textname", "")), bool(client.get("disabled"))
                )
        return known

    # --- the `$CONTROL` conversation ----------------------------------------------------

    def run(self, commands: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """Send commands (in messages of at most `_CHUNK`), wait for each answer; the
        responses in order. DynsecError on any refusal (the message names the command
        and the username; never a password)."""
        pending = list(commands)
        responses: list[dict[str, Any]] = []
        for start in range(0, len(pending), _CHUNK):
            chunk = pending[start : start + _CHUNK]
            responses += self._request(chunk)
            self.commands_sent += len(chunk)
        for command, response in zip(pending, responses, strict=False):
            error = response.get("error")
            if error and not _harmless(command["command"], str(error)):
                raise DynsecError(
                    f"mosquitto refused {command['command']} for "
                    f"{command.get('username', '?')}: {error}"
                )
        return responses

    def _request(self, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        with self._request_lock:
            tag = secrets.token_hex(8)
            for index, command in enumerate(commands):
                command["correlationData"] = f"{tag}-{index}"
            self._answer = None
            self._answered.clear()
            info = self._client.publish(CONTROL_TOPIC, json.dumps({"commands": commands}), qos=1)
            if info.rc != paho.MQTT_ERR_SUCCESS:
                raise DynsecError(f"could not send to {CONTROL_TOPIC} (paho error {info.rc})")
            while True:
                if not self._answered.wait(_TIMEOUT):
                    raise DynsecError(f"mosquitto did not answer on {RESPONSE_TOPIC}")
                answer: dict[str, Any] = self._answer or {}
                responses: list[dict[str, Any]] = answer.get("responses", [])
                if responses and str(responses[0].get("correlationData", "")).startswith(tag):
                    return responses
                self._answered.clear()  # an answer to someone else's request

    def _on_connect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            log.error("mosquitto: refused the login of %s (%s)", CONTROL_USERNAME, reason)
            return
        client.subscribe([(RESPONSE_TOPIC, 1), (SYS_CONNECTED, 0)])
        self._connected.set()

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        if message.topic == SYS_CONNECTED:
            with contextlib.suppress(ValueError):
                self.clients_connected = int(message.payload)
            return
        try:
            self._answer = json.loads(message.payload)
        except ValueError:
            log.warning("mosquitto: an answer on %s was not JSON", RESPONSE_TOPIC)
            return
        self._answered.set()


def _harmless(command: str, error: str) -> bool:
    """Errors that mean the change is already in place."""
    lowered = error.lower()
    return (command in ("deleteClient", "deleteRole") and "not found" in lowered) or (
        command in ("createClient", "createRole") and "already exists" in lowered
    )


__all__ = [
    "INGEST_USERNAME",
    "DynsecControl",
    "DynsecError",
    "DynsecFiles",
    "is_dynsec_dir",
    "plugin_path",
    "write_dynsec_files",
]
