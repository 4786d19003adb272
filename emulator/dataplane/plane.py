"""`DataPlane`: what the HTTP layer drives (attach answers, sessions up and down, the
listing) and the reconcile loop that keeps the kernel equal to the model's rules.

A session's life (DATAPLANE.md §3): on `up` the SIM link's network end (created by the
stub, named `peer_ifname`) is brought up, routed and given the SIM's counters, and the
SIM's address goes in the sets its usable states allow. Every tick the loop reads the
counters of each gateway with sessions, hands the deltas to `Network.gateway_traffic`
(billing events, traffic status, quota, the heavy-traffic cut) and sets the members to
what the answer allows; a session the answer ends leaves both sets and its pair is deleted.
Counters are read only after the SIM left the sets, so the last bytes are counted too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from emulator.dataplane import links, naming, nft
from emulator.dataplane.topology import GatewayPieces, Topology
from emulator.models import sessions
from emulator.models.gateways import DEFAULT_DNS
from emulator.models.gateways import load as load_gateway
from emulator.models.network import Decision
from emulator.models.sims import find_by_iccid

if TYPE_CHECKING:
    from emulator.backend import Backend

log = logging.getLogger(__name__)

DEFAULT_PERIOD = 0.25  # seconds between reconciles (the contract asks for <= 0.5)
_BUILD_RETRY = 5.0
LINK_CHECK_TICKS = 4  # look for links that vanished every 4th reconcile


def _refuse(reason: str) -> Decision:
    return Decision(accepted=False, reason=reason)


@dataclass
class Binding:
    """A SIM's data-plane session on a gateway."""

    iccid: str
    sim_id: str
    gateway_id: str
    address: str
    ifname: str
    has_quota: bool
    counted_up: int = 0
    counted_down: int = 0
    shaped_kbps: int | None = None

    @property
    def key(self) -> str:
        """The suffix of its counter and quota names."""
        return self.sim_id


class DataPlane:
    """One emulator instance's data plane."""

    def __init__(
        self, backend: Backend, names: naming.Names, *, period: float = DEFAULT_PERIOD
    ) -> None:
        self.names = names
        self.period = period
        self.topology = Topology(names)
        self._backend = backend
        self._lock = threading.RLock()
        self._bindings: dict[str, Binding] = {}
        self._failed_builds: dict[str, float] = {}
        self._poked: asyncio.Event | None = None
        self._ticks: dict[str, int] = {}
        backend.on_reset(self.reset)

    # life cycle

    def start(self) -> list[str]:
        """Remove a crashed run's leftovers, end the sessions whose links died with them,
        and build the internet and every gateway; returns the leftovers removed."""
        with self._lock:
            removed = self.topology.clean_leftovers()
            self._end_all_sessions("data_plane_restarted")
            self.topology.build_internet()
            self.sync_gateways()
            return removed

    def stop(self) -> None:
        """Count what every session forwarded, end the sessions, remove everything."""
        with self._lock:
            try:
                for binding in list(self._bindings.values()):
                    self._finish(binding, delete_link=True)
                self._end_all_sessions("data_plane_stopped")
            finally:
                self.topology.remove_all()

    def reset(self) -> None:
        """After `/_emulator/reset`: remove everything, then build the internet anew."""
        with self._lock:
            self._bindings.clear()
            self._failed_builds.clear()
            self._ticks.clear()
            self.topology.remove_all()
            self.topology.build_internet()

    async def run(self) -> None:
        """Reconcile every `period` seconds, and at once when poked, until cancelled."""
        self._poked = asyncio.Event()
        while True:
            started = time.monotonic()
            self._poked.clear()
            try:
                await asyncio.to_thread(self.tick)
            except Exception:
                log.exception("data plane reconcile failed")
            with contextlib.suppress(TimeoutError):
                wait = max(self.period - (time.monotonic() - started), 0.02)
                await asyncio.wait_for(self._poked.wait(), wait)

    def poke(self) -> None:
        """Reconcile now (from the event loop: a request may have changed a rule)."""
        if self._poked is not None:
            self._poked.set()

    # what the HTTP layer asks

    def info(self) -> dict[str, Any]:
        """`GET /_emulator/dataplane`."""
        with self._lock:
            self.sync_gateways()
            gateways = [
                {
                    "id": p.gateway_id,
                    "namespace": p.namespace,
                    "closed_network": {"address": p.closed_host, "url": p.host.url},
                }
                for p in sorted(self.topology.gateways.values(), key=lambda p: p.gateway_id)
            ]
        return {
            "enabled": True,
            "internet": {
                "address": naming.INTERNET_HOST,
                "url": naming.host_url(naming.INTERNET_HOST),
            },
            "gateways": gateways,
        }

    def attach_info(self, iccid: str, decision: Decision) -> dict[str, Any] | None:
        """The attach answer's `dataplane` (DATAPLANE.md §1), None when refused."""
        if not decision.accepted or decision.ip is None:
            return None
        with self._lock:
            with self._backend.store.transaction() as db:
                sim = find_by_iccid(db, iccid)
                if sim is None or sim.gateway_id is None:
                    return None
                gw = load_gateway(db, None, sim.gateway_id)
            pieces = self._ensure_gateway(gw.id)
            if pieces is None:
                return None
        dns = [d for d in (gw.dns or DEFAULT_DNS) if d]
        return {
            "namespace": pieces.namespace,
            "peer_ifname": naming.peer_ifname(sim.id),
            "address": decision.ip,
            "prefix_len": 32,
            "gateway": naming.SIM_GATEWAY,
            "dns": dns,
            "mtu": naming.MTU,
        }

    def session(self, iccid: str, up: bool) -> Decision:
        """`POST /_emulator/network/session` with the data plane (DATAPLANE.md §3)."""
        with self._lock:
            return self._session_up(iccid) if up else self._session_down(iccid)

    # the loop

    def tick(self) -> None:
        """One reconcile: gateways built or removed as the model has them, counters
        turned into traffic, set members made equal to the rules."""
        with self._lock:
            self.sync_gateways()
            by_gateway: dict[str, list[Binding]] = {}
            for binding in self._bindings.values():
                by_gateway.setdefault(binding.gateway_id, []).append(binding)
            for gateway_id, bindings in by_gateway.items():
                self._reconcile_gateway(gateway_id, bindings)

    def sync_gateways(self) -> None:
        """Build a data plane for each gateway the model has; remove deleted ones."""
        with self._backend.store.transaction() as db:
            wanted = {str(r["id"]) for r in db.all("SELECT id FROM gateways")}
        for gateway_id in list(self.topology.gateways):
            if gateway_id not in wanted:
                for binding in [b for b in self._bindings.values() if b.gateway_id == gateway_id]:
                    del self._bindings[binding.iccid]
                self.topology.remove_gateway(gateway_id)
        for gateway_id in sorted(wanted - set(self.topology.gateways)):
            self._ensure_gateway(gateway_id)

    # internals

    def _ensure_gateway(self, gateway_id: str) -> GatewayPieces | None:
        pieces = self.topology.gateways.get(gateway_id)
        if pieces is not None:
            return pieces
        failed = self._failed_builds.get(gateway_id)
        if failed is not None and time.monotonic() - failed < _BUILD_RETRY:
            return None
        try:
            pieces = self.topology.build_gateway(gateway_id)
        except Exception:
            log.exception("data plane: cannot build gateway %s", gateway_id)
            self._failed_builds[gateway_id] = time.monotonic()
            return None
        self._failed_builds.pop(gateway_id, None)
        return pieces

    def _session_up(self, iccid: str) -> Decision:
        network = self._backend.network
        with self._backend.store.transaction() as db:
            sim = find_by_iccid(db, iccid)
        if sim is None or sim.gateway_id is None:
            return network.session(iccid, True)  # the model says why not
        pieces = self._ensure_gateway(sim.gateway_id)
        ifname = naming.peer_ifname(sim.id)
        if pieces is None or not links.link_exists(pieces.namespace, ifname):
            return _refuse("no_link")
        old = self._bindings.get(iccid)
        if old is not None:
            self._finish(old, delete_link=False)
        decision = network.session(iccid, True)
        if not decision.accepted or decision.ip is None:
            return decision
        address = decision.ip
        if any(
            b.address == address and b.gateway_id == pieces.gateway_id
            for b in self._bindings.values()
        ):
            network.session(iccid, False)
            return _refuse("address_in_use")
        limit = self._backend.account.get().session_cut_bytes
        if limit is not None:  # what this session already carried counts towards it
            with self._backend.store.transaction() as db:
                now = find_by_iccid(db, iccid)
            limit = max(limit - (0 if now is None else now.session_bytes), 0)
        binding = Binding(iccid, sim.id, pieces.gateway_id, address, ifname, limit is not None)
        table = self.names.table
        try:
            if not links.bind_sim(pieces.namespace, ifname, naming.SIM_GATEWAY, address):
                raise links.LinkError(f"{ifname} went away")
            nft.apply(pieces.namespace, nft.bind_script(table, binding.key, ifname, address, limit))
        except (links.LinkError, nft.NftError) as exc:
            log.warning("data plane: session of %s not bound: %s", iccid, exc)
            nft.apply_each(
                pieces.namespace,
                nft.unbind_lines(table, binding.key, ifname, address, set(), binding.has_quota),
            )
            links.unbind_sim(pieces.namespace, ifname, address, delete=False)
            network.session(iccid, False)
            return _refuse("no_link")
        self._bindings[iccid] = binding
        self._set_members(pieces, [(binding, decision)], nft.TableState())
        self._shape(pieces, [(binding, decision)])
        return decision

    def _session_down(self, iccid: str) -> Decision:
        binding = self._bindings.get(iccid)
        if binding is not None:
            self._finish(binding, delete_link=True)
            return self._backend.network.session(iccid, False)
        decision = self._backend.network.session(iccid, False)
        with self._backend.store.transaction() as db:
            sim = find_by_iccid(db, iccid)
        if sim is not None and sim.gateway_id in self.topology.gateways:
            ns = self.topology.gateways[sim.gateway_id].namespace
            links.unbind_sim(ns, naming.peer_ifname(sim.id), decision.ip or "0.0.0.0", delete=True)
        return decision

    def _reconcile_gateway(self, gateway_id: str, bindings: list[Binding]) -> None:
        pieces = self.topology.gateways.get(gateway_id)
        if pieces is None:
            return
        try:
            state = nft.read(pieces.namespace, self.names.table)
        except nft.NftError as exc:
            log.warning("data plane: cannot read gateway %s: %s", gateway_id, exc)
            return
        present = self._links_if_due(pieces)
        keep: list[tuple[Binding, Decision]] = []
        for binding in bindings:
            if present is not None and binding.ifname not in present:
                # The modem's end is gone (its namespace or the stub died without a
                # session down): the radio link is lost, the session ends.
                self._finish(binding, delete_link=True)
                self._end_session(binding.iccid, "link_lost")
                continue
            decision = self._settle(binding, state)
            if decision.accepted and not decision.session_cut:
                keep.append((binding, decision))
            else:
                # The network ended the context: the modem's interface goes away (the
                # stub sees its link gone and reports the deactivation).
                self._finish(binding, delete_link=True)
        self._set_members(pieces, keep, state)
        self._shape(pieces, keep)

    def _shape(self, pieces: GatewayPieces, wanted: list[tuple[Binding, Decision]]) -> None:
        """Traffic monitoring's shaping: while the model says the gateway is shaped, its
        sessions share one kernel rate limit of `bandwidth_limit_in_kbps`."""
        rate = None
        if any(decision.shaped for _, decision in wanted):
            config = self._backend.gateways.get(None, pieces.gateway_id).traffic_config
            if config is not None and config.bandwidth_limit_in_kbps > 0:
                rate = config.bandwidth_limit_in_kbps
        changes = [(b.address, b.shaped_kbps, rate) for b, _ in wanted if b.shaped_kbps != rate]
        if not changes:
            return
        table = self.names.table
        script = "" if rate is None else nft.limit_script(table, rate)
        try:
            nft.apply(pieces.namespace, script + nft.shape_script(table, changes))
        except nft.NftError as exc:
            log.warning("data plane: cannot shape gateway %s: %s", pieces.gateway_id, exc)
            return
        for binding, _ in wanted:
            binding.shaped_kbps = rate

    def _links_if_due(self, pieces: GatewayPieces) -> set[str] | None:
        """The gateway namespace's links, about once a second (None between)."""
        self._ticks[pieces.gateway_id] = self._ticks.get(pieces.gateway_id, 0) + 1
        if self._ticks[pieces.gateway_id] % LINK_CHECK_TICKS:
            return None
        try:
            return links.links(pieces.namespace)
        except links.LinkError as exc:
            log.warning("data plane: cannot list the links of %s: %s", pieces.gateway_id, exc)
            return None

    def _end_session(self, iccid: str, reason: str) -> None:
        now = self._backend.clock.now()
        with self._backend.store.transaction() as db:
            sim = find_by_iccid(db, iccid)
            if sim is not None:
                sessions.end_session(db, now, sim.id, reason)

    def _settle(self, binding: Binding, state: nft.TableState) -> Decision:
        """Hand the counters' growth since the last read to the model."""
        up_name, down_name, _ = nft.counter_names(binding.key)
        up = state.counters.get(up_name, binding.counted_up)
        down = state.counters.get(down_name, binding.counted_down)
        decision = self._backend.network.gateway_traffic(
            binding.iccid,
            binding.gateway_id,
            max(up - binding.counted_up, 0),
            max(down - binding.counted_down, 0),
            quota_spent=binding.has_quota and state.quota_spent(binding.key),
        )
        binding.counted_up, binding.counted_down = up, down
        return decision

    def _set_members(
        self,
        pieces: GatewayPieces,
        wanted: list[tuple[Binding, Decision]],
        state: nft.TableState,
    ) -> None:
        changes = []
        for binding, decision in wanted:
            for name, allowed in (
                (nft.CLOSED, decision.closed_network),
                (nft.INTERNET, decision.internet),
            ):
                member = binding.address in state.sets.get(name, set())
                if member != allowed:
                    changes.append((name, binding.address, allowed))
        if changes:
            try:
                nft.apply(pieces.namespace, nft.membership_script(self.names.table, changes))
            except nft.NftError as exc:
                log.warning("data plane: cannot update the sets of %s: %s", pieces.gateway_id, exc)

    def _finish(self, binding: Binding, *, delete_link: bool) -> None:
        """End a binding: out of the sets, last counts to the model, counters removed,
        the link down (or deleted). The model's session is the caller's business."""
        self._bindings.pop(binding.iccid, None)
        pieces = self.topology.gateways.get(binding.gateway_id)
        if pieces is None:
            return
        ns, table = pieces.namespace, self.names.table
        try:
            state = nft.read(ns, table)
        except nft.NftError:
            state = nft.TableState()
        members = {
            name
            for name in (nft.CLOSED, nft.INTERNET)
            if binding.address in state.sets.get(name, set())
        }
        nft.apply_each(
            ns, [nft.membership_script(table, [(m, binding.address, False) for m in members])]
        )
        try:
            state = nft.read(ns, table)
        except nft.NftError as exc:
            log.warning("data plane: last read of %s failed: %s", binding.iccid, exc)
        self._settle(binding, state)
        lines = nft.unbind_lines(
            table,
            binding.key,
            binding.ifname,
            binding.address,
            set(),
            binding.has_quota,
            binding.shaped_kbps is not None,
        )
        try:
            nft.apply(ns, "\n".join(lines) + "\n")
        except nft.NftError:
            nft.apply_each(ns, lines)
        links.unbind_sim(ns, binding.ifname, binding.address, delete=delete_link)

    def _end_all_sessions(self, reason: str) -> None:
        now = self._backend.clock.now()
        with self._backend.store.transaction() as db:
            for row in db.all("SELECT id FROM sims WHERE session_up = 1"):
                sessions.end_session(db, now, str(row["id"]), reason)
