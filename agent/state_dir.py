"""Where the agent keeps what must outlive a run (contracts §1)."""

from __future__ import annotations

import os
from pathlib import Path


def state_dir() -> Path:
    """`$SIMGATE_STATE_DIR`, else `$XDG_STATE_HOME/simgate`, else `~/.local/state/simgate`.

    Created on first use, readable by its owner only.
    """
    explicit = os.environ.get("SIMGATE_STATE_DIR")
    if explicit:
        path = Path(explicit)
    else:
        xdg = os.environ.get("XDG_STATE_HOME")
        base = Path(xdg) if xdg else Path.home() / ".local" / "state"
        path = base / "simgate"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path
