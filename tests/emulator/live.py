"""Run `simgate emulator serve` as a subprocess on 127.0.0.1 with free ports."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

TOKEN = "test-token"
SECRET = "test-secret"
AUTH = (TOKEN, SECRET)


def basic(user: str, password: str) -> dict[str, str]:
    """An `Authorization: Basic ...` header (for clients made with default headers)."""
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


_STDERR: dict[int, str] = {}


def start(
    db: Path | str,
    *,
    env_creds: bool = True,
    extra: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """Start the server; return the process and its announced JSON (URLs, credentials)."""
    overrides, env = env or {}, dict(os.environ)
    env.pop("SIMGATE_EMULATOR_NO_AUTH", None)
    env.pop("SIMGATE_ACCESS_TOKEN", None)
    env.pop("SIMGATE_ACCESS_TOKEN_SECRET", None)
    if env_creds:
        env["SIMGATE_ACCESS_TOKEN"] = TOKEN
        env["SIMGATE_ACCESS_TOKEN_SECRET"] = SECRET
    env.update(overrides)
    cmd = [
        sys.executable,
        "-m",
        "simgate.cli",
        "emulator",
        "serve",
        "--db",
        str(db),
        "--http",
        "127.0.0.1:0",
        "--mqtt",
        "embedded:0",
        "--json",
        *(extra or []),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.wait(timeout=10)
        assert proc.stderr is not None
        raise RuntimeError(f"emulator did not start: {proc.stderr.read()}")
    info: dict[str, Any] = json.loads(line)
    return proc, info


def stop(proc: subprocess.Popen[str], *, hard: bool = False) -> int:
    """SIGTERM (or SIGKILL) and reap."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL if hard else signal.SIGTERM)
    try:
        code = proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait(timeout=5)
    if proc.stderr is not None and not proc.stderr.closed:  # (stop may come twice)
        _STDERR[proc.pid] = proc.stderr.read()
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
    return code


def last_stderr(proc: subprocess.Popen[str]) -> str:
    """What a stopped server wrote to stderr."""
    return _STDERR.get(proc.pid, "")


@contextmanager
def serving(db: Path | str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """The server for the duration of a block."""
    proc, info = start(db, **kwargs)
    try:
        yield info
    finally:
        stop(proc)
