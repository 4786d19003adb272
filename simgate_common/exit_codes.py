"""Process exit codes promised by the CLI contract (contracts §1)."""

from enum import IntEnum


class ExitCode(IntEnum):
    """What a `simgate` command's exit status means."""

    OK = 0
    BAD_INPUT = 2
    REFUSED_BY_SAFETY_RULE = 3
    MODEM_SAID_NO = 4
    UNREACHABLE = 5
