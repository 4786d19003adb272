"""A simulated modem and SIM card that speak AT over a pseudo-terminal.

`Interpreter` is the sans-I/O modem (bytes in, bytes out); `StubModem` serves one on a
pty from a background thread; `SimCard` and the card file give it a persistent SIM.
"""

from firmware_stubs.card import (
    CardFileError,
    CardOutcome,
    CardState,
    SimCard,
    load_card,
    new_card,
    save_card,
)
from firmware_stubs.dialects import DIALECTS, Dialect
from firmware_stubs.faults import Faults, OutputCorrupter
from firmware_stubs.interpreter import Interpreter
from firmware_stubs.network import AttachOutcome, LocalNetwork, Network
from firmware_stubs.pty_server import StubModem
from firmware_stubs.replies import CommandSpec, Reply, SimNeed
from firmware_stubs.state import ModemState, NetworkProfile

__all__ = [
    "DIALECTS",
    "AttachOutcome",
    "CardFileError",
    "CardOutcome",
    "CardState",
    "CommandSpec",
    "Dialect",
    "Faults",
    "Interpreter",
    "LocalNetwork",
    "ModemState",
    "Network",
    "NetworkProfile",
    "OutputCorrupter",
    "Reply",
    "SimCard",
    "SimNeed",
    "StubModem",
    "load_card",
    "new_card",
    "save_card",
]
