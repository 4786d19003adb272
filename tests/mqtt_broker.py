"""A real mosquitto broker for tests: own config, own port on 127.0.0.1, stop and restart.

Use the fixtures from a `conftest.py` (`from tests.mqtt_broker import mosquitto,
mosquitto_factory`). Without a mosquitto binary the tests are skipped, except in CI
(`CI=true`), where a test needing a real broker must run and so fails instead.
The binary is `$SIMGATE_MOSQUITTO`, else `mosquitto` on PATH, else `/usr/sbin/mosquitto`.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import pytest

HOST = "127.0.0.1"
DEVICE_ACL = "pattern readwrite simgate/v1/devices/%u/#\n"
"""Each device (username = its ICCID) may use only its own topic root (contracts §3)."""


def _find(name: str, fallback: str, env_var: str) -> Path | None:
    explicit = os.environ.get(env_var)
    if explicit:
        return Path(explicit) if Path(explicit).is_file() else None
    found = shutil.which(name)
    if found:
        return Path(found)
    return Path(fallback) if Path(fallback).is_file() else None


def mosquitto_binary() -> Path | None:
    """The mosquitto broker binary, or None."""
    return _find("mosquitto", "/usr/sbin/mosquitto", "SIMGATE_MOSQUITTO")


def mosquitto_passwd_binary() -> Path | None:
    """The `mosquitto_passwd` tool, or None."""
    return _find("mosquitto_passwd", "/usr/bin/mosquitto_passwd", "SIMGATE_MOSQUITTO_PASSWD")


def require(binary: Path | None, what: str) -> Path:
    """`binary`, or skip the test (fail it when `CI=true`) with a clear reason."""
    if binary is not None:
        return binary
    reason = f"{what} is not installed (apt-get install mosquitto, or set $SIMGATE_MOSQUITTO)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; tests that need a real broker must not be skipped in CI")
    pytest.skip(reason)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


class Mosquitto:
    """One mosquitto process with its config, logs and data in `directory`.

    `users` (username → password) turns on authentication: anonymous clients are
    refused and the password file is made with `mosquitto_passwd`. `acl` is the text of
    an ACL file (e.g. `DEVICE_ACL`). `persistence` keeps sessions and queued messages
    across `restart()` (saved on a clean stop). The port stays the same across restarts.
    """

    def __init__(
        self,
        directory: Path,
        *,
        port: int | None = None,
        users: Mapping[str, str] | None = None,
        acl: str | None = None,
        persistence: bool = False,
        extra_config: Sequence[str] = (),
        binary: Path | None = None,
    ) -> None:
        self.binary = require(binary or mosquitto_binary(), "mosquitto")
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.host = HOST
        self.port = port or free_port()
        self.users = dict(users or {})
        self.acl = acl
        self.persistence = persistence
        self.extra_config = list(extra_config)
        self.log_path = directory / "mosquitto.log"
        self.config_path = directory / "mosquitto.conf"
        self._process: subprocess.Popen[bytes] | None = None
        self._write_config()

    @property
    def url(self) -> str:
        """`mqtt://127.0.0.1:PORT`."""
        return f"mqtt://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """True while the broker process is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The broker's process id while it runs."""
        return self._process.pid if self.running and self._process else None

    def _write_config(self) -> None:
        lines = [
            f"listener {self.port} {self.host}",
            "set_tcp_nodelay true",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            "max_queued_messages 100000",
            f"user {pwd.getpwuid(os.geteuid()).pw_name}",
        ]
        if self.persistence:
            lines += [
                "persistence true",
                f"persistence_location {self.directory}/",
                "autosave_interval 1",
            ]
        else:
            lines.append("persistence false")
        if self.users:
            lines += ["allow_anonymous false", f"password_file {self._password_file()}"]
        else:
            lines.append("allow_anonymous true")
        if self.acl is not None:
            acl_path = self.directory / "acl"
            acl_path.write_text(self.acl)
            acl_path.chmod(0o600)
            lines.append(f"acl_file {acl_path}")
        lines += self.extra_config
        self.config_path.write_text("\n".join(lines) + "\n")

    def _password_file(self) -> Path:
        tool = require(mosquitto_passwd_binary(), "mosquitto_passwd")
        path = self.directory / "passwords"
        # Plain text first, then hashed in place (-U): no password on a command line.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.writelines(f"{user}:{password}\n" for user, password in self.users.items())
        subprocess.run([str(tool), "-U", str(path)], check=True, capture_output=True, timeout=30)
        return path

    def start(self, timeout: float = 5.0) -> None:
        """Start the broker and wait until its port accepts connections."""
        if self.running:
            return
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [str(self.binary), "-c", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"mosquitto exited with {self._process.returncode}:\n{self.log_tail()}"
                )
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.host, self.port), timeout=0.2),
            ):
                return
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(
                    f"mosquitto did not listen within {timeout} s:\n{self.log_tail()}"
                )
            time.sleep(0.02)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop cleanly (SIGTERM; persistence is saved), or kill after `timeout`."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            self.resume()
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        self._process = None

    def kill(self) -> None:
        """Stop at once (SIGKILL): no persistence saved, no clean socket shutdown."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.kill()
            process.wait(5.0)
        self._process = None

    def pause(self) -> None:
        """Freeze the broker (SIGSTOP): connections stay open, nothing is answered."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Unfreeze after `pause()`."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGCONT)

    def restart(self, timeout: float = 5.0) -> None:
        """`stop()` then `start()` on the same port."""
        self.stop()
        self.start(timeout)

    def log_tail(self, lines: int = 30) -> str:
        """The end of the broker's log, for failure messages."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


MosquittoFactory = Callable[..., Mosquitto]


@pytest.fixture
def mosquitto_factory(tmp_path: Path) -> Iterator[MosquittoFactory]:
    """Make and start brokers (keyword arguments of `Mosquitto`); all stopped afterwards."""
    brokers: list[Mosquitto] = []

    def make(**kwargs: Any) -> Mosquitto:
        broker = Mosquitto(tmp_path / f"mosquitto-{len(brokers)}", **kwargs)
        brokers.append(broker)
        broker.start()
        return broker

    try:
        yield make
    finally:
        for broker in brokers:
            broker.stop()


@pytest.fixture
def mosquitto(mosquitto_factory: MosquittoFactory) -> Mosquitto:
    """A started anonymous broker without persistence."""
    return mosquitto_factory()
