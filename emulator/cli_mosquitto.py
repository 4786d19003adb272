"""`simgate emulator mosquitto-config`: write an external broker's files and exit."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from emulator.cli_common import HttpAddress, default_db, display, parse_http
from emulator.errors import EmulatorError
from simgate_common.exit_codes import ExitCode


def mosquitto_config(args: argparse.Namespace) -> int:
    """`simgate emulator mosquitto-config`: write the broker's files and exit."""
    from emulator.backend import Backend
    from emulator.mosquitto import write_files

    try:
        listen = parse_http(args.listen)
    except EmulatorError as exc:
        print(f"simgate emulator: {exc.message.replace('--http', '--listen')}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    db_path: Path | str = args.db or default_db()
    if isinstance(db_path, Path) and not db_path.exists():
        print(f"simgate emulator: no emulator database at {db_path}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    try:
        backend = Backend(db_path)
    except Exception as exc:  # sqlite3.Error, psycopg.Error, OSError
        print(
            f"simgate emulator: cannot open the database {display(db_path)}: {exc}",
            file=sys.stderr,
        )
        return ExitCode.BAD_INPUT
    if args.dynamic_security:
        return _dynsec_config(args, backend, listen)
    try:
        files = write_files(backend, args.out, host=listen.host, port=listen.port)
    except OSError as exc:
        print(f"simgate emulator: cannot write to {args.out}: {exc}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    finally:
        backend.close()
    info = {
        "passwords": str(files.passwords),
        "acl": str(files.acl),
        "config": str(files.config),
        "devices": files.users,
    }
    if args.json:
        print(json.dumps(info))
    else:
        print(
            f"wrote {files.users} device login(s) and the emulator's to {files.passwords}\n"
            f"ACL: {files.acl}\nconfig: {files.config}\n"
            f"run: mosquitto -c {files.config}   (after changes: kill -HUP <mosquitto pid>)"
        )
    return ExitCode.OK


def _dynsec_config(args: argparse.Namespace, backend: Any, listen: HttpAddress) -> int:
    """`mosquitto-config --dynamic-security`."""
    from emulator.mosquitto_dynsec import write_dynsec_files

    try:
        files = write_dynsec_files(backend, args.out, host=listen.host, port=listen.port)
    except OSError as exc:
        print(f"simgate emulator: cannot write to {args.out}: {exc}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    finally:
        backend.close()
    info = {"dynamic_security": str(files.store), "config": str(files.config)}
    if args.json:
        print(json.dumps({**info, "devices": files.users}))
    else:
        print(
            f"wrote {files.users} device client(s) and the emulator's to {files.store}\n"
            f"config: {files.config}\n"
            f"run: mosquitto -c {files.config}, then simgate emulator serve --mqtt "
            f"mqtt://{listen.host}:{listen.port} --mosquitto-dir {files.directory}"
        )
    return ExitCode.OK
