"""A simulated modem and SIM card that speak AT over a pseudo-terminal.

`Interpreter` is the sans-I/O modem (bytes in, bytes out); `StubModem` serves one on a
pty from a background thread; `SimCard` and the card file give it a persistent SIM.
`LocalNetwork` or `EmulatorNetwork` (the emulator, over HTTP) is the radio network.
`ReplayModem` answers from a transcript the agent recorded (`replay_stub`).
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
from firmware_stubs.emulator_network import EmulatorNetwork
from firmware_stubs.faults import Faults, OutputCorrupter
from firmware_stubs.interpreter import Interpreter
from firmware_stubs.network import (
    AttachOutcome,
    LocalNetwork,
    Network,
    NetworkAnswer,
    TrafficProfile,
    Verdict,
)
from firmware_stubs.pty_server import StubModem
from firmware_stubs.replay import ReplayModem, TranscriptError, TranscriptMismatch, replay_stub
from firmware_stubs.replies import CommandSpec, Reply, SimNeed
from firmware_stubs.state import ModemState, NetworkProfile
from firmware_stubs.traffic import TrafficCounters, TrafficMeter

__all__ = [
    "DIALECTS",
    "AttachOutcome",
    "CardFileError",
    "CardOutcome",
    "CardState",
    "CommandSpec",
    "Dialect",
    "EmulatorNetwork",
    "Faults",
    "Interpreter",
    "LocalNetwork",
    "ModemState",
    "Network",
    "NetworkAnswer",
    "NetworkProfile",
    "OutputCorrupter",
    "ReplayModem",
    "Reply",
    "SimCard",
    "SimNeed",
    "StubModem",
    "TrafficCounters",
    "TrafficMeter",
    "TrafficProfile",
    "TranscriptError",
    "TranscriptMismatch",
    "Verdict",
    "load_card",
    "new_card",
    "replay_stub",
    "save_card",
]
