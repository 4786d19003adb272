"""The gateway's nftables table: forwarding allowed per SIM by two sets (closed network,
internet), named counters per SIM and direction, a named quota per SIM for the
heavy-traffic cut (001 §47.1(2)), a gateway-wide rate limit for traffic monitoring's
shaping, and NAT towards the internet.

The control path runs the `nft` tool inside the gateway namespace (text scripts in, JSON
out); packets never leave the kernel. A SIM's packets pass only when its link and address
match (`bound`), its address is in the set of the network they go to, and its quota is not
spent; the counter then counts the IP bytes forwarded (uplink by source, downlink by
destination, after NAT is undone).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from typing import Any

from emulator.dataplane import naming, system

CLOSED = "closed"
INTERNET = "internet"
_TIMEOUT = 10.0


class NftError(Exception):
    """The nft tool refused a script or could not be run."""


def ruleset(table: str) -> str:
    """The gateway namespace's table (created empty of SIMs)."""
    wan, lan = naming.GW_WAN_IF, naming.GW_LAN_IF
    return f"""
table ip {table} {{
  set {CLOSED} {{ type ipv4_addr; }}
  set {INTERNET} {{ type ipv4_addr; }}
  set bound {{ type ifname . ipv4_addr; }}
  map up {{ type ipv4_addr : counter; }}
  map down {{ type ipv4_addr : counter; }}
  map cut {{ type ipv4_addr : quota; }}
  map shape {{ type ipv4_addr : limit; }}
  chain forward {{
    type filter hook forward priority filter; policy drop;
    iifname {{ "{wan}", "{lan}" }} goto downlink
    iifname . ip saddr @bound goto uplink
  }}
  chain uplink {{
    oifname "{lan}" ip saddr @{CLOSED} goto up_pass
    oifname "{wan}" ip saddr @{INTERNET} goto up_pass
  }}
  chain up_pass {{
    limit name ip saddr map @shape drop
    quota name ip saddr map @cut drop
    counter name ip saddr map @up accept
  }}
  chain downlink {{
    iifname "{lan}" ip daddr @{CLOSED} goto down_pass
    iifname "{wan}" ip daddr @{INTERNET} goto down_pass
  }}
  chain down_pass {{
    limit name ip daddr map @shape drop
    quota name ip daddr map @cut drop
    counter name ip daddr map @down accept
  }}
  chain postrouting {{
    type nat hook postrouting priority srcnat; policy accept;
    oifname "{wan}" masquerade
  }}
}}
"""


def _nft(ns: str, args: list[str], script: str | None = None) -> str:
    ip, nft = system.tool("ip"), system.tool("nft")
    if ip is None or nft is None:
        raise NftError("the ip and nft tools are needed")
    try:
        done = subprocess.run(
            [ip, "netns", "exec", ns, nft, *args],
            input=script,
            capture_output=True,
            text=True,
            timeout=_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NftError(f"nft in {ns}: {exc}") from exc
    if done.returncode != 0:
        raise NftError(f"nft in {ns}: {done.stderr.strip() or done.returncode}")
    return done.stdout


def apply(ns: str, script: str) -> None:
    """Run a script atomically (all of it or none)."""
    if script.strip():
        _nft(ns, ["-f", "-"], script)


def apply_each(ns: str, lines: list[str]) -> list[str]:
    """Run each command alone, ignoring the ones that fail (cleanup of pieces that may be
    gone); returns the errors."""
    errors = []
    for line in lines:
        try:
            apply(ns, line)
        except NftError as exc:
            errors.append(str(exc))
    return errors


def counter_names(key: str) -> tuple[str, str, str]:
    """The SIM's up counter, down counter and quota names."""
    return f"up_{key}", f"dn_{key}", f"q_{key}"


def bind_script(table: str, key: str, ifname: str, address: str, cut_bytes: int | None) -> str:
    """Counters (and the quota, when the account has a cut threshold) for one SIM's
    session; its address in neither set yet."""
    up, down, quota = counter_names(key)
    lines = [
        f"add counter ip {table} {up}",
        f"add counter ip {table} {down}",
        f'add element ip {table} up {{ {address} : "{up}" }}',
        f'add element ip {table} down {{ {address} : "{down}" }}',
        f'add element ip {table} bound {{ "{ifname}" . {address} }}',
    ]
    if cut_bytes is not None:
        # "over N" drops a packet once the bytes seen reach N, so N = limit + 1 lets the
        # session carry exactly `limit` bytes and drops the one that would cross it.
        lines.insert(2, f"add quota ip {table} {quota} {{ over {cut_bytes + 1} bytes }}")
        lines.append(f'add element ip {table} cut {{ {address} : "{quota}" }}')
    return "\n".join(lines) + "\n"


def unbind_lines(
    table: str,
    key: str,
    ifname: str,
    address: str,
    members: set[str],
    has_quota: bool,
    shaped: bool = False,
) -> list[str]:
    """Commands that remove one SIM's session: out of its sets, its map entries, its
    counters and quota (elements before the objects they name)."""
    up, down, quota = counter_names(key)
    lines = [f"delete element ip {table} {s} {{ {address} }}" for s in sorted(members)]
    if shaped:
        lines.append(f"delete element ip {table} shape {{ {address} }}")
    lines += [
        f'delete element ip {table} bound {{ "{ifname}" . {address} }}',
        f"delete element ip {table} up {{ {address} }}",
        f"delete element ip {table} down {{ {address} }}",
    ]
    if has_quota:
        lines.append(f"delete element ip {table} cut {{ {address} }}")
    lines += [f"delete counter ip {table} {up}", f"delete counter ip {table} {down}"]
    if has_quota:
        lines.append(f"delete quota ip {table} {quota}")
    return lines


def membership_script(table: str, changes: list[tuple[str, str, bool]]) -> str:
    """Put addresses in or out of sets: (set, address, member)."""
    return "".join(
        f"{'add' if member else 'delete'} element ip {table} {name} {{ {address} }}\n"
        for name, address, member in changes
    )


def limit_name(kbps: int) -> str:
    """The gateway-wide rate limit object for a bandwidth (traffic monitoring's shaping)."""
    return f"lim_{kbps}"


def limit_script(table: str, kbps: int) -> str:
    """Create the limit object: packets over `kbps` kilobits per second (all the gateway's
    shaped SIMs share it) are dropped. The kernel's bucket holds a second at the rate plus
    the burst, which is at least two 64 KiB offload packets."""
    rate = max(kbps * 1000 // 8, 1)
    burst = max(rate, 2 * 65_536)
    return (
        f"add limit ip {table} {limit_name(kbps)} "
        f"{{ rate over {rate} bytes/second burst {burst} bytes }}\n"
    )


def shape_script(table: str, changes: list[tuple[str, int | None, int | None]]) -> str:
    """Move addresses between limits: (address, old kbps or None, new kbps or None)."""
    lines = []
    for address, old, new in changes:
        if old is not None:
            lines.append(f"delete element ip {table} shape {{ {address} }}")
        if new is not None:
            lines.append(f'add element ip {table} shape {{ {address} : "{limit_name(new)}" }}')
    return "".join(line + "\n" for line in lines)


@dataclass
class TableState:
    """What the kernel holds: counter bytes, quota use and set members."""

    counters: dict[str, int] = field(default_factory=dict)
    quotas: dict[str, tuple[int, int]] = field(default_factory=dict)  # name: (used, limit)
    sets: dict[str, set[str]] = field(default_factory=dict)
    limits: set[str] = field(default_factory=set)

    def quota_spent(self, key: str) -> bool:
        """True once the SIM's quota dropped a packet (its bytes reached the limit + 1)."""
        entry = self.quotas.get(counter_names(key)[2])
        return entry is not None and entry[0] >= entry[1]


def read(ns: str, table: str) -> TableState:
    """Counters, quotas and sets of the table, in one `nft -j list table`."""
    text = _nft(ns, ["-j", "list", "table", "ip", table])
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NftError(f"nft in {ns} printed no JSON: {exc}") from exc
    return parse(doc)


def parse(doc: dict[str, Any]) -> TableState:
    """The state in nft's JSON listing."""
    state = TableState()
    for item in doc.get("nftables", []):
        if "counter" in item:
            counter = item["counter"]
            state.counters[str(counter["name"])] = int(counter.get("bytes", 0))
        elif "quota" in item:
            quota = item["quota"]
            state.quotas[str(quota["name"])] = (int(quota.get("used", 0)), int(quota["bytes"]))
        elif "limit" in item:
            state.limits.add(str(item["limit"]["name"]))
        elif "set" in item and item["set"].get("name") in (CLOSED, INTERNET):
            entry = item["set"]
            state.sets[str(entry["name"])] = {
                str(e) for e in entry.get("elem", []) if isinstance(e, str)
            }
    return state
