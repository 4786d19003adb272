"""`simgate agent …`: the device agent's command line (contracts §1).

One module per command group (`sim`, `network`, `usage`, `discover`, `init`); this one
holds the global options (accepted before or after the subcommand), finds the modem
(`--port`, `$SIMGATE_PORT`, the config), asks a running daemon instead of opening its
port, and turns every error into the contract's exit codes: no command ends in a
traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from agent.at.errors import AtProtocolError, CommandInjectionError
from agent.cli import discover, init, network, sim, sms, usage
from agent.cli.common import (
    DEFAULT_CONFIG,
    AgentParser,
    Output,
    UsageError,
    add_globals,
    finish_progress,
    leaves,
    progress_to_terminal,
)
from agent.daemon.config import ConfigError, load_config
from agent.daemon.control import DaemonError, ask
from agent.dialects import DIALECTS
from agent.modem.ownership import BadPortUrl, PortBusy, socket_paths
from agent.net.errors import InvalidApn, NetSaidNo
from agent.presentation import render_document
from agent.sim.manager import SimRefused, SimSaidNo, WrongUsage
from agent.sim.secrets import SecretSourceError, UnsafeSecretFile
from agent.usage.meter import MeterStateError
from agent.usage.sources import NoModemCounters
from simgate_common.exit_codes import ExitCode

log = logging.getLogger("agent")

Runner = Callable[[argparse.Namespace], Coroutine[Any, Any, Output]]

# One entry per command group module: the module (its `add_commands(groups)`) and the
# runners of the groups it adds. Add a group with one line here.
GROUPS: list[tuple[Any, dict[str, Runner]]] = [
    (sim, {"sim": sim.run}),
    (network, {"net": network.run_net, "internet": network.run_internet}),
    (usage, {"usage": usage.run}),
    (sms, {"sms": sms.run}),
    (discover, {"discover": discover.run}),
    (init, {}),
]
PORT_OPTIONAL = frozenset({"usage", "discover", "run", "init"})
"""Groups that work without a modem port; every other group needs one."""
DAEMON_ANSWERS: dict[tuple[str, str | None], str] = {
    ("sim", "status"): "sim",
    ("net", "status"): "net",
    ("internet", "status"): "internet",
    ("usage", None): "usage",
}
"""Commands a running daemon answers for its port (its control socket's questions)."""
UNEXPECTED = 1
"""A failure no contract exit code describes (a bug): said in one line, no traceback."""


def build_parser() -> argparse.ArgumentParser:
    """The `simgate agent` argument parser."""
    parser = AgentParser(
        prog="simgate agent", description="Drive a cellular modem over AT commands."
    )
    add_globals(parser, top=True)
    parser.add_argument(
        "--version", action="version", version=agent_version(), help="print the version"
    )
    parser.add_argument(
        "--baudrate", type=int, default=115200, help="serial speed (default 115200)"
    )
    parser.add_argument(
        "--dialect",
        choices=("auto", *DIALECTS),
        default="auto",
        help="the modem's vendor commands: auto (from AT+CGMI/AT+CGMM, the default) or a name",
    )
    parser.add_argument(
        "--record",
        type=Path,
        metavar="FILE",
        help="append this run's AT exchange to a transcript (JSON Lines, secrets masked)",
    )
    groups = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")
    for module, _ in GROUPS:
        module.add_commands(groups)
    for leaf in leaves(parser):
        add_globals(leaf, top=False)
    return parser


def agent_version() -> str:
    """`simgate X.Y.Z`, as `simgate --version` says it (contracts §1)."""
    try:
        return f"simgate {version('simgate')}"
    except PackageNotFoundError:
        return "simgate 0+unknown"


def _configure_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


class Failure(Exception):
    """A command failed with `code`; `main` says so (and, with --json, as an object)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def fail(code: int, message: str, *, as_json: bool) -> int:
    """Say why on stderr (and as `{"error","exit_code"}` on stdout with --json)."""
    print(f"simgate agent: {message}", file=sys.stderr)
    if as_json:
        print(json.dumps({"error": message, "exit_code": int(code)}))
    return code


def _wants_json(argv: Sequence[str]) -> bool:
    return "--json" in argv[: argv.index("--")] if "--" in argv else "--json" in argv


def main(argv: Sequence[str]) -> int:
    """Run `simgate agent` with `argv`; returns the exit status."""
    argv = list(argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help
        return ExitCode.OK if exit_.code in (0, None) else ExitCode.BAD_INPUT
    except UsageError as exc:
        exc.parser.print_usage(sys.stderr)
        return fail(ExitCode.BAD_INPUT, exc.message, as_json=_wants_json(argv))
    args.verbose += getattr(args, "late_verbose", 0)
    try:
        return _dispatch(args)
    except Failure as exc:
        finish_progress()
        return fail(exc.code, str(exc), as_json=args.json)
    except KeyboardInterrupt:
        return fail(130, "interrupted", as_json=args.json)
    except BrokenPipeError:  # `simgate agent ... | head`: the reader left; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitCode.OK
    except Exception as exc:  # a bug: one line (the traceback with -v), never a crash
        log.info("unexpected error", exc_info=True)
        return fail(UNEXPECTED, f"unexpected error: {type(exc).__name__}: {exc}", as_json=args.json)


def _dispatch(args: argparse.Namespace) -> int:
    if args.group == "init":
        try:
            document, text = init.run(args)
        except WrongUsage as exc:
            raise Failure(ExitCode.BAD_INPUT, str(exc)) from None
        except OSError as exc:
            raise Failure(ExitCode.BAD_INPUT, f"cannot write into {args.dir}: {exc}") from None
        print(json.dumps(document) if args.json else text)
        return ExitCode.OK
    if args.group == "run":
        from agent.daemon.commands import run_daemon

        args.config = args.config or _default_config()
        if args.config is None:
            raise Failure(
                ExitCode.BAD_INPUT, f"`run` needs --config FILE (no {DEFAULT_CONFIG} here)"
            )
        return run_daemon(args)
    _configure_logging(args.verbose)
    progress_to_terminal()
    if args.group == "discover" and args.watch:
        from agent.daemon.commands import watch_discover

        return watch_discover(args)
    if args.group != "discover":  # the one command that never needs the config
        _find_modem(args)
    if args.group not in PORT_OPTIONAL and not args.port:
        raise Failure(
            ExitCode.BAD_INPUT,
            f"--port URL is required for `{args.group}` commands (or SIMGATE_PORT, or "
            f"[modem] port in --config FILE, default {DEFAULT_CONFIG})",
        )
    runner = dict(item for _, runners in GROUPS for item in runners.items())[args.group]
    document, text = asyncio.run(_answer(args, runner))
    finish_progress()
    print(json.dumps(document) if args.json else text)
    return ExitCode.OK


def _default_config() -> Path | None:
    return DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None


def _find_modem(args: argparse.Namespace) -> None:
    """`--port`, else `$SIMGATE_PORT`, else the config's `[modem] port` (and its state dir)."""
    args.state_dir = None
    config_path = args.config or _default_config()
    config = None
    if config_path is not None:
        try:
            config = load_config(config_path, secrets=False)
        except ConfigError as exc:
            raise Failure(exc.code, f"config {config_path}: {exc}") from None
        args.state_dir = config.state_dir
    if not args.port:
        args.port = os.environ.get("SIMGATE_PORT") or None
    if not args.port and config is not None:
        if config.modem.auto:
            raise Failure(
                ExitCode.BAD_INPUT,
                f'config {config_path}: [modem] port = "auto"; give --port URL '
                "(`simgate agent discover` lists the modems)",
            )
        args.port = config.modem.port
        if args.baudrate == 115200:
            args.baudrate = config.modem.baudrate


async def _answer(args: argparse.Namespace, runner: Runner) -> Output:
    try:
        answered = await _from_daemon(args)
        if answered is not None:
            return answered
        return await runner(args)
    except (SimRefused, UnsafeSecretFile) as exc:
        raise Failure(ExitCode.REFUSED_BY_SAFETY_RULE, f"refused: {exc}") from None
    except (
        SecretSourceError,
        WrongUsage,
        CommandInjectionError,
        InvalidApn,
        MeterStateError,
        BadPortUrl,
    ) as exc:
        raise Failure(ExitCode.BAD_INPUT, str(exc)) from None
    except (SimSaidNo, NetSaidNo, NoModemCounters) as exc:
        raise Failure(ExitCode.MODEM_SAID_NO, str(exc)) from None
    except AtProtocolError as exc:  # the modem's words did not parse
        raise Failure(ExitCode.MODEM_SAID_NO, f"the modem's answer makes no sense: {exc}") from None
    except DaemonError as exc:
        raise Failure(exc.code, f"the daemon said: {exc}") from None
    except PortBusy as exc:
        raise Failure(ExitCode.UNREACHABLE, str(exc)) from None
    except OSError as exc:
        raise Failure(ExitCode.UNREACHABLE, str(exc)) from None


async def _from_daemon(args: argparse.Namespace) -> Output | None:
    """The daemon's answer when one holds the port and this command is a status read."""
    if not args.port:
        return None
    question = DAEMON_ANSWERS.get((args.group, getattr(args, "action", None)))
    if question is None or (question == "usage" and args.source == "os"):
        return None
    for path in socket_paths(args.port):
        document = await ask(path, question)
        if document is not None:
            log.info("answered by the daemon that holds %s", args.port)
            return document, render_document(question, document)
    return None
