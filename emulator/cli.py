"""`simgate emulator ...`: serve the cloud emulator."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn

from emulator import cli_ingest
from emulator.cli_common import HttpAddress, db_target, default_db, display, parse_http
from emulator.errors import EmulatorError
from simgate_common.exit_codes import ExitCode

DEFAULT_HTTP = "127.0.0.1:8080"
NO_AUTH_ENV = "SIMGATE_EMULATOR_NO_AUTH"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="simgate emulator", description="The simgate cloud emulator."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser(
        "serve",
        help="serve the Sakura API subset, the steering API and MQTT",
        description="Serve the emulator until stopped (Ctrl-C or SIGTERM). Credentials come from "
        "SIMGATE_ACCESS_TOKEN / SIMGATE_ACCESS_TOKEN_SECRET, else a pair stored in the database.",
    )
    serve.add_argument(
        "--db",
        type=db_target,
        default=None,
        help="SQLite file or postgresql://... URL (default: $SIMGATE_EMULATOR_DB, else "
        "$SIMGATE_STATE_DIR/emulator.db)",
    )
    serve.add_argument(
        "--http",
        default=DEFAULT_HTTP,
        metavar="HOST:PORT",
        help=f"HTTP address (default {DEFAULT_HTTP}; port 0: any)",
    )
    serve.add_argument(
        "--mqtt",
        default="embedded",
        metavar="embedded[:PORT]|mqtt://HOST:PORT",
        help="embedded broker (default port 1883; 0: any) or an external broker",
    )
    serve.add_argument(
        "--tariff", type=Path, default=None, help="tariff TOML (default: the shipped example)"
    )
    serve.add_argument(
        "--json", action="store_true", help="print the URLs and credentials as one JSON line"
    )
    serve.add_argument(
        "--mosquitto-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="with an external mosquitto: keep it in step with the registered SIMs; a DIR "
        "from mosquitto-config --dynamic-security is driven over $CONTROL (no reloads), "
        "else its password and ACL files are rewritten (see mosquitto-config)",
    )
    serve.add_argument(
        "--mosquitto-pid-file",
        type=Path,
        default=None,
        metavar="FILE",
        help="send SIGHUP to the pid in FILE after rewriting the files (mosquitto reloads)",
    )
    serve.add_argument(
        "--no-auth",
        action="store_true",
        help=f"throwaway runs only: no credentials needed on any route (also {NO_AUTH_ENV}=1)",
    )
    serve.add_argument(
        "--max-body-bytes",
        type=int,
        default=None,
        metavar="N",
        help="refuse request bodies over N bytes with 413 (default 16 MiB)",
    )
    serve.add_argument("--tls-cert", type=Path, default=None, metavar="FILE", help="serve HTTPS")
    serve.add_argument("--tls-key", type=Path, default=None, metavar="FILE", help="its key")
    serve.add_argument(
        "--allow-insecure-bind",
        action="store_true",
        help="serve on a non-loopback address without TLS or without credentials (warned)",
    )
    serve.add_argument(
        "--data-plane",
        action="store_true",
        help="also build the mobile gateways' data plane: network namespaces that route, "
        "count and cut the SIMs' real packets (needs root or CAP_NET_ADMIN; see "
        "docs/dataplane.md)",
    )
    serve.add_argument(
        "--data-plane-prefix",
        default="sg",
        metavar="PREFIX",
        help="first letters of every namespace the data plane makes (default sg; the rest "
        "is a hash of the database path)",
    )
    serve.add_argument("-v", "--verbose", action="store_true", help="log requests to stderr")
    config = sub.add_parser(
        "mosquitto-config",
        help="write a mosquitto password file, ACL and config for the emulator's SIMs",
        description="Write DIR/passwords (PBKDF2 hashes of each registered SIM's device token "
        "and of the emulator's own login), DIR/acl (each device its own topic root) and "
        "DIR/mosquitto.conf; run mosquitto -c DIR/mosquitto.conf, and rerun this (or serve "
        "with --mosquitto-dir) after SIMs are registered or deleted, then SIGHUP mosquitto.",
    )
    config.add_argument(
        "--db", type=db_target, default=None, help="the emulator's SQLite file or URL"
    )
    config.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    config.add_argument(
        "--listen",
        default="127.0.0.1:1883",
        metavar="HOST:PORT",
        help="the listener written into mosquitto.conf (default 127.0.0.1:1883)",
    )
    config.add_argument("--json", action="store_true", help="print the file paths as JSON")
    config.add_argument(
        "--dynamic-security",
        action="store_true",
        help="write mosquitto 2's dynamic-security store and a config loading its plugin "
        "instead of password and ACL files: serve --mosquitto-dir then changes one client "
        "at a time over $CONTROL, with no file rewrite and no reload",
    )
    from emulator import fleet

    fleet.add_parser(sub)
    cli_ingest.add_parser(sub, db_target)
    return parser


def main(argv: list[str]) -> int:
    """Entry point of `simgate emulator`."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return ExitCode.OK if exc.code == 0 else ExitCode.BAD_INPUT
    if args.command == "mosquitto-config":
        from emulator.cli_mosquitto import mosquitto_config

        return mosquitto_config(args)
    if args.command == "ingest":
        return cli_ingest.run(args, args.db or default_db())
    if args.command == "fleet":
        from emulator import fleet

        return fleet.main(args)
    return serve(args)


def serve(args: argparse.Namespace) -> int:
    """Open the database, bind the sockets, start the broker, serve until stopped."""
    from emulator.api.guard import DEFAULT_MAX_BODY
    from emulator.app import create_app
    from emulator.backend import Backend
    from emulator.models.credentials import api_credentials
    from emulator.mqtt_broker import EmbeddedBroker, parse_mqtt

    try:
        http = parse_http(args.http)
        mqtt = parse_mqtt(
            args.mqtt, http.host if http.host not in ("0.0.0.0", "::") else "127.0.0.1"
        )
        _check_tariff(args.tariff)
        auth_required = not (args.no_auth or _env_flag(NO_AUTH_ENV))
        max_body = DEFAULT_MAX_BODY if args.max_body_bytes is None else args.max_body_bytes
        if not 1 <= max_body <= 1 << 40:
            raise EmulatorError(f"--max-body-bytes must be 1 to {1 << 40}, not {max_body}")
        tls = _tls(args)
        warning = check_bind(http.host, auth_required, tls is not None, args.allow_insecure_bind)
        _check_data_plane(args)
    except (EmulatorError, ValueError) as exc:
        print(f"simgate emulator: {exc}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    if warning:
        print(f"simgate emulator: WARNING: {warning}", file=sys.stderr)
    db_path: Path | str = args.db or default_db()
    try:
        if isinstance(db_path, Path):
            db_path.parent.mkdir(parents=True, exist_ok=True)
        backend = Backend(db_path)
    except Exception as exc:  # sqlite3.Error, psycopg.Error, OSError: a bad file or URL
        print(
            f"simgate emulator: cannot open the database {display(db_path)}: {exc}",
            file=sys.stderr,
        )
        return ExitCode.BAD_INPUT
    if backend.clock.problem:
        print(f"simgate emulator: WARNING: {backend.clock.problem}", file=sys.stderr)
    try:
        plane = _start_data_plane(args, backend, db_path)
    except EmulatorError as exc:
        backend.close()
        print(f"simgate emulator: {exc.message}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    try:
        creds = api_credentials(
            backend.store,
            os.environ.get("SIMGATE_ACCESS_TOKEN"),
            os.environ.get("SIMGATE_ACCESS_TOKEN_SECRET"),
        )
    except EmulatorError as exc:
        backend.close()
        print(f"simgate emulator: {exc.message}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    try:
        sock = _listen(http)
    except OSError as exc:
        backend.close()
        print(f"simgate emulator: cannot listen on {http.host}:{http.port}: {exc}", file=sys.stderr)
        return ExitCode.UNREACHABLE
    port = sock.getsockname()[1]
    app = create_app(
        db_path,
        args.tariff,
        credentials=creds,
        backend=backend,
        auth_required=auth_required,
        max_body_bytes=max_body,
        data_plane=plane,
    )
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr)
    logging.getLogger("amqtt").setLevel(logging.WARNING)
    broker = EmbeddedBroker(mqtt.host, mqtt.port, backend) if mqtt.embedded else None
    try:
        external = None if mqtt.embedded else _external_ingest(args, mqtt, backend)
    except OSError as exc:
        sock.close()
        backend.close()
        print(f"simgate emulator: cannot write the mosquitto files: {exc}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    app.state.mqtt = broker or external
    control = None if mqtt.embedded else _mosquitto_control(args, mqtt, backend)
    app.state.mosquitto_control = control

    async def run() -> int:
        from emulator.ingest import tune_gc

        tune_gc()
        if broker is not None:
            try:
                await broker.start()
            except Exception as exc:  # amqtt wraps OSError in BrokerError
                print(
                    f"simgate emulator: cannot start the embedded MQTT broker: {exc}",
                    file=sys.stderr,
                )
                return ExitCode.UNREACHABLE
        if external is not None:
            external.start()
        if control is not None:
            control.start_background()
        host = http.host if ":" not in http.host else f"[{http.host}]"
        base = f"{'https' if tls else 'http'}://{host}:{port}"
        info = {
            "http": base,
            "api_root": f"{base}/cloud/zone",
            "steering": f"{base}/_emulator/",
            "openapi": f"{base}/openapi.json",
            "mqtt": broker.url if broker is not None else mqtt.url,
            "mqtt_embedded": broker is not None,
            "db": backend.store.display,
            "access_token": creds.token,
            "access_token_secret": creds.secret,
            "credentials_source": creds.source,
            "auth": auth_required,
            "max_body_bytes": max_body,
            "data_plane": None
            if plane is None
            else {"instance": plane.names.instance, "internet": plane.info()["internet"]["url"]},
        }
        config = uvicorn.Config(
            app,
            ssl_certfile=None if tls is None else str(tls[0]),
            ssl_keyfile=None if tls is None else str(tls[1]),
            log_level="info" if args.verbose else "warning",
            access_log=args.verbose,
            lifespan="on",
        )
        server = _Server(config)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, server.stop)
        _announce(info, as_json=args.json)
        try:
            await server.serve(sockets=[sock])
        finally:
            if broker is not None:
                await broker.stop()
            if external is not None:
                await asyncio.to_thread(external.stop)
            if control is not None:
                await asyncio.to_thread(control.stop)
        return ExitCode.OK

    try:
        return asyncio.run(run())
    except KeyboardInterrupt:
        return ExitCode.OK
    finally:
        sock.close()
        if plane is not None:
            plane.stop()
        backend.close()


def _check_data_plane(args: argparse.Namespace) -> None:
    """`--data-plane` needs privileges and tools; refuse early, saying which."""
    if not args.data_plane:
        return
    from emulator.dataplane import naming, system

    naming.check_prefix(args.data_plane_prefix)
    missing = system.missing_requirements()
    if missing:
        raise EmulatorError(missing)


def _start_data_plane(args: argparse.Namespace, backend: Any, db_path: Path | str) -> Any:
    """The data plane, built (after removing what a crashed run left), or None."""
    if not args.data_plane:
        return None
    from emulator.dataplane.naming import Names, instance_name
    from emulator.dataplane.plane import DataPlane

    plane = DataPlane(backend, Names(instance_name(db_path, args.data_plane_prefix)))
    try:
        removed = plane.start()
    except Exception as exc:
        plane.stop()
        raise EmulatorError(f"cannot build the data plane: {exc}") from exc
    if removed:
        logging.getLogger(__name__).warning(
            "data plane: removed what an earlier run left: %s", ", ".join(removed)
        )
    return plane


def _external_ingest(args: argparse.Namespace, mqtt: Any, backend: Any) -> Any:
    """The ingest client for `--mqtt mqtt://...`, with the mosquitto files kept in step
    when `--mosquitto-dir` is given."""
    from emulator.models.credentials import ingest_login
    from emulator.mosquitto import MosquittoSync
    from emulator.mosquitto_dynsec import is_dynsec_dir
    from emulator.mqtt_client import ExternalIngest

    if args.mosquitto_dir is not None and not is_dynsec_dir(args.mosquitto_dir):
        sync = MosquittoSync(
            backend,
            args.mosquitto_dir,
            host=mqtt.host,
            port=mqtt.port,
            pid_file=args.mosquitto_pid_file,
        )
        sync.sync()
        backend.sims.on_change(sync.sync)
    return ExternalIngest(mqtt, backend.devices, ingest_login(backend.store))


def _mosquitto_control(args: argparse.Namespace, mqtt: Any, backend: Any) -> Any:
    """With `--mosquitto-dir` holding a dynamic-security store: the controller that keeps
    mosquitto's clients in step with the SIMs (started with the server)."""
    from emulator.mosquitto_dynsec import DynsecControl, is_dynsec_dir

    if args.mosquitto_dir is None or not is_dynsec_dir(args.mosquitto_dir):
        return None
    control = DynsecControl(backend, mqtt.host, mqtt.port)
    backend.sims.on_change(control.sync)
    return control


class _Server(uvicorn.Server):
    """uvicorn's server with our own signal handling: SIGINT/SIGTERM stop it cleanly and
    the process exits 0 (uvicorn would re-raise the signal after shutting down)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Signals are handled by `serve` (see `stop`)."""
        yield

    def stop(self) -> None:
        """Ask the server to finish; a second request forces it."""
        if self.should_exit:
            self.force_exit = True
        self.should_exit = True


def _listen(http: HttpAddress) -> socket.socket:
    """A listening TCP socket. Its protocol must say IPPROTO_TCP: asyncio sets TCP_NODELAY
    only on such sockets, and without it Nagle's algorithm and delayed ACKs add ~40 ms to
    every response on a kept-alive connection (`socket.create_server` leaves it 0)."""
    family = socket.AF_INET6 if ":" in http.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((http.host, http.port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _tls(args: argparse.Namespace) -> tuple[Path, Path] | None:
    """`--tls-cert` and `--tls-key`: both or neither, readable."""
    if (args.tls_cert is None) != (args.tls_key is None):
        raise EmulatorError("give both --tls-cert and --tls-key, or neither")
    if args.tls_cert is None:
        return None
    import ssl

    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
            args.tls_cert, args.tls_key
        )
    except (OSError, ssl.SSLError) as exc:
        raise EmulatorError(f"cannot use --tls-cert/--tls-key: {exc}") from None
    return args.tls_cert, args.tls_key


def is_loopback(host: str) -> bool:
    """True when every address `host` names is a loopback address."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(
        ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback for info in infos
    )


def check_bind(host: str, auth_required: bool, tls: bool, allow_insecure: bool) -> str | None:
    """The bind rule: off loopback, credentials and TLS, or an explicit override. Raises
    EmulatorError for a refusal; returns the warning to print for an override."""
    if is_loopback(host):
        return None
    missing = [what for what, ok in (("credentials", auth_required), ("TLS", tls)) if not ok]
    if not missing:
        return None
    what = " and ".join(missing)
    if not allow_insecure:
        raise EmulatorError(
            f"refusing to serve on {host}, which is not a loopback address, without {what} "
            "(give --tls-cert/--tls-key and leave auth on, or --allow-insecure-bind)"
        )
    return (
        f"serving on {host} without {what} (--allow-insecure-bind): anyone on the network "
        "may read or change this emulator"
    )


def _check_tariff(path: Path | None) -> None:
    if path is None:
        return
    try:
        from emulator.billing import load_tariff
    except ImportError:
        raise EmulatorError("--tariff needs the billing engine (emulator.billing)") from None
    try:
        load_tariff(path)
    except Exception as exc:
        raise EmulatorError(f"bad tariff file {path}: {exc}") from None


def _announce(info: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(info), flush=True)
        return
    kind = "embedded" if info["mqtt_embedded"] else "external"
    lines = [
        "simgate emulator is serving",
        f"  Sakura API root:  {info['api_root']}   (zones is1a is1b is1c tk1a tk1b tk1v)",
        f"  steering API:     {info['steering']}",
        f"  OpenAPI:          {info['openapi']}",
        f"  MQTT:             {info['mqtt']} ({kind})",
        f"  database:         {info['db']}",
        *(
            [
                f"  data plane:       {info['data_plane']['instance']}-* namespaces, internet host "
                f"{info['data_plane']['internet']}"
            ]
            if info.get("data_plane")
            else []
        ),
        f"  access token:     {info['access_token']}",
        f"  access secret:    {info['access_token_secret']}   ({info['credentials_source']})",
        "  auth:             "
        + (
            "required on every route but /openapi.json"
            if info["auth"]
            else f"OFF (--no-auth or {NO_AUTH_ENV}): anyone may call any route"
        ),
        f"  body limit:       {info['max_body_bytes']} bytes",
        "  e.g. SAKURACLOUD_ACCESS_TOKEN=<token> SAKURACLOUD_ACCESS_TOKEN_SECRET=<secret> "
        f"SAKURACLOUD_API_ROOT_URL={info['api_root']}",
        "Stop with Ctrl-C.",
    ]
    print("\n".join(lines), flush=True)
