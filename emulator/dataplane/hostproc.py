"""An HTTP host inside one of the data plane's namespaces (the internet's, or a switch
segment's): `GET /bytes/{n}` answers n bytes, `GET /ip` the client's address as the host
sees it (the gateway's WAN address on the internet, the SIM's own on the closed network).

Run as `python -m emulator.dataplane.hostproc --listen ADDR:PORT --instance NAME` inside
the namespace (`ip netns exec`). Standard library only, so it starts fast. It exits when
its standard input closes, i.e. when the emulator that started it is gone.
"""

from __future__ import annotations

import argparse
import os
import re
import socketserver
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BYTES = 1 << 30  # the largest body /bytes/{n} serves
_CHUNK = bytes(64 * 1024)
_BYTES = re.compile(r"^/bytes/(\d{1,12})$")


class Handler(BaseHTTPRequestHandler):
    """The host's two resources."""

    protocol_version = "HTTP/1.1"
    server_version = "simgate-host"
    timeout = 30

    def do_GET(self) -> None:
        """`/bytes/{n}` and `/ip`."""
        match = _BYTES.match(self.path)
        if match:
            n = int(match.group(1))
            if n > MAX_BYTES:
                self._text(400, f"n must be at most {MAX_BYTES}\n")
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(n))
            self.end_headers()
            left = n
            while left > 0:
                piece = _CHUNK if left >= len(_CHUNK) else _CHUNK[:left]
                self.wfile.write(piece)
                left -= len(piece)
            return
        if self.path == "/ip":
            self._text(200, f"{self.client_address[0]}\n")
            return
        self._text(404, "GET /bytes/{n} or /ip\n")

    def _text(self, status: int, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the host logs nothing."""


class Server(ThreadingHTTPServer):
    """The threading HTTP server without its reverse DNS look-up at bind (a namespace has
    no resolver: `getfqdn` would wait for its timeout)."""

    daemon_threads = True

    def server_bind(self) -> None:
        """Bind; name the server by its address."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)


def _watch_parent(server: ThreadingHTTPServer) -> None:
    """Stop when the emulator's end of our standard input closes."""
    try:
        while sys.stdin.buffer.read(1024):
            pass
    finally:
        os._exit(0)


def main(argv: list[str] | None = None) -> int:
    """Serve until standard input closes or a signal ends the process."""
    parser = argparse.ArgumentParser(prog="simgate-dataplane-host")
    parser.add_argument("--listen", required=True, metavar="ADDR:PORT")
    parser.add_argument("--instance", required=True, help="the emulator instance (for ps)")
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    server = Server((host, int(port)), Handler)
    threading.Thread(target=_watch_parent, args=(server,), daemon=True).start()
    print("ready", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
