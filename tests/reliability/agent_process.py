"""The agent's daemon in its own process, metering faster than its config allows.

`python -m tests.reliability.agent_process CONFIG INTERVAL`: loads CONFIG exactly as
`simgate agent run --config CONFIG` does, then runs the same `Daemon` (modem watcher, SIM
and connection keepers, `MeteringLoop` with the `UsageMeter`, `ReportingHub` with the
real `Outbox` and `Reporter`) with `[usage] interval_s` replaced by INTERVAL seconds (the
config refuses less than 0.05 s; the reliability test needs thousands of records within
a minute) and short reconnect delays. SIGTERM stops it cleanly (exit 0); the test also
SIGKILLs it. The per-record INFO line is turned off: at hundreds of records a second it
would cost more than the record.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
import sys
from pathlib import Path

from agent.daemon.config import load_config
from agent.daemon.service import configure_logging
from agent.daemon.supervisor import Daemon, Timing
from agent.reporting.backoff import Backoff

TIMING = Timing(
    modem_backoff=Backoff(initial=0.05, maximum=0.2),
    mqtt_backoff=Backoff(initial=0.05, maximum=0.5),
    port_poll=0.05,
    mqtt_poll=1.0,
    shutdown=3.0,
)


async def _serve(config_path: Path, interval: float) -> None:
    config = load_config(config_path)
    config = dataclasses.replace(
        config, usage=dataclasses.replace(config.usage, interval_s=interval)
    )
    assert config.state_dir is not None, "the test's config names its state dir"
    daemon = Daemon(config, state_dir=config.state_dir, timing=TIMING)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, daemon.stop)
    await daemon.run()


def main(argv: list[str]) -> int:
    """Run until SIGTERM; 0 then, 1 if the daemon gave up."""
    configure_logging(0)
    logging.getLogger("agent.daemon.metering").setLevel(logging.WARNING)
    asyncio.run(_serve(Path(argv[0]), float(argv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
