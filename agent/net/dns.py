"""The data call's DNS servers handed to the host's resolver, and taken back.

Two ways, chosen in this order:

1. **systemd-resolved**, when it serves this host (its varlink socket exists and
   `/etc/resolv.conf` is one of its files): `resolvectl dns <iface> <servers...>` and
   `resolvectl domain <iface> ~.`; undone with `resolvectl revert <iface>`. Per-link
   settings: nothing of the user's is touched.
2. **a file the config names** (`--dns-file`, `[internet] dns_file`): written in place
   with a marker line. When the file exists and was not written by the agent, its old
   content is kept in the state directory and put back by `off` (and the agent says so:
   never a silent clobber).

Neither: the servers are only reported (`internet status`), and the command says DNS
was not configured and how to have it done.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MARKER = "# written by simgate agent internet on; `internet off` restores the previous file"
RESOLVED_SOCKET = Path("/run/systemd/resolve/io.systemd.Resolve")
RESOLVED_DIR = "/run/systemd/resolve/"
RESOLV_CONF = Path("/etc/resolv.conf")
RESOLVECTL_TIMEOUT = 5.0


class DnsError(OSError):
    """The DNS servers could not be handed over (or taken back)."""


@dataclass
class DnsRecord:
    """How the servers were handed over, so that `undo` takes exactly that back."""

    method: str  # "resolved", "file" or "none"
    servers: list[str]
    interface: str
    path: str | None = None
    previous: str | None = None  # the file's content before (None: it did not exist)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (the state file)."""
        return asdict(self)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> DnsRecord:
        """The record saved by `to_json`; `ValueError` when it is not one."""
        try:
            return cls(
                method=str(doc["method"]),
                servers=[str(s) for s in doc["servers"]],
                interface=str(doc["interface"]),
                path=None if doc.get("path") is None else str(doc["path"]),
                previous=None if doc.get("previous") is None else str(doc["previous"]),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a DNS record: {exc}") from exc


def resolved_serves_host(
    socket_path: Path = RESOLVED_SOCKET, resolv_conf: Path = RESOLV_CONF
) -> bool:
    """True when systemd-resolved runs and `/etc/resolv.conf` is its file (in this mount
    namespace: under `ip netns exec` the namespace's own file wins)."""
    if not socket_path.exists() or shutil.which("resolvectl") is None:
        return False
    try:
        return os.path.realpath(resolv_conf).startswith(RESOLVED_DIR)
    except OSError:
        return False


def _resolvectl(*args: str) -> None:
    try:
        done = subprocess.run(
            ["resolvectl", *args],
            capture_output=True,
            text=True,
            timeout=RESOLVECTL_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DnsError(f"resolvectl {' '.join(args)}: {exc}") from exc
    if done.returncode != 0:
        raise DnsError(f"resolvectl {' '.join(args)}: {done.stderr.strip() or done.returncode}")


def _file_text(servers: list[str]) -> str:
    return MARKER + "\n" + "".join(f"nameserver {s}\n" for s in servers)


def apply(
    interface: str, servers: list[str], *, dns_file: Path | None, use_resolved: bool = True
) -> DnsRecord:
    """Hand `servers` to the resolver; the record says how (method `none`: not at all)."""
    if not servers:
        return DnsRecord("none", [], interface)
    if use_resolved and resolved_serves_host():
        _resolvectl("dns", interface, *servers)
        _resolvectl("domain", interface, "~.")
        log.info("dns: %s handed to systemd-resolved for %s", ", ".join(servers), interface)
        return DnsRecord("resolved", servers, interface)
    if dns_file is None:
        return DnsRecord("none", servers, interface)
    try:
        previous = dns_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        previous = None
    except OSError as exc:
        raise DnsError(f"cannot read {dns_file}: {exc}") from exc
    if previous is not None and previous.startswith(MARKER):
        previous = None  # ours from an earlier run that was not turned off: nothing to keep
    if previous is not None:
        log.warning(
            "dns: %s has content of its own; it is kept and put back by `internet off`",
            dns_file,
        )
    _write_in_place(dns_file, _file_text(servers))
    return DnsRecord("file", servers, interface, str(dns_file), previous)


def _write_in_place(path: Path, text: str) -> None:
    """Rewrite `path` without replacing it (it may be a bind mount, e.g. `ip netns`)."""
    try:
        with path.open("w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise DnsError(f"cannot write {path}: {exc}") from exc


def undo(record: DnsRecord) -> str | None:
    """Take the servers back; what was done (None: nothing to do)."""
    if record.method == "resolved":
        _resolvectl("revert", record.interface)
        return f"systemd-resolved settings of {record.interface} reverted"
    if record.method == "file" and record.path is not None:
        path = Path(record.path)
        if record.previous is not None:
            _write_in_place(path, record.previous)
            return f"{path} restored"
        try:
            current = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise DnsError(f"cannot read {path}: {exc}") from exc
        if current.startswith(MARKER):
            try:
                path.unlink()
            except OSError:
                _write_in_place(path, "")  # a bind mount cannot be removed: emptied
            return f"{path} removed"
    return None
