"""The MQTT side: the embedded amqtt broker (in-process) or an external broker's URL.

Ingestion of device messages comes with a later issue; for now the broker starts and
stops cleanly and its URL is reported. The packet-logging plugin is left out so that a
device's credentials can never reach a log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from emulator.errors import BadRequest

DEFAULT_EMBEDDED_PORT = 1883
_EMBEDDED = re.compile(r"^embedded(?::(\d{1,5}))?$")
_EXTERNAL = re.compile(r"^mqtts?://([^:/\s]+|\[[0-9a-fA-F:]+\]):(\d{1,5})/?$")


@dataclass(frozen=True)
class MqttSetting:
    """`--mqtt`: an embedded broker on `port` (0: any free port) or an external URL."""

    embedded: bool
    host: str
    port: int

    @property
    def url(self) -> str:
        """`mqtt://HOST:PORT`."""
        return f"mqtt://{self.host}:{self.port}"


def parse_mqtt(value: str, bind_host: str = "127.0.0.1") -> MqttSetting:
    """Parse `embedded[:PORT]` or `mqtt://HOST:PORT`."""
    if match := _EMBEDDED.match(value):
        port = int(match.group(1)) if match.group(1) else DEFAULT_EMBEDDED_PORT
        if port > 65535:
            raise BadRequest(f"--mqtt: port out of range in {value!r}")
        return MqttSetting(True, bind_host, port)
    if match := _EXTERNAL.match(value):
        port = int(match.group(2))
        if not 0 < port <= 65535:
            raise BadRequest(f"--mqtt: port out of range in {value!r}")
        return MqttSetting(False, match.group(1), port)
    raise BadRequest(f"--mqtt must be embedded[:PORT] or mqtt://HOST:PORT, not {value!r}")


class EmbeddedBroker:
    """An amqtt broker in the running event loop."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.requested_port = port
        self.port = port
        self._broker: Any = None

    async def start(self) -> None:
        """Listen; with port 0 the actual port is known afterwards."""
        from amqtt.broker import Broker

        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.requested_port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
        self._broker = Broker(config)
        await self._broker.start()
        server = self._broker._servers["default"].instance
        self.port = int(server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Close the listener and every session."""
        if self._broker is not None:
            await self._broker.shutdown()
            self._broker = None

    @property
    def url(self) -> str:
        """`mqtt://HOST:PORT`."""
        return f"mqtt://{self.host}:{self.port}"
