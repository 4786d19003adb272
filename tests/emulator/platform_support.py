"""Helpers of the platform and SMS tests: a TestClient app, registered SIMs, projects,
and a real HTTP webhook receiver on 127.0.0.1 that can be down (port closed) or up."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

with warnings.catch_warnings():  # starlette warns that it prefers httpx2
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from emulator.app import create_app
from emulator.models.credentials import ApiCredentials

from .live import basic
from .sakura_fixtures import sim_create_request

__all__ = ["TestClient", "client"]

API = "/cloud/zone/is1a/api/cloud/1.1"
AUTH = ("tok", "sec")
CREDENTIALS = ApiCredentials("tok", "sec", "test")


@pytest.fixture
def client(db_target: Path | str) -> Iterator[TestClient]:
    """The app (dispatcher on) with its clock frozen at 2026-03-10 09:00 JST."""
    app = create_app(db_target, credentials=CREDENTIALS)
    with TestClient(app, headers=basic(*AUTH)) as c:
        c.put("/_emulator/clock", json={"now": "2026-03-10T09:00:00+09:00", "frozen": True})
        yield c


def set_clock(client: TestClient, when: str) -> None:
    """Move the virtual clock (RFC 3339 with offset)."""
    r = client.put("/_emulator/clock", json={"now": when, "frozen": True})
    assert r.status_code == 200, r.text


def register_sim(client: TestClient, card: dict[str, str] | None = None) -> tuple[str, str]:
    """Manufacture (unless given) and register a card: (ICCID, SIM id)."""
    card = card or client.post("/_emulator/sims", json={}).json()
    r = client.post(
        API + "/commonserviceitem",
        auth=AUTH,
        json=sim_create_request(card["iccid"], card["passcode"]),
    )
    assert r.status_code == 201, r.text
    return card["iccid"], r.json()["CommonServiceItem"]["ID"]


def create_project(client: TestClient, name: str = "p") -> str:
    """A new project's id."""
    r = client.post("/platform/v1/projects", auth=AUTH, json={"name": name})
    assert r.status_code == 201, r.text
    project_id: str = r.json()["id"]
    return project_id


def add_device(client: TestClient, project_id: str, iccid: str) -> str:
    """Register the SIM resource to the project: its device ID."""
    r = client.post(f"/platform/v1/projects/{project_id}/devices", auth=AUTH, json={"iccid": iccid})
    assert r.status_code == 201, r.text
    device_id: str = r.json()["device_id"]
    return device_id


def events(client: TestClient, kind: str | None = None) -> list[dict[str, Any]]:
    """The billing event log (optionally one type)."""
    lines = [json.loads(x) for x in client.get("/_emulator/events").text.splitlines()]
    return [x for x in lines if kind is None or x["type"] == kind]


def lines(invoice: dict[str, Any], item: str) -> list[dict[str, Any]]:
    """An invoice's lines of one item."""
    return [x for x in invoice["lines"] if x["item"] == item]


def free_port() -> int:
    """A port nobody listens on (yet)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Received:
    """One request the receiver took."""

    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, Any]:
        """The body as JSON."""
        value: dict[str, Any] = json.loads(self.body)
        return value


@dataclass
class Receiver:
    """A minimal HTTP/1.1 server on 127.0.0.1:`port`: answers every POST with `status`
    (200 by default) and records it; `start()`/`stop()` bring the port up and down."""

    port: int
    status: int = 200
    received: list[Received] = field(default_factory=list)
    _server: asyncio.Server | None = None
    _handlers: set[asyncio.Task[Any]] = field(default_factory=set)
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    @property
    def url(self) -> str:
        """The webhook URL."""
        return f"http://127.0.0.1:{self.port}/hook"

    async def start(self) -> None:
        """Listen."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def stop(self) -> None:
        """Close the port (connections are refused from now on)."""
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            await asyncio.gather(*self._handlers, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        try:
            await self._handle(reader, writer)
        finally:
            self._handlers.discard(task)
            self._writers.discard(writer)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                headers = {}
                for line in head.decode("latin-1").split("\r\n")[1:]:
                    name, _, value = line.partition(":")
                    if name:
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                if self.status < 300:
                    self.received.append(Received(headers, body))
                writer.write(
                    f"HTTP/1.1 {self.status} X\r\ncontent-length: 0\r\n\r\n".encode("ascii")
                )
                await writer.drain()
        writer.close()
