"""The data plane seen from the modem: a real interface per data session (DATAPLANE.md §2).

When the emulator runs with a data plane, its answer to an accepted attach carries a
`dataplane` object (gateway namespace, the network end's name, the SIM's address, prefix,
gateway, DNS servers, MTU). `DataPlaneNetwork` wraps the emulator's radio network and,
for such a SIM, ties a veth pair to the data session:

- session up (the first context activated): the pair is made (device end named as the
  dialect's module names its interface, in `--netns NAME` or the stub's own namespace;
  network end inside the gateway namespace), then `session up` is POSTed; a refused or
  unanswered session deletes the pair again;
- session down (the last context deactivated, a detach, the stub powering off): `session
  down` is POSTed and the pair deleted (gone already is fine);
- traffic: the gateway counts the packets itself, so no `traffic` report is POSTed for a
  data-plane session; the report's tick only checks that the link is still there. When
  the network removed it (it ended the session: a heavy-traffic cut, a deactivation),
  the answer is a cut: the contexts drop with `+CGEV: NW PDN DEACT`.

Without a `dataplane` in the answer everything goes to the emulator as before. `bearer()`
gives `+CGCONTRDP` its facts (address, mask, gateway, DNS).
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from firmware_stubs import netif
from firmware_stubs.network import (
    ACCEPTED,
    AttachOutcome,
    Network,
    NetworkAnswer,
    TrafficProfile,
    Verdict,
)

logger = logging.getLogger(__name__)

DEFAULT_IFNAME = "wwan0"


@dataclass(frozen=True)
class Bearer:
    """What the network gave a SIM's data session: the facts `+CGCONTRDP` reports."""

    address: str
    prefix_len: int = 32
    gateway: str | None = None
    dns: tuple[str, ...] = ()
    mtu: int = 1500
    namespace: str | None = None  # the gateway's namespace (data plane only)
    peer_ifname: str | None = None

    @property
    def mask(self) -> str:
        """The subnet mask in dotted form (`255.255.255.255` for /32)."""
        return str(ipaddress.IPv4Network(f"0.0.0.0/{self.prefix_len}").netmask)


def bearer_from_answer(answer: dict[str, Any] | None) -> Bearer | None:
    """The `dataplane` of an attach answer as a `Bearer`, or None when it has none (or a
    malformed one, which is logged)."""
    plane = None if answer is None else answer.get("dataplane")
    if not isinstance(plane, dict):
        return None
    try:
        dns = plane.get("dns") or []
        bearer = Bearer(
            address=str(ipaddress.IPv4Address(plane["address"])),
            prefix_len=int(plane.get("prefix_len", 32)),
            gateway=str(ipaddress.IPv4Address(plane["gateway"])),
            dns=tuple(str(ipaddress.IPv4Address(d)) for d in dns),
            mtu=int(plane.get("mtu", 1500)),
            namespace=str(plane["namespace"]),
            peer_ifname=netif.check_ifname(str(plane["peer_ifname"])),
        )
    except (KeyError, TypeError, ValueError) as exc:
        logger.error("the emulator's dataplane answer is unusable (%s): %r", exc, plane)
        return None
    if not 0 <= bearer.prefix_len <= 32 or not 68 <= bearer.mtu <= 65535:
        logger.error("the emulator's dataplane answer is unusable: %r", plane)
        return None
    return bearer


@runtime_checkable
class BearerSource(Protocol):
    """A network that says what it gave a SIM's data session (`+CGCONTRDP`)."""

    def bearer(self, iccid: str) -> Bearer | None:
        """The data plane's facts for the SIM's last accepted attach, or None."""
        ...


class AttachAnswers(Network, Protocol):
    """The emulator's radio network: a `Network` that keeps its attach answers."""

    def attach_answer(self, iccid: str) -> dict[str, Any] | None:
        """The answer to the SIM's last accepted attach, or None."""
        ...


class DataPlaneNetwork:
    """The emulator's network with the modem's interface tied to each data session."""

    def __init__(
        self, inner: AttachAnswers, *, ifname: str = DEFAULT_IFNAME, netns: str | None = None
    ) -> None:
        self.inner = inner
        self.ifname = netif.check_ifname(ifname)
        self.netns = netns
        self._lock = threading.Lock()
        self._links: dict[str, Bearer] = {}  # iccid -> the bearer whose link is up

    @property
    def traffic(self) -> TrafficProfile | None:
        """The inner network's traffic profile."""
        return self.inner.traffic

    def attach(self, iccid: str, imsi: str, imei: str) -> AttachOutcome:
        """Asked of the emulator."""
        return self.inner.attach(iccid, imsi, imei)

    def address(self, iccid: str) -> str | None:
        """The data plane's address, else the IP of the attach answer."""
        bearer = self.bearer(iccid)
        return bearer.address if bearer is not None else self.inner.address(iccid)

    def bearer(self, iccid: str) -> Bearer | None:
        """The attach answer's `dataplane`, or None."""
        return bearer_from_answer(self.inner.attach_answer(iccid))

    def open_session(self, iccid: str) -> NetworkAnswer:
        """Make the link (data plane), then `session up`; undo the link if refused."""
        bearer = self.bearer(iccid)
        if bearer is None or bearer.namespace is None or bearer.peer_ifname is None:
            return self.inner.open_session(iccid)
        with self._lock:
            try:
                netif.create_veth(
                    self.ifname,
                    netns=self.netns,
                    peer_ifname=bearer.peer_ifname,
                    peer_netns=bearer.namespace,
                    mtu=bearer.mtu,
                )
            except netif.LinkError as exc:
                logger.error("data session of %s: no network interface: %s", iccid, exc)
                return NetworkAnswer(Verdict.REFUSED, "no_link")
            answer = self.inner.open_session(iccid)
            if answer.accepted:
                self._links[iccid] = bearer
            else:
                netif.delete_link(self.ifname, netns=self.netns)
            return answer

    def close_session(self, iccid: str) -> NetworkAnswer:
        """`session down`, then the link deleted (already gone is fine)."""
        answer = self.inner.close_session(iccid)
        with self._lock:
            if self._links.pop(iccid, None) is not None:
                netif.delete_link(self.ifname, netns=self.netns)
        return answer

    def report_traffic(self, iccid: str, up: int, down: int) -> NetworkAnswer:
        """Not sent for a data-plane session (the gateway counts; a link the network
        removed ends the session); else the emulator's."""
        with self._lock:
            if iccid in self._links:
                try:
                    there = netif.link_exists(self.ifname, netns=self.netns)
                except netif.LinkError as exc:
                    logger.debug("cannot check %s: %s", self.ifname, exc)
                    return ACCEPTED
                if there:
                    return ACCEPTED
                del self._links[iccid]
                logger.info("data session of %s: the network removed its interface", iccid)
                return NetworkAnswer(Verdict.ACCEPTED, "link_gone", session_cut=True)
        return self.inner.report_traffic(iccid, up, down)

    def close(self) -> None:
        """The stub is exiting: end every data-plane session and remove its link."""
        with self._lock:
            open_ones = list(self._links)
        for iccid in open_ones:
            self.close_session(iccid)
