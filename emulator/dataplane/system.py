"""What the data plane needs from the machine: privileges (CAP_NET_ADMIN, and
CAP_SYS_ADMIN to name namespaces under /run/netns) and the `nft` and `ip` tools."""

from __future__ import annotations

import shutil
from pathlib import Path

CAP_NET_ADMIN = 12
CAP_SYS_ADMIN = 21
_SBIN = "/usr/local/sbin:/usr/sbin:/sbin"


def effective_capabilities(status: Path = Path("/proc/self/status")) -> int:
    """The process's effective capability set (a bit mask)."""
    try:
        for line in status.read_text().splitlines():
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    except (OSError, ValueError, IndexError):
        pass
    return 0


def tool(name: str) -> str | None:
    """The path of a system tool, looking in the sbin folders too."""
    return shutil.which(name) or shutil.which(name, path=_SBIN)


def missing_requirements() -> str | None:
    """None when the data plane can be built here, else what is missing, in words."""
    caps = effective_capabilities()
    lacking = [
        name
        for bit, name in ((CAP_NET_ADMIN, "CAP_NET_ADMIN"), (CAP_SYS_ADMIN, "CAP_SYS_ADMIN"))
        if not caps >> bit & 1
    ]
    if lacking:
        return (
            "--data-plane needs root (or CAP_NET_ADMIN, and CAP_SYS_ADMIN for named network "
            f"namespaces); this process lacks {' and '.join(lacking)}"
        )
    tools = [t for t in ("nft", "ip") if tool(t) is None]
    if tools:
        return f"--data-plane needs {' and '.join(tools)} (Debian packages nftables and iproute2)"
    if not Path("/proc/self/ns/net").exists():
        return "--data-plane needs network namespaces in the kernel"
    return None
