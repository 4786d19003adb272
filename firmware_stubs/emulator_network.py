"""The emulator as the radio network: `/_emulator/network/*` over HTTP, stdlib only.

In emulator-only runs there is no real carrier: the emulator applies the service rules
(is the SIM registered, activated, IMEI-locked, on a powered gateway...) and keeps the
books. This `Network` asks it, like a real network's core would: `attach` when a search
ends, `session` up/down with the first/last PDP context, `traffic` from the ticker.

Failures are classified for the traffic books (see `firmware_stubs.traffic`): no
connection or a 4xx/5xx answer (the emulator changes nothing then) is *not delivered*;
a request sent whose answer never came is *unanswered* (it may have been counted). An
unreachable emulator is no coverage, never a crash. The emulator wants its credentials
(HTTP Basic, contracts §1): given, else the URL's user info, else `SIMGATE_ACCESS_TOKEN`
and `SIMGATE_ACCESS_TOKEN_SECRET`; they are stripped from the URL that is kept and logged.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import os
import socket
import threading
import urllib.parse
from typing import Any

from firmware_stubs.network import AttachOutcome, NetworkAnswer, TrafficProfile, Verdict

logger = logging.getLogger(__name__)

PREFIX = "/_emulator/network/"


class EmulatorNetwork:
    """The radio network of the emulator at `url` (e.g. `http://127.0.0.1:8080`).

    `traffic` is the traffic metered while a session is up (None: no traffic reports);
    `timeout` bounds each request's answer, `connect_timeout` its connection. Requests
    go one at a time. The last accepted attach is kept per ICCID (its IP is the PDP
    address).
    """

    def __init__(
        self,
        url: str,
        *,
        traffic: TrafficProfile | None = None,
        timeout: float = 2.0,
        connect_timeout: float = 1.0,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        netloc = parts.netloc.rpartition("@")[2]
        shown = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"the emulator URL must be http://HOST[:PORT]: {shown!r}")
        try:
            port = parts.port
        except ValueError:
            raise ValueError(f"bad port in the emulator URL: {shown!r}") from None
        if credentials is None and parts.username is not None:
            credentials = (
                urllib.parse.unquote(parts.username),
                urllib.parse.unquote(parts.password or ""),
            )
        if credentials is None:
            token = os.environ.get("SIMGATE_ACCESS_TOKEN")
            secret = os.environ.get("SIMGATE_ACCESS_TOKEN_SECRET")
            credentials = (token, secret) if token and secret else None
        self._auth = (
            None
            if credentials is None
            else "Basic " + base64.b64encode(":".join(credentials).encode()).decode("ascii")
        )
        self.url = shown
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = port
        self._base = parts.path.rstrip("/")
        self._traffic = traffic
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._attached: dict[str, dict[str, Any]] = {}
        self._reachable = True

    @property
    def traffic(self) -> TrafficProfile | None:
        """The traffic metered in a session (None: no reports)."""
        return self._traffic

    def attach(self, iccid: str, imsi: str, imei: str) -> AttachOutcome:
        """Ask the emulator; home when accepted, denied when refused, searching when it
        cannot be reached."""
        verdict, doc = self._post("attach", {"iccid": iccid, "imsi": imsi, "imei": imei})
        if doc is None:
            self._attached.pop(iccid, None)
            return AttachOutcome.SEARCHING
        if verdict is Verdict.REFUSED:
            self._attached.pop(iccid, None)
            logger.info("attach of %s refused by the network: %s", iccid, doc.get("reason"))
            return AttachOutcome.DENIED
        self._attached[iccid] = doc
        if not doc.get("internet"):
            logger.info("attach of %s accepted: closed network only (no internet)", iccid)
        else:
            logger.info("attach of %s accepted", iccid)
        return AttachOutcome.HOME

    def address(self, iccid: str) -> str | None:
        """The IP the emulator gave the SIM at its last accepted attach."""
        ip = self._attached.get(iccid, {}).get("ip")
        return ip if isinstance(ip, str) and ip else None

    def attach_answer(self, iccid: str) -> dict[str, Any] | None:
        """The emulator's answer to the SIM's last accepted attach (`internet`,
        `closed_network`, `ip`, ...), or None."""
        answer = self._attached.get(iccid)
        return None if answer is None else dict(answer)

    def open_session(self, iccid: str) -> NetworkAnswer:
        """`session` up."""
        return self._answer(*self._post("session", {"iccid": iccid, "state": "up"}))

    def close_session(self, iccid: str) -> NetworkAnswer:
        """`session` down."""
        return self._answer(*self._post("session", {"iccid": iccid, "state": "down"}))

    def report_traffic(self, iccid: str, up: int, down: int) -> NetworkAnswer:
        """`traffic`: the bytes measured since the last report."""
        return self._answer(*self._post("traffic", {"iccid": iccid, "up": up, "down": down}))

    @staticmethod
    def _answer(verdict: Verdict, doc: dict[str, Any] | None) -> NetworkAnswer:
        if doc is None:
            return NetworkAnswer(verdict)
        reason = doc.get("reason")
        return NetworkAnswer(
            verdict,
            reason if isinstance(reason, str) else None,
            session_cut=doc.get("session_cut") is True,
        )

    def _post(self, what: str, body: dict[str, object]) -> tuple[Verdict, dict[str, Any] | None]:
        """POST to the network endpoint `what`; the verdict and the answer's JSON (None
        when there is no usable answer)."""
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._auth is not None:
            headers["Authorization"] = self._auth
        with self._lock:
            conn: http.client.HTTPConnection
            if self._https:
                conn = http.client.HTTPSConnection(
                    self._host, self._port, timeout=self._connect_timeout
                )
            else:
                conn = http.client.HTTPConnection(
                    self._host, self._port, timeout=self._connect_timeout
                )
            try:
                try:
                    conn.connect()
                    if conn.sock is not None:
                        conn.sock.settimeout(self._timeout)
                        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    conn.request("POST", self._base + PREFIX + what, body=data, headers=headers)
                except OSError as exc:
                    self._unreachable(what, f"cannot send: {exc}")
                    return Verdict.NOT_DELIVERED, None
                try:
                    response = conn.getresponse()
                    raw = response.read()
                except (OSError, http.client.HTTPException) as exc:
                    self._unreachable(what, f"no answer: {exc!r}")
                    return Verdict.UNANSWERED, None
            finally:
                conn.close()
            if response.status != 200:
                self._unreachable(what, f"HTTP {response.status}")
                return Verdict.NOT_DELIVERED, None
            try:
                doc = json.loads(raw)
            except ValueError:
                doc = None
            if not isinstance(doc, dict) or not isinstance(doc.get("accepted"), bool):
                self._unreachable(what, "an answer that is not the network's JSON")
                return Verdict.UNANSWERED, None
            if not self._reachable:
                logger.info("the emulator at %s answers again", self.url)
                self._reachable = True
            return (Verdict.ACCEPTED if doc["accepted"] else Verdict.REFUSED), doc

    def _unreachable(self, what: str, why: str) -> None:
        if self._reachable:
            logger.warning("the emulator at %s did not take %s (%s): no coverage", self.url,
                           what, why)  # fmt: skip
            self._reachable = False
        else:
            logger.debug("the emulator at %s did not take %s (%s)", self.url, what, why)
