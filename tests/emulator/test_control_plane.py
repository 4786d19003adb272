"""A control plane that lets no one in by accident (issue 13, contracts §4): credentials on
every route but `/openapi.json`, a body cap answered 413 unread, the `--no-auth` switch
printed at start, and the bind rules of `serve`."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.websockets import WebSocketDisconnect

from emulator.api.guard import OWN_AUTH, PUBLIC_PATHS
from emulator.app import create_app
from emulator.cli import check_bind, is_loopback
from emulator.errors import EmulatorError
from firmware_stubs import EmulatorNetwork
from firmware_stubs.network import Verdict

from . import live
from .platform_support import CREDENTIALS, TestClient

ICCID = "8981100000000000010"


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


UNLISTED = [("GET", "/"), ("GET", "/metrics"), ("GET", "/_emulator/dataplane"),
            ("GET", "/docs"), ("POST", "/no/such/route")]  # fmt: skip
"""Routes the OpenAPI document may not list (the console, metrics, the data plane), and
paths no route has: the guard answers before routing."""


def test_every_route_but_openapi_needs_the_credentials(tmp_path: Path) -> None:
    """Every operation of the app (those added later included, read from its OpenAPI
    document), without or with wrong credentials: 401 before any handler runs."""
    app = create_app(tmp_path / "e.db", credentials=CREDENTIALS, dispatch=False)
    checked = 0
    with TestClient(app) as client:
        paths = client.get("/openapi.json").json()["paths"]  # public
        operations = [(m.upper(), _concrete(p)) for p, ops in paths.items() for m in ops]
        for method, path in operations + UNLISTED:
            if path in PUBLIC_PATHS or any(p.search(path) for p in OWN_AUTH):
                continue
            for auth in (None, ("tok", "wrong")):
                r = client.request(method, path, auth=auth, content=b"{}")
                assert r.status_code == 401, (method, path, r.text)
                assert r.json()["error_code"] == "unauthorized"
                assert r.headers["www-authenticate"].startswith("Basic")
            checked += 1
        stream = "/platform/v1/projects/1/stream"
        with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect(stream):
            pass
        assert closed.value.code == 1008
        saklient = {"X-Sakura-No-Authenticate-Header": "1"}
        r = client.get("/_emulator/clock", headers=saklient)
        assert r.status_code == 401
        assert "www-authenticate" not in r.headers
    assert checked > 60  # Sakura API, steering, radio network, platform, SMS


def test_the_radio_network_and_steering_refuse_the_stubs_link_without_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SIMGATE_ACCESS_TOKEN", raising=False)
    monkeypatch.delenv("SIMGATE_ACCESS_TOKEN_SECRET", raising=False)
    with live.serving(tmp_path / "e.db") as info:
        without = EmulatorNetwork(info["http"], credentials=None)
        assert without.open_session(ICCID).verdict is Verdict.NOT_DELIVERED
        host = info["http"].removeprefix("http://")
        with_url = EmulatorNetwork(f"http://{live.TOKEN}:{live.SECRET}@{host}")
        assert live.SECRET not in with_url.url
        answer = with_url.open_session(ICCID)
        assert (answer.verdict, answer.reason) == (Verdict.REFUSED, "not_registered")
        assert httpx.get(info["http"] + "/_emulator/clock", timeout=5).status_code == 401
        monkeypatch.setenv("SIMGATE_ACCESS_TOKEN", live.TOKEN)
        monkeypatch.setenv("SIMGATE_ACCESS_TOKEN_SECRET", live.SECRET)
        from_env = EmulatorNetwork(info["http"]).open_session(ICCID)
        assert (from_env.verdict, from_env.reason) == (Verdict.REFUSED, "not_registered")
        assert httpx.get(info["openapi"], timeout=5).status_code == 200


def _post_headers_only(port: int, path: str, length: int) -> bytes:
    """Send a request's headers announcing `length` bytes, then read the answer without
    sending a byte of the body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        request = (
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\nAuthorization: Basic "
            + live.basic(live.TOKEN, live.SECRET)["Authorization"].split()[1]
            + "\r\n\r\n"
        )
        sock.sendall(request.encode())
        answer = b""
        while b"}" not in answer:  # the JSON error body ends the answer
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
        return answer


def test_a_30_mb_body_is_answered_413_unread(tmp_path: Path) -> None:
    with live.serving(tmp_path / "e.db") as info:
        port = int(info["http"].rsplit(":", 1)[1])
        answer = _post_headers_only(port, "/_emulator/sims", 30 * 1024 * 1024)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert b"too_large" in answer
        assert info["max_body_bytes"] == 16 * 1024 * 1024


def test_the_body_cap_is_configurable_and_counts_chunked_bodies(tmp_path: Path) -> None:
    with live.serving(tmp_path / "e.db", extra=["--max-body-bytes", "1000"]) as info:
        url = info["http"] + "/_emulator/sims"

        def chunks(size: int) -> Any:
            yield b'{"iccid": "' + b"1" * size + b'"}'

        big = httpx.post(url, content=chunks(2000), auth=live.AUTH, timeout=10)
        assert big.status_code == 413, big.text
        assert "1000 bytes" in big.json()["error_msg"]
        small = httpx.post(url, json={}, auth=live.AUTH, timeout=10)
        assert small.status_code == 201
        assert len(httpx.get(url, auth=live.AUTH, timeout=10).json()) == 1


@pytest.mark.parametrize("how", ["flag", "env"])
def test_no_auth_turns_credentials_off_and_says_so_at_start(tmp_path: Path, how: str) -> None:
    extra = ["--no-auth"] if how == "flag" else []
    env = {"SIMGATE_EMULATOR_NO_AUTH": "1"} if how == "env" else {}
    proc, info = live.start(tmp_path / "e.db", extra=extra, env=env)
    try:
        assert info["auth"] is False
        assert httpx.get(info["http"] + "/_emulator/clock", timeout=5).status_code == 200
        api = info["api_root"] + "/is1a/api/cloud/1.1/switch"
        assert httpx.get(api, timeout=5).status_code == 200
    finally:
        live.stop(proc)
    text = _serve_text(tmp_path / "t.db", extra, env)
    assert "auth:             OFF" in text


def _serve_text(db: Path, extra: list[str], env: dict[str, str]) -> str:
    """The human announcement of `serve` (first lines of stdout), then stop."""
    cmd = [sys.executable, "-m", "simgate.cli", "emulator", "serve", "--db", str(db),
           "--http", "127.0.0.1:0", "--mqtt", "embedded:0", *extra]  # fmt: skip
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **env}
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("Stop with"):
            break
    live.stop(proc)
    return "".join(lines)


def test_loopback_addresses() -> None:
    assert is_loopback("127.0.0.1")
    assert is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback("0.0.0.0")
    assert not is_loopback("::")
    assert not is_loopback("10.1.2.3")


def test_bind_rules() -> None:
    assert check_bind("127.0.0.1", False, False, False) is None  # loopback: anything goes
    assert check_bind("0.0.0.0", True, True, False) is None  # credentials and TLS
    for auth, tls, missing in ((True, False, "TLS"), (False, True, "credentials")):
        with pytest.raises(EmulatorError, match=missing):
            check_bind("0.0.0.0", auth, tls, False)
        warning = check_bind("0.0.0.0", auth, tls, True)
        assert warning is not None
        assert missing in warning


def test_serve_refuses_a_non_loopback_address_without_tls(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "simgate.cli",
            "emulator",
            "serve",
            "--db",
            str(tmp_path / "e.db"),
            "--http",
            "0.0.0.0:0",
            "--mqtt",
            "embedded:0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "not a loopback address" in done.stderr
    assert "--allow-insecure-bind" in done.stderr


def test_serve_on_a_non_loopback_address_with_the_override_warns(tmp_path: Path) -> None:
    proc, info = live.start(tmp_path / "e.db", extra=["--http", "0.0.0.0:0",
                                                       "--allow-insecure-bind"])  # fmt: skip
    try:
        port = int(info["http"].rsplit(":", 1)[1])
        r = httpx.get(f"http://127.0.0.1:{port}/_emulator/clock", auth=live.AUTH, timeout=5)
        assert r.status_code == 200
    finally:
        live.stop(proc)
    assert "WARNING" in live.last_stderr(proc)
    assert "without TLS" in live.last_stderr(proc)


def test_serve_with_tls_and_credentials_may_bind_any_address(tmp_path: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    extra = ["--http", "0.0.0.0:0", "--tls-cert", str(cert), "--tls-key", str(key)]
    proc, info = live.start(tmp_path / "e.db", extra=extra)
    try:
        assert info["http"].startswith("https://")
        port = int(info["http"].rsplit(":", 1)[1])
        url = f"https://127.0.0.1:{port}/_emulator/clock"
        trust = ssl.create_default_context(cafile=str(cert))
        trust.check_hostname = False  # the certificate names localhost; we dial 127.0.0.1
        assert httpx.get(url, verify=trust, timeout=5).status_code == 401
        assert httpx.get(url, verify=trust, auth=live.AUTH, timeout=5).status_code == 200
    finally:
        live.stop(proc)
    assert "WARNING" not in live.last_stderr(proc)


def test_serve_json_announces_auth_and_the_body_cap(tmp_path: Path) -> None:
    with live.serving(tmp_path / "e.db") as info:
        assert (info["auth"], info["max_body_bytes"]) == (True, 16 * 1024 * 1024)
        assert json.dumps(info)  # one JSON line
