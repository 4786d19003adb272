"""The mobile gateway aggregate: power, the switch connection, the internet setting
(001 §32, §44), the SIMs registered to it, custom DNS (sub-option, §40), SIM routes and
traffic monitoring. Creation and deletion are billable (§39)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from emulator.clock import VirtualClock, iso_utc, jst_month
from emulator.errors import BadRequest, Conflict, NotFound
from emulator.models import account, events, sessions, switches, traffic
from emulator.models.common import (
    MAX_DESCRIPTION,
    MAX_NAME,
    check_id,
    check_ipv4,
    check_prefix,
    check_tags,
    check_text,
    dumps,
    loads_dict,
    loads_list,
)
from emulator.models.sims import Sim, sim_from_row
from emulator.models.sims import load as load_sim
from emulator.store import Store, Tx

DEFAULT_DNS = ("133.242.0.3", "133.242.0.4")


@dataclass(frozen=True)
class Gateway:
    """A mobile gateway (an `Appliance` with `Class: "mobilegateway"`)."""

    id: str
    zone: str
    name: str
    description: str
    tags: list[str]
    icon_id: str | None
    created_at: datetime
    modified_at: datetime
    power: str  # "up" | "down"
    status_changed_at: datetime
    switch_id: str | None
    internet_enabled: bool
    inter_device_enabled: bool
    interface_settings: list[Any]
    static_routes: list[Any]
    dns: tuple[str, str] | None
    traffic_config: traffic.TrafficConfig | None
    sim_routes: list[Any]
    global_address: str

    @property
    def powered_on(self) -> bool:
        """True when the gateway is up."""
        return self.power == "up"


def gateway_from_row(row: Any) -> Gateway:
    """Build a Gateway from a `gateways` row."""
    config = loads_dict(row["traffic_config"])
    return Gateway(
        id=row["id"],
        zone=row["zone"],
        name=row["name"],
        description=row["description"],
        tags=[str(t) for t in loads_list(row["tags"])],
        icon_id=row["icon_id"],
        created_at=datetime.fromisoformat(row["created_at"]),
        modified_at=datetime.fromisoformat(row["modified_at"]),
        power=row["power"],
        status_changed_at=datetime.fromisoformat(row["status_changed_at"]),
        switch_id=row["switch_id"],
        internet_enabled=bool(row["internet_enabled"]),
        inter_device_enabled=bool(row["inter_device_enabled"]),
        interface_settings=loads_list(row["interface_settings"]),
        static_routes=loads_list(row["static_routes"]),
        dns=None if row["dns1"] is None else (row["dns1"], row["dns2"] or ""),
        traffic_config=None if config is None else traffic.TrafficConfig.from_dict(config),
        sim_routes=loads_list(row["sim_routes"]),
        global_address=row["global_address"],
    )


def load(db: Tx, zone: str | None, gateway_id: str) -> Gateway:
    """The gateway with this id (in this zone, when given); NotFound otherwise."""
    check_id("MobileGateway", gateway_id)
    row = db.one("SELECT * FROM gateways WHERE id = ?", (gateway_id,))
    if row is None or (zone is not None and row["zone"] != zone):
        raise NotFound(f"MobileGateway [ID:{gateway_id}] is not found")
    return gateway_from_row(row)


def _check_static_routes(routes: list[dict[str, str]]) -> list[dict[str, str]]:
    for route in routes:
        check_prefix("StaticRoutes.Prefix", route.get("Prefix", ""))
        check_ipv4("StaticRoutes.NextHop", route.get("NextHop", ""))
    return routes


class GatewayModel:
    """Operations on mobile gateways, each in one transaction."""

    def __init__(self, store: Store, clock: VirtualClock) -> None:
        self._store = store
        self._clock = clock

    def create(
        self,
        zone: str,
        *,
        name: str,
        description: str = "",
        tags: list[str] | None = None,
        icon_id: str | None = None,
        internet_enabled: bool = False,
        inter_device_enabled: bool = False,
        static_routes: list[dict[str, str]] | None = None,
    ) -> Gateway:
        """Create a powered-off gateway; business accounts only (001 §34.2); forms the
        contract (§34.1); starts the gateway fee (`gateway_created`, §39)."""
        check_text("Name", name, MAX_NAME)
        check_text("Description", description, MAX_DESCRIPTION)
        tags = check_tags(list(tags or []))
        routes = _check_static_routes(list(static_routes or []))
        now = self._clock.now()
        with self._store.transaction() as db:
            account.require_business(db)
            gateway_id = db.new_id("gateways")
            octets = int(gateway_id) % 65536
            db.execute(
                "INSERT INTO gateways (id, zone, name, description, tags, icon_id, created_at, "
                "modified_at, status_changed_at, internet_enabled, inter_device_enabled, "
                "static_routes, global_address) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    gateway_id,
                    zone,
                    name,
                    description,
                    dumps(tags),
                    icon_id,
                    iso_utc(now),
                    iso_utc(now),
                    iso_utc(now),
                    int(internet_enabled),
                    int(inter_device_enabled),
                    dumps(routes),
                    f"203.0.{octets // 256 % 256}.{octets % 256}",
                ),
            )
            account.form_contract(db, now)
            events.append(db, now, "gateway_created", gateway=gateway_id)
            return load(db, zone, gateway_id)

    def get(self, zone: str | None, gateway_id: str) -> Gateway:
        """One gateway."""
        with self._store.transaction() as db:
            return load(db, zone, gateway_id)

    def list_all(self, zone: str) -> list[Gateway]:
        """The zone's gateways, oldest first."""
        with self._store.transaction() as db:
            rows = db.all("SELECT * FROM gateways WHERE zone = ? ORDER BY created_at, id", (zone,))
        return [gateway_from_row(r) for r in rows]

    def update(
        self,
        zone: str,
        gateway_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        tags: list[str] | None = None,
        icon_id: str | None = None,
        internet_enabled: bool | None = None,
        inter_device_enabled: bool | None = None,
        static_routes: list[dict[str, str]] | None = None,
        interface_settings: list[Any] | None = None,
    ) -> Gateway:
        """Change fields and settings (the internet setting among them, §44)."""
        now = self._clock.now()
        with self._store.transaction() as db:
            gw = load(db, zone, gateway_id)
            db.execute(
                "UPDATE gateways SET name = ?, description = ?, tags = ?, icon_id = ?, "
                "internet_enabled = ?, inter_device_enabled = ?, static_routes = ?, "
                "interface_settings = ?, modified_at = ? WHERE id = ?",
                (
                    check_text("Name", name, MAX_NAME) if name is not None else gw.name,
                    check_text("Description", description, MAX_DESCRIPTION)
                    if description is not None
                    else gw.description,
                    dumps(check_tags(tags)) if tags is not None else dumps(gw.tags),
                    icon_id if icon_id is not None else gw.icon_id,
                    int(internet_enabled if internet_enabled is not None else gw.internet_enabled),
                    int(
                        inter_device_enabled
                        if inter_device_enabled is not None
                        else gw.inter_device_enabled
                    ),
                    dumps(
                        _check_static_routes(static_routes)
                        if static_routes is not None
                        else gw.static_routes
                    ),
                    dumps(
                        interface_settings
                        if interface_settings is not None
                        else gw.interface_settings
                    ),
                    iso_utc(now),
                    gateway_id,
                ),
            )
            return load(db, zone, gateway_id)

    def delete(self, zone: str, gateway_id: str) -> Gateway:
        """Delete a powered-off gateway with no SIMs; clears its DNS option and ends its
        fee (`gateway_deleted`)."""
        now = self._clock.now()
        with self._store.transaction() as db:
            gw = load(db, zone, gateway_id)
            if gw.powered_on:
                raise Conflict(
                    f"MobileGateway [ID:{gateway_id}] is powered on: shut it down first",
                    code="still_running",
                )
            if db.one("SELECT 1 FROM sims WHERE gateway_id = ?", (gateway_id,)) is not None:
                raise Conflict(
                    f"MobileGateway [ID:{gateway_id}] still has SIMs: delete them from it first",
                    code="gateway_in_use",
                )
            if gw.dns is not None:
                events.option_event(db, now, set_=False, option="dns", subject=gateway_id)
            db.execute("DELETE FROM gateways WHERE id = ?", (gateway_id,))
            events.append(db, now, "gateway_deleted", gateway=gateway_id)
            return gw

    def set_power(self, zone: str, gateway_id: str, on: bool) -> Gateway:
        """Boot or shut down; shutting down ends the data sessions of its SIMs."""
        now = self._clock.now()
        with self._store.transaction() as db:
            gw = load(db, zone, gateway_id)
            if gw.powered_on == on:
                state = "up" if on else "down"
                raise Conflict(
                    f"MobileGateway [ID:{gateway_id}] is already {state}", code="conflict"
                )
            if not on:
                for row in db.all("SELECT id FROM sims WHERE gateway_id = ?", (gateway_id,)):
                    sessions.end_session(db, now, row["id"], "gateway_powered_off", detach=True)
            db.execute(
                "UPDATE gateways SET power = ?, status_changed_at = ? WHERE id = ?",
                ("up" if on else "down", iso_utc(now), gateway_id),
            )
            return load(db, zone, gateway_id)

    def connect_switch(self, zone: str, gateway_id: str, switch_id: str | None) -> Gateway:
        """Connect interface 1 to a switch of the same zone, or disconnect it (None)."""
        with self._store.transaction() as db:
            gw = load(db, zone, gateway_id)
            if switch_id is not None:
                switches.load(db, zone, switch_id)
                if gw.switch_id is not None:
                    raise BadRequest(
                        f"interface 1 of MobileGateway [ID:{gateway_id}] is already connected "
                        f"to switch {gw.switch_id}",
                        code="already_connected",
                    )
            elif gw.switch_id is None:
                raise BadRequest(
                    f"interface 1 of MobileGateway [ID:{gateway_id}] is not connected",
                    code="not_connected",
                )
            db.execute("UPDATE gateways SET switch_id = ? WHERE id = ?", (switch_id, gateway_id))
            return load(db, zone, gateway_id)

    def list_sims(self, zone: str, gateway_id: str) -> list[Sim]:
        """The SIMs registered to the gateway."""
        with self._store.transaction() as db:
            load(db, zone, gateway_id)
            rows = db.all("SELECT * FROM sims WHERE gateway_id = ? ORDER BY id", (gateway_id,))
        return [sim_from_row(r) for r in rows]

    def add_sim(self, zone: str, gateway_id: str, sim_id: str) -> Sim:
        """Register a SIM to the gateway (a SIM belongs to at most one gateway)."""
        with self._store.transaction() as db:
            load(db, zone, gateway_id)
            sim = load_sim(db, sim_id)
            if sim.gateway_id == gateway_id:
                raise BadRequest(
                    f"SIM {sim_id} is already registered to this gateway", code="already_exists"
                )
            if sim.gateway_id is not None:
                raise Conflict(
                    f"SIM {sim_id} is registered to mobile gateway {sim.gateway_id}",
                    code="sim_in_use",
                )
            db.execute("UPDATE sims SET gateway_id = ? WHERE id = ?", (gateway_id, sim_id))
            return load_sim(db, sim_id)

    def delete_sim(self, zone: str, gateway_id: str, sim_id: str) -> Sim:
        """Remove a SIM from the gateway; its session ends and its SIM route goes."""
        now = self._clock.now()
        with self._store.transaction() as db:
            gw = load(db, zone, gateway_id)
            sim = load_sim(db, sim_id)
            if sim.gateway_id != gateway_id:
                raise NotFound(f"SIM {sim_id} is not registered to MobileGateway [ID:{gateway_id}]")
            sessions.end_session(db, now, sim_id, "no_gateway", detach=True)
            routes = [
                r for r in gw.sim_routes if isinstance(r, dict) and r.get("resource_id") != sim_id
            ]
            db.execute(
                "UPDATE gateways SET sim_routes = ? WHERE id = ?", (dumps(routes), gateway_id)
            )
            db.execute("UPDATE sims SET gateway_id = NULL WHERE id = ?", (sim_id,))
            return load_sim(db, sim_id)

    def set_dns(self, zone: str, gateway_id: str, dns1: str, dns2: str) -> Gateway:
        """Set custom DNS servers (sub-option, billed per month, §40); two empty values
        go back to the default resolvers and clear the option."""
        custom = bool(dns1 or dns2)
        if custom:
            check_ipv4("dns_1", dns1)
            if dns2:
                check_ipv4("dns_2", dns2)
        now = self._clock.now()
        with self._store.transaction() as db:
            gw = load(db, zone, gateway_id)
            if (gw.dns is not None) != custom:
                events.option_event(db, now, set_=custom, option="dns", subject=gateway_id)
            db.execute(
                "UPDATE gateways SET dns1 = ?, dns2 = ? WHERE id = ?",
                (dns1 if custom else None, dns2 if custom else None, gateway_id),
            )
            return load(db, zone, gateway_id)

    def set_sim_routes(self, zone: str, gateway_id: str, routes: list[tuple[str, str]]) -> Gateway:
        """Replace the SIM routes: (SIM id, prefix) pairs of SIMs on this gateway."""
        with self._store.transaction() as db:
            load(db, zone, gateway_id)
            stored: list[dict[str, str]] = []
            for sim_id, prefix in routes:
                sim = load_sim(db, sim_id)
                if sim.gateway_id != gateway_id:
                    raise BadRequest(
                        f"SIM {sim_id} is not registered to this gateway", code="invalid_parameter"
                    )
                stored.append(
                    {
                        "resource_id": sim_id,
                        "prefix": check_prefix("prefix", prefix),
                        "iccid": sim.iccid,
                    }
                )
            db.execute(
                "UPDATE gateways SET sim_routes = ? WHERE id = ?", (dumps(stored), gateway_id)
            )
            return load(db, zone, gateway_id)

    def set_traffic_config(
        self, zone: str, gateway_id: str, config: traffic.TrafficConfig | None
    ) -> Gateway:
        """Set or (None) delete traffic monitoring."""
        if config is not None and (
            config.traffic_quota_in_mb < 1 or config.bandwidth_limit_in_kbps < 0
        ):
            raise BadRequest(
                "traffic_quota_in_mb must be >= 1 and bandwidth_limit_in_kbps >= 0",
                code="invalid_parameter",
            )
        with self._store.transaction() as db:
            load(db, zone, gateway_id)
            db.execute(
                "UPDATE gateways SET traffic_config = ? WHERE id = ?",
                (None if config is None else dumps(config.to_dict()), gateway_id),
            )
            return load(db, zone, gateway_id)

    def traffic_status(self, zone: str, gateway_id: str) -> tuple[traffic.Counter, bool]:
        """This JST month's traffic through the gateway, and whether it is shaped."""
        now = self._clock.now()
        with self._store.transaction() as db:
            gw = load(db, zone, gateway_id)
            counter = traffic.gateway_month(db, gateway_id, jst_month(now))
            state = traffic.quota_state(db, gateway_id, gw.traffic_config, now)
        return counter, state in ("shaped", "stopped")

    def session_log(self, zone: str, gateway_id: str) -> list[sessions.LogEntry]:
        """Session log rows of the gateway's SIMs, newest first."""
        with self._store.transaction() as db:
            load(db, zone, gateway_id)
            return sessions.entries(db, gateway_id=gateway_id)
