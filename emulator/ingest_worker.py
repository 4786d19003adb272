"""Ingest workers: several processes (or machines) storing the device topics of one broker.

Each worker is the external-broker ingest client (`mqtt_client.ExternalIngest`: persistent
session, QoS 1, manual PUBACK only after the batch is committed) subscribed through MQTT
shared subscriptions, `$share/<group>/simgate/v1/devices/+/<leaf>`, so the broker hands
each device message to one worker of the group. Exactly-once does not depend on which
worker gets a message, nor on a worker surviving: the store's unique key `(iccid, seq)`
decides whether a report is new, and a worker acknowledges only what is committed, so a
message in flight to a worker killed before its PUBACK is sent again (to that worker's
session when it comes back under its name) and found already stored, or stored then.

A batch runs in one transaction that takes the store lock in shared mode plus one lock
per ICCID of the batch (`Tx.lock_keys`): workers commit batches of different devices in
parallel, a device's state (`device_state`, its `seq` order) is decided by one batch at a
time, and API transactions, which hold the store lock exclusively, see no half batch.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from emulator.backend import Backend
from emulator.models.credentials import ingest_login
from emulator.models.device_messages import Incoming, Outcome
from emulator.models.devices import DeviceReports
from emulator.mqtt_broker import MqttSetting
from emulator.mqtt_client import SUBSCRIPTIONS, ExternalIngest
from emulator.store import Store
from simgate_common import wire

log = logging.getLogger(__name__)

DEFAULT_GROUP: Final = "simgate-ingest"
_NAME_OK: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def check_name(value: str, what: str) -> str:
    """A group or worker name: 1 to 64 of `A-Z a-z 0-9 - _ .` (no MQTT wildcard, no `/`)."""
    if not 0 < len(value) <= 64 or not set(value) <= _NAME_OK:
        raise ValueError(f"{what} must be 1 to 64 letters, digits, '-', '_' or '.', not {value!r}")
    return value


def shared_subscriptions(group: str) -> tuple[str, ...]:
    """The device topics the emulator ingests, each as a shared subscription of `group`."""
    return tuple(f"$share/{group}/{topic}" for topic in SUBSCRIPTIONS)


def client_id(group: str, name: str) -> str:
    """A worker's MQTT client id: stable across restarts, so its persistent session (and
    what the broker holds for it) is taken up again."""
    return f"simgate-ingest-{group}-{name}"


def topic_iccid(topic: str) -> str | None:
    """The ICCID segment of a device topic (`simgate/v1/devices/<iccid>/...`), or None."""
    prefix = wire.TOPIC_PREFIX + "/"
    if not topic.startswith(prefix):
        return None
    iccid = topic[len(prefix) :].split("/", 1)[0]
    return iccid or None


class LockingSink:
    """`DeviceReports.ingest` in a shared-lock transaction holding each ICCID's lock."""

    def __init__(self, store: Store, devices: DeviceReports) -> None:
        self._store = store
        self._devices = devices

    def ingest(self, messages: Sequence[Incoming]) -> list[Outcome]:
        """Decide and store the batch in one transaction (nested: `DeviceReports` joins)."""
        with self._store.transaction(shared=True) as db:
            db.lock_keys(_keys(message.topic for message in messages))
            return self._devices.ingest(messages)


def _keys(topics: Iterable[str]) -> set[str]:
    return {f"device:{iccid}" for iccid in map(topic_iccid, topics) if iccid is not None}


@dataclass
class IngestWorker:
    """One worker: its backend (store, clock, platform handler) and its MQTT client."""

    backend: Backend
    client: ExternalIngest
    group: str
    name: str

    @classmethod
    def open(
        cls,
        db: Path | str,
        broker: MqttSetting,
        *,
        group: str = DEFAULT_GROUP,
        name: str,
        max_batch: int = 1000,
    ) -> IngestWorker:
        """Open the store and make the client (not yet connected)."""
        backend = Backend(db)
        try:
            sink = LockingSink(backend.store, backend.devices)
            client = ExternalIngest(
                broker,
                sink,
                ingest_login(backend.store),
                client_id=client_id(group, name),
                subscriptions=shared_subscriptions(group),
                max_batch=max_batch,
            )
        except BaseException:
            backend.close()
            raise
        return cls(backend, client, group, name)

    def start(self) -> None:
        """Connect (retried until it works) and ingest on the client's thread."""
        self.client.start()

    def stop(self) -> None:
        """Store and acknowledge what was read, disconnect, close the store."""
        try:
            self.client.stop()
        finally:
            self.backend.close()
