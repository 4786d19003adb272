"""The modem's state that command handlers read and change, and the radio network it sees.

Registration theory: the modem registers only while the radio is on (`+CFUN=1`), the
operator selection is not "deregister" (`+COPS=2`) and the SIM is READY. When those hold,
it searches (stat 2) for `register_delay` seconds, then is registered home (stat 1);
whenever one stops holding it is not registered (stat 0) and its PDP contexts drop.
Packet-switched registration (`+CGREG`, `+CEREG`) also needs the PS attach (`+CGATT`).
When a search ends, the carrier's `Network` decides the outcome (home, roaming or
denied); the answer holds until registration is lost or `network_changed()` is called.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from firmware_stubs.card import CardState, SimCard
from firmware_stubs.dialects import Dialect
from firmware_stubs.faults import Faults
from firmware_stubs.network import AttachOutcome, LocalNetwork, Network

NOT_REGISTERED, HOME, SEARCHING, DENIED, ROAMING = 0, 1, 2, 3, 5
REGISTERED = (HOME, ROAMING)


@dataclass(frozen=True)
class NetworkProfile:
    """The radio network the stub pretends to see, and how long things take."""

    operator_long: str = "NTT DOCOMO"
    operator_short: str = "DOCOMO"
    operator_numeric: str = "44010"
    tac: str = "1A2B"
    cell_id: str = "01C2D3E4"
    act: int = 7  # E-UTRAN
    rssi: int = 20
    register_delay: float = 0.2
    cops_scan_seconds: float = 0.5
    connect_speed: int = 150_000_000
    other_operators: tuple[tuple[str, str, str], ...] = (("SoftBank", "SoftBank", "44020"),)

    def __post_init__(self) -> None:
        if self.register_delay < 0 or self.cops_scan_seconds < 0:
            raise ValueError("NetworkProfile delays must not be negative")


@dataclass
class PdpContext:
    """One `+CGDCONT` context and whether it is active."""

    pdp_type: str
    apn: str
    active: bool = False


@dataclass
class ModemState:
    """Everything the command handlers may read or change."""

    card: SimCard
    dialect: Dialect
    imei: str
    network: NetworkProfile = field(default_factory=NetworkProfile)
    faults: Faults = field(default_factory=Faults)
    carrier: Network = field(default_factory=LocalNetwork)
    now: float = 0.0
    # settings that ATZ restores
    echo: bool = True
    verbose: bool = True
    cmee: int = 0
    x_level: int = 4
    dcd_mode: int = 1
    dtr_mode: int = 2
    creg_n: int = 0
    cgreg_n: int = 0
    cereg_n: int = 0
    cops_format: int = 0
    charset: str = "IRA"
    s_registers: dict[int, int] = field(default_factory=dict)
    # state that a reboot restores
    cfun: int = 1
    cops_deregistered: bool = False
    ps_attach_wanted: bool = True
    busy_until: float = 0.0
    data_mode: bool = False
    data_cid: int | None = None
    data_bytes_up: int = 0
    contexts: dict[int, PdpContext] = field(default_factory=dict)
    _ready_at: float | None = None
    _outcome: AttachOutcome | None = None

    def __post_init__(self) -> None:
        self.cmee = self.dialect.cmee_default
        if not self.contexts:
            self.contexts[1] = PdpContext("IP", "")

    def reset_settings(self) -> None:
        """ATZ / AT&F: the user profile's defaults (not the radio, card or contexts)."""
        self.echo = True
        self.verbose = True
        self.cmee = self.dialect.cmee_default
        self.x_level = 4
        self.dcd_mode = 1
        self.dtr_mode = 2
        self.creg_n = self.cgreg_n = self.cereg_n = 0
        self.cops_format = 0
        self.charset = "IRA"
        self.s_registers.clear()

    def power_cycle(self) -> None:
        """A reboot: defaults, radio on, the card re-powered, contexts down, data mode over."""
        self.reset_settings()
        self.cfun = 1
        self.cops_deregistered = False
        self.ps_attach_wanted = True
        self.busy_until = 0.0
        self.data_mode = False
        self.data_cid = None
        self._ready_at = None
        self._outcome = None
        for context in self.contexts.values():
            context.active = False
        self.card.power_on()

    def sim_busy(self) -> bool:
        """True inside the SIM-busy window that follows an unlock."""
        return self.now < self.busy_until

    def sim_locked_error(self) -> int | None:
        """The `+CME ERROR` code for a card that is not usable, or None when READY."""
        state = self.card.state
        if state is CardState.BLOCKED:
            return 13  # SIM failure: what modules answer for a card with no PUK tries left
        if state is CardState.SIM_PUK:
            return 12
        if state is CardState.SIM_PIN:
            return 11
        return None

    def unlocked(self) -> None:
        """Called after a PIN or PUK is accepted: opens the SIM-busy window."""
        self.busy_until = self.now + self.faults.busy_after_unlock

    def cs_stat(self) -> int:
        """The circuit-switched registration status (`+CREG`), advancing the search."""
        can_register = (
            self.cfun == 1 and not self.cops_deregistered and self.card.state is CardState.READY
        )
        if not can_register:
            self._ready_at = None
            self._outcome = None
            stat = NOT_REGISTERED
        else:
            if self._ready_at is None:
                self._ready_at = self.now + self.network.register_delay
            if self.now < self._ready_at:
                stat = SEARCHING
            else:
                if self._outcome is None:
                    self._outcome = self.carrier.attach(self.card.iccid, self.card.imsi)
                stat = int(self._outcome)
        if stat not in REGISTERED:
            for context in self.contexts.values():
                context.active = False
        return stat

    def ps_stat(self) -> int:
        """The packet-switched registration status (`+CGREG`, `+CEREG`)."""
        stat = self.cs_stat()
        if not self.ps_attach_wanted and stat in REGISTERED:
            return NOT_REGISTERED
        return stat

    def network_changed(self) -> None:
        """The carrier may answer differently now: drop the registration and search again."""
        self._ready_at = None
        self._outcome = None
        self.cs_stat()

    def registration_deadline(self) -> float | None:
        """When the search in progress ends, if one is in progress."""
        return self._ready_at if self._ready_at is not None and self.now < self._ready_at else None

    def registered(self) -> bool:
        """True when registered (home or roaming) and attached for packet data."""
        return self.ps_stat() in REGISTERED

    def pdp_address(self, cid: int) -> str:
        """The address the network gives context `cid` (fixed, for reproducible tests)."""
        return f"10.64.{cid // 256}.{cid % 256 + 1}"
