"""Appends records forever, printing each `seq` once committed (`python -m` this module).

Arguments: OUTBOX_PATH ICCID. The test kills it with SIGKILL and reopens the outbox.
"""

from __future__ import annotations

import sys
from pathlib import Path

from agent.reporting.outbox import Outbox


def main(path: Path, iccid: str) -> None:
    """Append until killed."""
    outbox = Outbox(path, iccid)
    while True:
        report = outbox.append(
            imei=None,
            start="2026-01-01T00:00:00Z",
            end="2026-01-01T00:01:00Z",
            up=1,
            down=2,
            source="modem",
        )
        sys.stdout.write(f"{report.seq}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
