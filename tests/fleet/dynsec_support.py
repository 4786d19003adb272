"""A real mosquitto run with the dynamic-security store the emulator writes, and paho
devices that notice when the broker drops them."""

from __future__ import annotations

import os
import pwd
import threading
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from emulator.backend import Backend
from emulator.mosquitto_dynsec import plugin_path, write_dynsec_files
from tests.mqtt_broker import Mosquitto, require

TEST_LINES = (
    f"user {pwd.getpwuid(os.geteuid()).pw_name}",
    "log_dest stderr",
    "log_type error",
    "log_type warning",
    "log_type notice",
    "connection_messages true",
)


class DynsecMosquitto(Mosquitto):
    """mosquitto with `mosquitto-config --dynamic-security`'s files, on a free port."""

    def __init__(self, directory: Path, backend: Backend) -> None:
        require(plugin_path(), "mosquitto's dynamic-security plugin")
        self._backend = backend
        super().__init__(directory)

    def _write_config(self) -> None:
        files = write_dynsec_files(
            self._backend, self.directory, host=self.host, port=self.port, extra_config=TEST_LINES
        )
        self.config_path = files.config


class Device:
    """One MQTT connection as a device (paho, its own network thread)."""

    def __init__(self, port: int, username: str, password: str) -> None:
        self.connected = threading.Event()
        self.dropped = threading.Event()
        self.refused: Any = None
        self._answered = threading.Event()
        self.granted: list[int] = []
        self.received: list[str] = []
        self._subscribed = threading.Event()
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=username, protocol=paho.MQTTv311
        )
        self.client.username_pw_set(username, password)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = lambda client, userdata, message: self.received.append(
            message.topic
        )
        self.client.reconnect_delay_set(60, 60)  # never within a test: a drop stays a drop
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()

    def wait_answer(self, timeout: float = 5.0) -> bool:
        """True when CONNECT was accepted, False when refused."""
        assert self._answered.wait(timeout), "no CONNACK"
        return self.connected.is_set()

    def subscribe(self, topic: str, timeout: float = 5.0) -> int:
        """The reason code the broker granted (0/1: granted, 128: refused)."""
        self._subscribed.clear()
        self.client.subscribe(topic, qos=1)
        assert self._subscribed.wait(timeout), "no SUBACK"
        return self.granted[-1]

    def publish(self, topic: str, payload: bytes, timeout: float = 5.0) -> None:
        """QoS 1, waiting for the PUBACK (mosquitto acknowledges a denied publish too)."""
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(timeout)
        assert info.is_published()

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            self.refused = reason
        else:
            self.connected.set()
        self._answered.set()

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if self.connected.is_set():
            self.dropped.set()

    def _on_subscribe(self, client: Any, userdata: Any, mid: Any, codes: Any, props: Any) -> None:
        self.granted.extend(int(getattr(code, "value", code)) for code in codes)
        self._subscribed.set()
