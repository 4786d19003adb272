"""Start and stop the HTTP hosts (`hostproc`) inside the instance's namespaces."""

from __future__ import annotations

import contextlib
import subprocess
import sys

from emulator.dataplane import naming, system

_START_TIMEOUT = 15.0


class HostError(Exception):
    """A host could not be started."""


class Host:
    """One HTTP host process in a namespace; it dies with the emulator (its standard input
    is a pipe from us) and with its namespace."""

    def __init__(self, namespace: str, address: str, instance: str) -> None:
        self.namespace = namespace
        self.address = address
        ip = system.tool("ip")
        if ip is None:
            raise HostError("the ip tool is needed")
        cmd = [
            ip,
            "netns",
            "exec",
            namespace,
            sys.executable,
            "-m",
            "emulator.dataplane.hostproc",
            "--listen",
            f"{address}:{naming.HOST_PORT}",
            "--instance",
            instance,
        ]
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if line.strip() != "ready":
            self.stop()
            raise HostError(f"the HTTP host at {address} in {namespace} did not start")

    @property
    def url(self) -> str:
        """Its base URL."""
        return naming.host_url(self.address)

    @property
    def pid(self) -> int:
        """Its process id."""
        return self._proc.pid

    def stop(self) -> None:
        """End the process and reap it."""
        if self._proc.poll() is None:
            self._proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=_START_TIMEOUT)
        for stream in (self._proc.stdin, self._proc.stdout, self._proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
