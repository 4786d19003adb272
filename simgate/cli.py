"""The `simgate` console script: picks a command group and hands it the rest of argv.

Each group's module is imported only when chosen, so `simgate agent` on a device never
loads the emulator's stack (and works without the `emulator` extra installed).
`--version` is answered at every level; global options given before the group
(`simgate -v agent …`) go to the group; a mistyped group gets a suggestion; and
`simgate completion SHELL [--install]` writes shell completion (shtab) for all of it.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from simgate_common.exit_codes import ExitCode

# group name -> (module with `main(argv) -> int`, one-line description)
GROUPS: dict[str, tuple[str, str]] = {
    "demo": ("simgate.demo", "run the end-to-end demo on embedded defaults"),
    "agent": ("agent.cli", "drive a modem: SIM, network, data connection, usage, daemon"),
    "stub": ("firmware_stubs.cli", "serve a simulated modem and SIM card on a pty"),
    "emulator": ("emulator.cli", "serve the cloud emulator (REST, MQTT, virtual clock)"),
    "bill": ("emulator.billing.cli", "price a month from a billing event log"),
    "completion": ("simgate.completion", "shell completion: print it, or --install it"),
}
FLAGS_BEFORE_GROUP = frozenset({"-v", "-vv", "-vvv", "--verbose", "--json"})
OPTIONS_BEFORE_GROUP = frozenset({"--port", "--config"})
"""Global options a person may put before the group; they are handed to the group."""

USAGE = "usage: simgate [-h] [--version] [-v] {" + ",".join(GROUPS) + "} ..."


def simgate_version() -> str:
    """`simgate X.Y.Z`, from the installed distribution's metadata."""
    try:
        return f"simgate {version('simgate')}"
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "simgate 0+unknown"


def _help() -> str:
    width = max(len(name) for name in GROUPS)
    lines = [USAGE, "", "commands:"]
    lines += [f"  {name:<{width}}  {desc}" for name, (_, desc) in GROUPS.items()]
    lines += [
        "",
        "options:",
        "  -h, --help  show this help and exit",
        "  --version   print the version and exit (also after any command)",
        "  -v          log to stderr (handed to the command; -vv for more)",
        "",
        "Run `simgate COMMAND --help` for a command's options.",
    ]
    return "\n".join(lines)


def _wants_version(args: Sequence[str]) -> bool:
    before = args[: list(args).index("--")] if "--" in args else args
    return "--version" in before


def _split_globals(args: list[str]) -> tuple[list[str], list[str]]:
    """Global options before the group, and the rest (starting at the group)."""
    leading: list[str] = []
    i = 0
    while i < len(args):
        word = args[i]
        if word in FLAGS_BEFORE_GROUP:
            leading.append(word)
            i += 1
        elif word in OPTIONS_BEFORE_GROUP and i + 1 < len(args):
            leading += args[i : i + 2]
            i += 2
        elif word.split("=", 1)[0] in OPTIONS_BEFORE_GROUP:
            leading.append(word)
            i += 1
        else:
            break
    return leading, args[i:]


def _unknown(group: str, as_json: bool) -> int:
    close = difflib.get_close_matches(group, list(GROUPS), n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    message = f"unknown command {group!r}{hint}"
    print(f"{USAGE}\nsimgate: error: {message}", file=sys.stderr)
    if as_json:
        print(json.dumps({"error": message, "exit_code": int(ExitCode.BAD_INPUT)}))
    return ExitCode.BAD_INPUT


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if _wants_version(args):
        print(simgate_version())
        return ExitCode.OK
    leading, args = _split_globals(args)
    if not args or args[0] in ("-h", "--help"):
        print(_help())
        return ExitCode.OK if args else ExitCode.BAD_INPUT
    group = args[0]
    if group not in GROUPS:
        return _unknown(group, "--json" in leading)
    if leading:  # the agent takes them anywhere; other groups on their last command
        args = [group, *leading, *args[1:]] if group == "agent" else [*args, *leading]
    module_name, _ = GROUPS[group]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        print(
            f"simgate {group}: needs {exc.name!r}, which is not installed "
            "(the cloud side needs `pip install 'simgate[emulator]'`)",
            file=sys.stderr,
        )
        return ExitCode.BAD_INPUT
    group_main: Callable[[list[str]], int] = module.main
    return group_main(args[1:])


def full_parser() -> argparse.ArgumentParser:
    """One parser for every group that imports here (for shell completion)."""
    top = argparse.ArgumentParser(prog="simgate")
    top.add_argument("--version", action="store_true", help="print the version")
    groups = top.add_subparsers(dest="group", metavar="COMMAND")
    builders = {
        "agent": ("agent.cli", "build_parser"),
        "stub": ("firmware_stubs.cli", "build_parser"),
        "emulator": ("emulator.cli", "_parser"),
        "bill": ("emulator.billing.cli", "build_parser"),
    }
    for name, (_, desc) in GROUPS.items():
        groups.add_parser(name, help=desc)
        if name not in builders:
            continue
        module_name, function = builders[name]
        try:
            build: Callable[[], argparse.ArgumentParser] = getattr(
                importlib.import_module(module_name), function
            )
        except (ImportError, AttributeError, ValueError):
            continue  # not installed here (the emulator extra): complete the name only
        groups.choices[name] = build()
    return top


def completion_path(shell: str) -> Path:
    """Where `completion --install` puts the script for `shell`, for this user."""
    home = Path.home()
    data = Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share")
    return {
        "bash": data / "bash-completion" / "completions" / "simgate",
        "zsh": home / ".zfunc" / "_simgate",
        "tcsh": home / ".simgate.completion.csh",
    }[shell]


if __name__ == "__main__":
    sys.exit(main())
