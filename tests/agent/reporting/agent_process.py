"""A reporter in its own process, for tests that kill it (`python -m` this module).

Arguments: OUTBOX_PATH ICCID PORT. Prints `running` once started, then runs until killed.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from agent.reporting.backoff import Backoff
from agent.reporting.outbox import Outbox
from agent.reporting.publisher import Broker, Reporter


async def _main(path: Path, iccid: str, port: int) -> None:
    with Outbox(path, iccid) as outbox:
        reporter = Reporter(
            outbox, Broker("127.0.0.1", port), token=None, backoff=Backoff(0.05, 0.5)
        )
        task = asyncio.create_task(reporter.run())
        await reporter.wait_connected()
        sys.stdout.write("running\n")
        sys.stdout.flush()
        await task


if __name__ == "__main__":
    asyncio.run(_main(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])))
