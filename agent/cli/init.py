"""`simgate agent init --dir DIR [--user NAME] [--force]`: the config and the unit.

Both files ship in the wheel (`agent/daemon/agent.toml`, `agent/daemon/simgate-agent.service`),
so a device with only `pip install` has them. The unit is written for this install: its
`ExecStart=` names the `simgate` beside the running Python (a venv's), and `--user` sets
`User=`/`Group=` (default `simgate`, as docs/raspberry-pi.md creates it).
"""

from __future__ import annotations

import argparse
import re
import sys
from importlib import resources
from pathlib import Path
from typing import Final

from agent.cli.common import Groups, Output, add_json
from agent.sim.manager import WrongUsage
from simgate_common.files import write_private_file

CONFIG_NAME: Final = "agent.toml"
UNIT_NAME: Final = "simgate-agent.service"
SHIPPED_EXEC: Final = "/opt/simgate/venv/bin/simgate"
_USER = re.compile(r"[a-z_][a-z0-9_-]{0,31}")


def add_commands(groups: Groups) -> None:
    """The `init` command."""
    init = groups.add_parser(
        "init", help=f"write {CONFIG_NAME} (the example config) and {UNIT_NAME} into a folder"
    )
    init.add_argument("--dir", type=Path, required=True, metavar="DIR", help="where to write")
    init.add_argument(
        "--user", default="simgate", metavar="NAME", help="the service user (default simgate)"
    )
    init.add_argument("--force", action="store_true", help="overwrite files already there")
    add_json(init)


def shipped(name: str) -> str:
    """The text of a file shipped in the wheel beside the daemon."""
    return resources.files("agent.daemon").joinpath(name).read_text(encoding="utf-8")


def unit_text(user: str, simgate: str | None = None) -> str:
    """The shipped unit for service user `user`, starting `simgate` (default: this one's)."""
    text = shipped(UNIT_NAME)
    text = re.sub(r"(?m)^User=.*$", f"User={user}", text)
    text = re.sub(r"(?m)^Group=.*$", f"Group={user}", text)
    return text.replace(SHIPPED_EXEC, simgate or _this_simgate())


def _this_simgate() -> str:
    beside = Path(sys.executable).parent / "simgate"
    return str(beside) if beside.is_file() else SHIPPED_EXEC


def run(args: argparse.Namespace) -> Output:
    """Write both files; refuse (exit 2) to overwrite one without `--force`."""
    if not _USER.fullmatch(args.user):
        raise WrongUsage(f"--user {args.user!r} is not a valid user name")
    folder: Path = args.dir
    files = {CONFIG_NAME: shipped(CONFIG_NAME), UNIT_NAME: unit_text(args.user)}
    there = [name for name in files if (folder / name).exists()]
    if there and not args.force:
        raise WrongUsage(
            f"{', '.join(str(folder / n) for n in there)} already there; --force overwrites"
        )
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in files.items():
        path = folder / name
        write_private_file(path, text)
        path.chmod(0o644)  # neither holds a secret; systemd and the service user read them
        written.append(str(path))
    text = "\n".join(
        [
            *(f"wrote {path}" for path in written),
            "",
            f"next: edit {folder / CONFIG_NAME} ([modem] port, [internet] apn, [mqtt] host),",
            f"      then install both as docs/raspberry-pi.md says (service user {args.user}).",
        ]
    )
    return {"written": written, "user": args.user}, text
