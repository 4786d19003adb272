"""Where byte counts come from: the modem's own counters, or the OS network interface.

A `UsageSource` gives raw counter readings and a name (`"modem"`, `"os:wwan0"`); the
`UsageMeter` turns them into traffic. Modem counters are vendor commands (Quectel,
SIMCom and u-blox each have their own); a `VendorCounter` declares one (the command and
its parser) and `VENDOR_COUNTERS` says which manufacturer has which: the rows come from
the dialects (`agent/dialects/`): Quectel `AT+QGDCNT?`, u-blox `AT+UGCNTRD`. SIMCom
documents no data counter command; for it, and for modems of unknown makers, the OS
interface's counters are used.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from agent.at import commands
from agent.at.commands import Command
from agent.at.errors import ResponseParseError
from agent.dialects.table import DIALECTS, Dialect
from agent.modem.client import Modem
from agent.usage.counters import CounterReading

log = logging.getLogger(__name__)

SYSFS_NET = Path("/sys/class/net")
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
DEFAULT_INTERFACE = "wwan0"


class UsageUnavailable(OSError):
    """The counters cannot be read: no such interface, or the modem would not say."""


class NoModemCounters(Exception):
    """The modem has no data counters the agent knows how to read (use the OS interface)."""


class UsageSource(Protocol):
    """Something that reads a pair of byte counters."""

    @property
    def name(self) -> str:
        """What `usage` reports as `source`: `"modem"` or `"os:<interface>"`."""
        ...

    async def read(self) -> CounterReading:
        """The counters now (raw: they may have wrapped or reset since the last read)."""
        ...


class OsInterfaceCounters:
    """The kernel's counters of a network interface: `<root>/<iface>/statistics/*_bytes`.

    `tx_bytes` is up, `rx_bytes` down. The epoch is the host's boot id and the
    interface's ifindex, so a re-created interface or a reboot counts as a reset.
    """

    def __init__(
        self,
        interface: str = DEFAULT_INTERFACE,
        *,
        sysfs_root: Path = SYSFS_NET,
        boot_id_path: Path = BOOT_ID,
    ) -> None:
        if not interface or "/" in interface or interface in (".", ".."):
            raise ValueError(f"not a network interface name: {interface!r}")
        self.interface = interface
        self._directory = sysfs_root / interface
        self._boot_id_path = boot_id_path

    @property
    def name(self) -> str:
        """`os:<interface>`."""
        return f"os:{self.interface}"

    async def read(self) -> CounterReading:
        """Read the two counters (a few bytes from sysfs: no thread needed)."""
        if not self._directory.is_dir():
            raise UsageUnavailable(
                f"no network interface {self.interface!r} ({self._directory} does not "
                "exist); name the modem's interface with --iface"
            )
        up = self._number(self._directory / "statistics" / "tx_bytes")
        down = self._number(self._directory / "statistics" / "rx_bytes")
        return CounterReading(up, down, self._epoch())

    def _number(self, path: Path) -> int:
        try:
            text = path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageUnavailable(f"cannot read {path}: {exc}") from exc
        if not text.isdigit():
            raise UsageUnavailable(f"{path} does not hold a byte count: {text[:40]!r}")
        return int(text)

    def _epoch(self) -> str | None:
        parts = []
        for path in (self._boot_id_path, self._directory / "ifindex"):
            try:
                parts.append(path.read_text(encoding="ascii").strip())
            except (OSError, UnicodeDecodeError):
                log.debug("no %s; counter resets are told by lower values only", path)
                parts.append("")
        return ":".join(parts) if any(parts) else None


@dataclass(frozen=True)
class VendorCounter:
    """A vendor command that reports the modem's data counters, and its parser.

    `parse` takes the answer's information lines and returns (bytes up, bytes down); it
    raises `ResponseParseError` for an answer it cannot read.
    """

    command: Command
    parse: Callable[[Sequence[str]], tuple[int, int]]


# (lower-case prefix of the `+CGMI` manufacturer, its counter), from the dialect table.
VENDOR_COUNTERS: list[tuple[str, VendorCounter]] = [
    (prefix, VendorCounter(dialect.counters.command, dialect.counters.parse))
    for dialect in DIALECTS.values()
    if dialect.counters is not None
    for prefix in dialect.manufacturers
]


def vendor_counter_for(
    manufacturer: str, table: Sequence[tuple[str, VendorCounter]] | None = None
) -> VendorCounter | None:
    """The counter command of the modem whose `+CGMI` answer is `manufacturer`, if known."""
    wanted = manufacturer.strip().lower()
    for prefix, counter in VENDOR_COUNTERS if table is None else table:
        if wanted.startswith(prefix):
            return counter
    return None


async def modem_counters(modem: Modem, dialect: Dialect | None = None) -> ModemCounters:
    """The counters of `modem`, chosen by its manufacturer (`+CGMI`), or those of
    `dialect` when the caller knows it; `NoModemCounters` if there are none."""
    if dialect is not None:
        reader = dialect.counters
        if reader is None:
            raise NoModemCounters(
                f"the {dialect.name} dialect has no data counter command; read the OS "
                "interface's counters instead"
            )
        return ModemCounters(modem, VendorCounter(reader.command, reader.parse))
    manufacturer = await manufacturer_of(modem)
    counter = vendor_counter_for(manufacturer) if manufacturer else None
    if counter is None:
        raise NoModemCounters(
            f"the agent knows no data counter command for this modem "
            f"(manufacturer {manufacturer!r}); read the OS interface's counters instead"
        )
    return ModemCounters(modem, counter)


async def manufacturer_of(modem: Modem) -> str | None:
    """The modem's `+CGMI` answer (the first information line), or None."""
    response = await modem.command(commands.execute("+CGMI"))
    if not response.result.ok:
        return None
    for line in response.lines:
        text = line.strip()
        if text:
            return text.split(":", 1)[1].strip() if text.upper().startswith("+CGMI:") else text
    return None


class ModemCounters:
    """The modem's own data counters, read with a `VendorCounter`."""

    def __init__(self, modem: Modem, counter: VendorCounter) -> None:
        self._modem = modem
        self._counter = counter

    @property
    def name(self) -> str:
        """`modem`."""
        return "modem"

    async def read(self) -> CounterReading:
        """Send the vendor command and parse the two counters."""
        response = await self._modem.command(self._counter.command)
        if not response.result.ok:
            raise UsageUnavailable(
                f"the modem refused {self._counter.command.masked}: {response.result}"
            )
        try:
            up, down = self._counter.parse(response.lines)
        except ResponseParseError as exc:
            raise UsageUnavailable(f"the modem's counters could not be read: {exc}") from exc
        return CounterReading(up, down)
