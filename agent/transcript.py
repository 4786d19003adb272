"""Recording a modem's AT exchange to a transcript file (JSON Lines) for replay.

`simgate agent --record FILE …` wraps the modem in a `RecordingModem`: every command it
sends (the line-set-up and resync probes too), the answer's lines and final result,
how long the answer took, and every URC and restart banner are appended to FILE, one
JSON object a line, after a header line per session:

    {"transcript": "simgate", "version": 1, "port": "/dev/ttyUSB2", "started": "…"}
    {"t": 0.0132, "send": "AT+CPIN=\\"****\\"", "lines": [], "result": "OK", "took": 0.21}
    {"t": 0.2511, "urc": "+QIND: SMS DONE"}
    {"t": 0.3020, "send": "AT+COPS=?", "timeout": true, "took": 180.0}

`t` is seconds since the session began. Secrets never reach the file: commands are
written as logs show them (`AT+CPIN="****"`), a line that looks like an echo is written
`<echo>`, and any answer line holding a secret value of the command has it masked.
The file is created with mode 0600 (it holds ICCIDs and IMSIs). `simgate stub serve
--replay FILE` plays it back as a modem (`firmware_stubs/replay.py`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from agent.at.commands import MASK, Command
from agent.at.engine import FinalResult, Response, ResultKind
from agent.at.errors import ModemTimeout
from agent.modem.client import Modem

log = logging.getLogger(__name__)

FORMAT = "simgate"
VERSION = 1
ECHO = "<echo>"
_QUOTED = re.compile(r'"([^"]*)"')


def wire_result(result: FinalResult) -> str:
    """The final result as a modem in `ATV1` mode sends it (`+CME ERROR: 16`)."""
    if result.kind in (ResultKind.CME_ERROR, ResultKind.CMS_ERROR):
        detail = str(result.code) if result.code is not None else result.text
        return f"{result.kind.value}: {detail}"
    return f"{result.kind.value} {result.text}".rstrip()


def secrets_of(command: Command) -> list[str]:
    """The secret values a command line carries (what `masked` shows as `****`)."""
    sent, shown = _QUOTED.findall(command.line), _QUOTED.findall(command.masked)
    return [v for v, m in zip(sent, shown, strict=False) if m == MASK and v != MASK and v]


def scrub(line: str, secrets: list[str]) -> str:
    """`line` fit for a transcript: echoes hidden, the command's secrets masked."""
    if line.strip()[:2].upper() == "AT":
        return ECHO
    for value in secrets:
        line = line.replace(value, MASK)
    return line


class TranscriptWriter:
    """Appends one session's events to a transcript file."""

    def __init__(self, path: Path, port: str) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._file: IO[str] | None = os.fdopen(fd, "a", encoding="utf-8")
        self._start = time.monotonic()
        self.path = path
        self._write(
            {
                "transcript": FORMAT,
                "version": VERSION,
                "port": port,
                "started": datetime.now(UTC).isoformat(timespec="seconds"),
            }
        )

    def _now(self) -> float:
        return round(time.monotonic() - self._start, 4)

    def _write(self, event: dict[str, object]) -> None:
        if self._file is None:
            return
        self._file.write(json.dumps(event, ensure_ascii=False) + "\n")
        self._file.flush()

    def exchange(
        self,
        command: Command,
        sent_at: float,
        response: Response | None,
        error: BaseException | None = None,
    ) -> None:
        """One command and what came of it (an answer, a timeout, a lost port)."""
        event: dict[str, object] = {
            "t": round(sent_at - self._start, 4),
            "send": command.masked,
        }
        if response is not None:
            secrets = secrets_of(command)
            event["lines"] = [scrub(line, secrets) for line in response.lines]
            event["result"] = wire_result(response.result)
        elif isinstance(error, ModemTimeout):
            event["timeout"] = True
        else:
            event["lost"] = type(error).__name__ if error else "unknown"
        event["took"] = round(time.monotonic() - sent_at, 4)
        self._write(event)

    def urc(self, line: str) -> None:
        """An unsolicited line."""
        self._write({"t": self._now(), "urc": scrub(line, [])})

    def reboot(self, banner: str) -> None:
        """A restart banner (`RDY`)."""
        self._write({"t": self._now(), "reboot": banner})

    def close(self) -> None:
        """Flush and close the file."""
        if self._file is not None:
            self._file.close()
            self._file = None


class RecordingModem(Modem):
    """A `Modem` that writes its AT exchange to a transcript."""

    def __init__(self) -> None:
        super().__init__()
        self.transcript: TranscriptWriter | None = None

    @classmethod
    async def open_recording(
        cls, url: str, path: Path, *, baudrate: int = 115200, prepare: bool = True
    ) -> RecordingModem:
        """Open `url` as `Modem.open` does, recording everything to `path` (appended)."""
        modem = await cls.open(url, baudrate=baudrate, prepare=False)
        assert isinstance(modem, RecordingModem)
        try:
            modem.transcript = TranscriptWriter(path, url)
        except OSError:
            await modem.close()
            raise
        modem.on_urc(modem.transcript.urc)
        modem.on_reboot(modem.transcript.reboot)
        log.info("recording the AT exchange to %s", path)
        if prepare:
            try:
                await modem.prepare()
            except BaseException:
                await modem.close()
                raise
        return modem

    async def _exchange(self, command: Command, *, resync_on_timeout: bool) -> Response:
        sent_at = time.monotonic()
        try:
            response = await super()._exchange(command, resync_on_timeout=False)
        except BaseException as exc:
            if self.transcript is not None:
                self.transcript.exchange(command, sent_at, None, exc)
            if isinstance(exc, ModemTimeout) and resync_on_timeout:
                await self._resync()
            raise
        if self.transcript is not None:
            self.transcript.exchange(command, sent_at, response)
        return response

    async def close(self) -> None:
        """Close the port, then the transcript."""
        await super().close()
        if self.transcript is not None:
            self.transcript.close()
