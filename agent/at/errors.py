"""The three kinds of error of the AT layer, kept apart.

- Protocol errors (`AtProtocolError`): the byte stream or a response broke the grammar,
  or our own side misused the engine.
- Transport errors: `OSError` and its subclasses (`ModemTimeout` is a `TimeoutError`).
- Modem-reported errors (`+CME ERROR: 16`) are *not* exceptions: they are result values
  (`agent.at.engine.FinalResult`) that the caller inspects.
"""

from __future__ import annotations


class AtProtocolError(Exception):
    """The conversation with the modem broke the AT grammar."""


class ResponseParseError(AtProtocolError):
    """An information line did not have the shape its command promises."""

    def __init__(self, command: str, line: str, why: str) -> None:
        super().__init__(f"cannot read the answer to {command}: {why} (line {line!r})")
        self.command = command
        self.line = line


class EngineStateError(AtProtocolError):
    """The engine was asked to do something its current state does not allow."""


class CommandInjectionError(ValueError):
    """A command parameter holds characters that would end or rewrite the command."""


class ModemTimeout(TimeoutError):
    """The modem gave no final result within the command's timeout."""


class ModemUnavailable(OSError):
    """The port could not be opened, or went away."""


class ModemRebooted(ConnectionResetError):
    """The modem announced a restart (`RDY`) while a command was pending."""
