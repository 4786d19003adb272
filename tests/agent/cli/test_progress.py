"""Progress on a terminal for the waits a person sits through (registration, a mute modem)."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
from collections.abc import Iterator

import pytest

from agent.cli import main
from agent.cli.common import PROGRESS_LOGGER, TerminalProgress, progress_to_terminal
from firmware_stubs import NetworkProfile, StubModem
from firmware_stubs.network import AttachOutcome, LocalNetwork
from tests.agent.cli.fake_modem import TableModem
from tests.agent.conftest import Bench


class Terminal:
    """The write end of a real pty (a terminal for `isatty`), and what reached it."""

    def __init__(self) -> None:
        self.master, slave = os.openpty()
        self.stream = io.TextIOWrapper(os.fdopen(slave, "wb", buffering=0), write_through=True)

    def text(self) -> str:
        chunks = []
        os.set_blocking(self.master, False)
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace").replace("\r\n", "\n")


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    term = Terminal()
    logger = logging.getLogger(PROGRESS_LOGGER)
    try:
        yield term
    finally:
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        logger.propagate = True
        logger.setLevel(logging.NOTSET)
        term.stream.close()
        os.close(term.master)


def test_registration_progress_shows_denied_at_once(
    bench: Bench, terminal: Terminal, capsys: pytest.CaptureFixture[str]
) -> None:
    bench.write_card(pin_enabled=False)
    stub = StubModem(
        card_path=bench.card_path,
        network=NetworkProfile(register_delay=0.0),
        carrier=LocalNetwork(AttachOutcome.DENIED),
    )
    with stub, contextlib.redirect_stderr(terminal.stream):
        code = main(
            ["--port", stub.device_path, "internet", "on", "--apn", "iot.example",
             "--register-timeout", "3"]
        )  # fmt: skip
    shown = terminal.text()
    assert code == 4
    first = re.search(r"\rnetwork: (\w[\w ]*)… (\d+)/3 s", shown)
    assert first is not None, shown
    assert first.group(1) == "denied"  # said the moment the network says so, not at the end
    assert "network: denied after 3 s\n" in shown  # the last line stays
    assert capsys.readouterr().out == ""  # progress never goes to stdout


def test_a_modem_that_does_not_answer_shows_attempts_without_verbose(terminal: Terminal) -> None:
    mute = TableModem({}, default=None)
    try:
        with contextlib.redirect_stderr(terminal.stream):
            code = main(["--port", mute.path, "sim", "status"])
    finally:
        mute.close()
    shown = terminal.text()
    assert code == 5
    assert f"the modem on {mute.path} does not answer: attempt 1/5" in shown
    assert "attempt 5/5" in shown
    assert f"the modem on {mute.path} did not answer 5 probes in" in shown


def test_no_progress_when_stderr_is_not_a_terminal() -> None:
    stream = io.StringIO()
    progress_to_terminal(stream)
    logger = logging.getLogger(PROGRESS_LOGGER)
    assert not any(isinstance(h, TerminalProgress) for h in logger.handlers)
