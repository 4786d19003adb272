"""`simgate agent run` and `simgate agent discover --watch`: the command-line glue."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Callable

from agent.daemon import service
from agent.daemon.config import ConfigError, load_config
from agent.daemon.watcher import PyudevEvents, UdevEvents
from agent.discovery.discover import DiscoveredModem, discover
from agent.presentation import render_modems
from simgate_common.exit_codes import ExitCode

log = logging.getLogger("agent")


def fail(code: ExitCode, message: str, *, as_json: bool = False) -> int:
    """Say why on stderr (and as `{"error","exit_code"}` on stdout with --json)."""
    print(f"simgate agent: {message}", file=sys.stderr)
    if as_json:
        print(json.dumps({"error": message, "exit_code": int(code)}))
    return code


async def watch_modems(
    as_json: bool,
    events: UdevEvents,
    find: Callable[[], list[DiscoveredModem]] = discover,
    settle: float = 0.5,
) -> None:
    """`discover --watch`: print the modems, then again after each change, until cancelled."""
    loop = asyncio.get_running_loop()
    changed = asyncio.Event()

    def on_event(action: str, node: str) -> None:
        loop.call_soon_threadsafe(changed.set)

    events.start(on_event)
    try:
        shown: list[DiscoveredModem] | None = None
        while True:
            changed.clear()
            modems = await asyncio.to_thread(find)
            if modems != shown:
                document = [m.to_json() for m in modems]
                print(json.dumps(document) if as_json else render_modems(modems), flush=True)
                shown = modems
            await changed.wait()
            await asyncio.sleep(settle)  # let udev finish the device's other ports
    finally:
        await asyncio.to_thread(events.stop)


def watch_discover(args: argparse.Namespace) -> int:
    """`discover --watch`: until Ctrl-C (exit 0); exit 5 without udev."""
    try:
        asyncio.run(watch_modems(args.json, PyudevEvents()))
    except KeyboardInterrupt:
        return ExitCode.OK
    except (ImportError, OSError) as exc:  # no libudev, or no netlink socket
        message = f"udev is not available on this host: {exc}"
        return fail(ExitCode.UNREACHABLE, message, as_json=args.json)
    return ExitCode.OK


def run_daemon(args: argparse.Namespace) -> int:
    """`run --config FILE`: the daemon, in the foreground until SIGTERM or SIGINT."""
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        return fail(ExitCode(exc.code), f"config {args.config}: {exc}", as_json=args.json)
    service.configure_logging(args.verbose)
    if args.port:
        log.warning("--port is ignored by `run`: the port is [modem] port in the config")
    code, problem = service.run_reporting(config)
    if code != ExitCode.OK and args.json:
        print(json.dumps({"error": problem or "the daemon stopped", "exit_code": int(code)}))
    return code
