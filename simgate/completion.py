"""`simgate completion {bash,zsh,tcsh} [--install]`: shell completion made by shtab.

Without `--install` the script goes to stdout (`eval "$(simgate completion bash)"`);
with it, to the place the shell looks for this user's completions, and the command says
what (if anything) the shell still needs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import shtab

from simgate.cli import completion_path, full_parser
from simgate_common.exit_codes import ExitCode

HINTS = {
    "bash": "open a new shell (bash-completion loads it from there)",
    "zsh": "add `fpath=(~/.zfunc $fpath); autoload -U compinit; compinit` to ~/.zshrc",
    "tcsh": "add `source ~/.simgate.completion.csh` to ~/.tcshrc",
}


def main(argv: Sequence[str]) -> int:
    """Print or install the completion script; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="simgate completion", description="Shell completion for simgate (shtab)."
    )
    parser.add_argument("shell", choices=sorted(HINTS), help="the shell")
    parser.add_argument(
        "--install", action="store_true", help="write it where the shell finds it for this user"
    )
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exc:
        return ExitCode.OK if exc.code == 0 else ExitCode.BAD_INPUT
    script = shtab.complete(full_parser(), shell=args.shell).rstrip("\n") + "\n"
    if not args.install:
        sys.stdout.write(script)
        return ExitCode.OK
    path = completion_path(args.shell)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(script, encoding="utf-8")
    except OSError as exc:
        print(f"simgate completion: cannot write {path}: {exc.strerror}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    print(f"wrote {path}; {HINTS[args.shell]}")
    return ExitCode.OK
