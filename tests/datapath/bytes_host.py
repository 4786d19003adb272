"""A tiny HTTP host for the data-path tests: `GET /bytes/{n}` answers n bytes.

Run inside a network namespace: `python bytes_host.py ADDRESS PORT`; it prints `ready`
once listening and serves until killed.
"""

from __future__ import annotations

import http.server
import sys

MAX_BYTES = 64 * 1024 * 1024


class Handler(http.server.BaseHTTPRequestHandler):
    """`/bytes/{n}`: n bytes of `x`; anything else 404."""

    def do_GET(self) -> None:
        parts = self.path.strip("/").split("/")
        if len(parts) != 2 or parts[0] != "bytes" or not parts[1].isdigit():
            self.send_error(404)
            return
        n = min(int(parts[1]), MAX_BYTES)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(n))
        self.end_headers()
        chunk = b"x" * 65536
        while n > 0:
            self.wfile.write(chunk[: min(n, len(chunk))])
            n -= len(chunk)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


def main() -> None:
    """Serve on argv[1]:argv[2] until killed."""
    server = http.server.ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), Handler)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
