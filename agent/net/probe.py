"""Does the far side answer? A probe from the modem's address, bounded in time.

- `probe_url(url, source)`: an HTTP GET from `source` (the interface's address, so the
  packets leave through the modem); reachable when any HTTP answer comes.
- `probe_tcp(host, port, source)`: a TCP connection from `source`; reachable when the far
  side answers at all: the connection is accepted *or refused* (a refusal is a TCP reset
  sent by the far host, which proves the path). Silence until the timeout, or an ICMP
  "unreachable", is not reachable. The default target is the gateway the network gave.
"""

from __future__ import annotations

import errno
import http.client
import logging
import socket
import time
import urllib.parse

log = logging.getLogger(__name__)

PROBE_TIMEOUT = 2.0
DEFAULT_PORT = 80


def probe_tcp(host: str, port: int, source: str | None, timeout: float = PROBE_TIMEOUT) -> bool:
    """True when `host:port` answers a TCP connection attempt from `source` in time."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        if source is not None:
            sock.bind((source, 0))
        sock.connect((host, port))
    except ConnectionRefusedError:
        return True
    except OSError as exc:
        log.info("probe: %s:%d not reached from %s: %s", host, port, source, exc)
        return False
    finally:
        sock.close()
    return True


def probe_url(url: str, source: str | None, timeout: float = PROBE_TIMEOUT) -> bool:
    """True when an HTTP GET of `url` from `source` gets any answer within `timeout`."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"the probe URL must be http://HOST[:PORT]/PATH: {url!r}")
    deadline = time.monotonic() + timeout
    conn = http.client.HTTPConnection(
        parts.hostname,
        parts.port or DEFAULT_PORT,
        timeout=timeout,
        source_address=(source, 0) if source is not None else None,
    )
    try:
        conn.request("GET", parts.path or "/")
        response = conn.getresponse()
        while time.monotonic() < deadline and response.read(65536):
            pass
    except (OSError, http.client.HTTPException) as exc:
        if isinstance(exc, OSError) and exc.errno == errno.ECONNREFUSED:
            return True  # the host answered (with a reset)
        log.info("probe: %s not reached from %s: %s", url, source, exc)
        return False
    finally:
        conn.close()
    return True
