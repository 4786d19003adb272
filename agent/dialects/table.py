"""The vendor dialects the agent knows, declared as data (docs/dialects.md has the matrix).

A `Dialect` says which vendor command reads what, how its answer is parsed, and which
quirks the module has. The agent tries a dialect's command first and falls back to the
3GPP one (`+CCID`/`+CRSM`, `+CPINR`/`+CSIM`) when the module refuses it or answers
something unreadable, so a wrong guess costs a command, never a function.

Facts: Quectel, SIMCom and u-blox AT command manuals; oFono `drivers/atmodem/sim.c`
(`+QPINC?`, `+SPIC`, `+UPINCNT`, and the SIMCom SIM-busy poll after `+CPIN`);
ModemManager `src/plugins/ublox/mm-modem-helpers-ublox.c` (`+UPINCNT`, `+UGCNTRD`),
`src/plugins/quectel/mm-shared-quectel.c` (`RDY`, `+QUSIM: 1`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from agent.at import commands
from agent.at.commands import Command
from agent.at.responses import RetryCounts, parse_qpinc, parse_spic, parse_upincnt
from agent.at.responses.vendor import qgdcnt_up_down, ugcntrd_up_down


@dataclass(frozen=True)
class RetryReader:
    """The vendor command that reads the PIN/PUK tries left, and its parser."""

    command: Command
    parse: Callable[[Sequence[str]], RetryCounts]


@dataclass(frozen=True)
class CounterReader:
    """The vendor command that reads the data counters; `parse` gives (up, down) bytes."""

    command: Command
    parse: Callable[[Sequence[str]], tuple[int, int]]


@dataclass(frozen=True)
class PdpCommands:
    """The vendor's own data-connection commands (documented; see `Dialect.pdp`)."""

    define: str
    activate: str
    deactivate: str
    read: str


@dataclass(frozen=True)
class Quirks:
    """Known departures from 27.007, and where they are handled.

    - `sim_busy_after_unlock`: `+CME ERROR: 14` for a while after a PIN is accepted (the
      SIM manager polls `+CPIN?` until READY for every dialect).
    - `quoted_cpin`: `+CPIN: "SIM PIN"` (the `+CPIN` parser unquotes for every dialect;
      no shipped dialect claims it: SIMCom's SIM7600 manual gives `+CPIN: <code>`).
    - `urcs_before_ok`: URCs between an answer's lines and its final result (the engine
      classifies lines by what is pending, so a `+QIND:` there is still a URC).
    - `unlock_urcs`: what the module says by itself once the SIM is ready.
    """

    sim_busy_after_unlock: bool = False
    quoted_cpin: bool = False
    urcs_before_ok: bool = False
    unlock_urcs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Dialect:
    """One family of modules: how to recognise it and which commands it adds."""

    name: str
    vendor: str
    manufacturers: tuple[str, ...]  # lower-case prefixes of the `+CGMI` answer
    usb_vendor_ids: tuple[str, ...] = ()
    models: tuple[str, ...] = ()  # the modules the facts were taken for
    iccid: Command | None = None  # parsed by `parse_iccid` (any vendor prefix)
    retries: RetryReader | None = None
    counters: CounterReader | None = None
    pdp: PdpCommands | None = None  # documented, not used: +CGDCONT/+CGACT work on all
    quirks: Quirks = field(default_factory=Quirks)


GENERIC = Dialect(name="generic", vendor="3GPP TS 27.007", manufacturers=())

QUECTEL = Dialect(
    name="quectel",
    vendor="Quectel",
    manufacturers=("quectel",),
    usb_vendor_ids=("2c7c",),
    models=("EC25", "EG25-G", "BG96"),
    iccid=commands.execute("+QCCID"),
    retries=RetryReader(commands.read("+QPINC"), parse_qpinc),
    counters=CounterReader(commands.read("+QGDCNT"), qgdcnt_up_down),
    pdp=PdpCommands(
        define='AT+QICSGP=<cid>,1,"<apn>"',
        activate="AT+QIACT=<cid>",
        deactivate="AT+QIDEACT=<cid>",
        read="AT+QIACT?",
    ),
    quirks=Quirks(
        urcs_before_ok=True,
        unlock_urcs=("+CPIN: READY", "+QUSIM: 1", "+QIND: SMS DONE", "+QIND: PB DONE"),
    ),
)

SIMCOM = Dialect(
    name="simcom",
    vendor="SIMCom",
    manufacturers=("simcom",),
    usb_vendor_ids=("1e0e",),
    models=("SIM7600", "SIM7080"),
    iccid=commands.execute("+CICCID"),
    retries=RetryReader(commands.execute("+SPIC"), parse_spic),
    pdp=PdpCommands(
        define='AT+CGDCONT=<cid>,"IP","<apn>"',
        activate="AT+NETOPEN (SIM7600) / AT+CNACT=<pdpidx>,1 (SIM7080)",
        deactivate="AT+NETCLOSE / AT+CNACT=<pdpidx>,0",
        read="AT+NETOPEN? / AT+CNACT?",
    ),
    quirks=Quirks(
        sim_busy_after_unlock=True,
        unlock_urcs=("+CPIN: READY",),
    ),
)

UBLOX = Dialect(
    name="ublox",
    vendor="u-blox",
    manufacturers=("u-blox", "ublox"),
    usb_vendor_ids=("1546",),
    models=("SARA-R4", "SARA-R5"),
    iccid=commands.execute("+CCID"),
    retries=RetryReader(commands.execute("+UPINCNT"), parse_upincnt),
    counters=CounterReader(commands.execute("+UGCNTRD"), ugcntrd_up_down),
    pdp=PdpCommands(
        define='AT+UPSD=0,1,"<apn>"',
        activate="AT+UPSDA=0,3",
        deactivate="AT+UPSDA=0,4",
        read="AT+UPSND=0,8",
    ),
)

DIALECTS: Mapping[str, Dialect] = MappingProxyType(
    {d.name: d for d in (GENERIC, QUECTEL, SIMCOM, UBLOX)}
)


def get_dialect(name: str) -> Dialect:
    """The dialect called `name`; `ValueError` lists the known names."""
    try:
        return DIALECTS[name]
    except KeyError:
        raise ValueError(f"unknown dialect {name!r} (known: {', '.join(DIALECTS)})") from None
