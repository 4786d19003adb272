"""The `simgate` console script: picks a command group and hands it the rest of argv.

Each group's module is imported only when chosen, so `simgate agent` on a device never
loads the emulator's stack (and works without the `emulator` extra installed).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence

from simgate_common.exit_codes import ExitCode

# group name -> (module with `main(argv) -> int`, one-line description)
GROUPS: dict[str, tuple[str, str]] = {
    "demo": ("simgate.demo", "run the end-to-end demo on embedded defaults"),
    "agent": ("agent.cli", "drive a modem: SIM, network, data connection, usage, daemon"),
    "stub": ("firmware_stubs.cli", "serve a simulated modem and SIM card on a pty"),
    "emulator": ("emulator.cli", "serve the cloud emulator (REST, MQTT, virtual clock)"),
    "bill": ("emulator.billing.cli", "price a month from a billing event log"),
}

USAGE = "usage: simgate [-h] {" + ",".join(GROUPS) + "} ..."


def _help() -> str:
    width = max(len(name) for name in GROUPS)
    lines = [USAGE, "", "commands:"]
    lines += [f"  {name:<{width}}  {desc}" for name, (_, desc) in GROUPS.items()]
    lines += ["", "Run `simgate COMMAND --help` for a command's options."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(_help())
        return ExitCode.OK if args else ExitCode.BAD_INPUT
    group = args[0]
    if group not in GROUPS:
        print(f"{USAGE}\nsimgate: error: unknown command {group!r}", file=sys.stderr)
        return ExitCode.BAD_INPUT
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


if __name__ == "__main__":
    sys.exit(main())
