"""`syncd emulator ...`: argument parsing, app assembly and serving with uvicorn."""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import signal
import socket
import sys
import tempfile
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from syncd.emulator import DEMO_KEY1, DEMO_KEY2, DEMO_PASSWORD, DEMO_USERNAME
from syncd.emulator.admin import Admin, is_loopback
from syncd.emulator.api import Api
from syncd.emulator.downloads import download
from syncd.emulator.frontdoor import FrontDoor, QuietDroppedConnections
from syncd.emulator.host import PROFILES, Account, Host
from syncd.emulator.knobs import FAULT_KINDS, Counts, FaultDice, KnobError, Knobs
from syncd.emulator.store import Store


def build_parser(prog: str = "syncd emulator") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Run a local emulator of a YetiShare-style API v2 file host. Prints "
        "'READY <api_url>' once listening.",
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    add("--port", type=int, default=8765, help="port (0 = pick a free one; default 8765)")
    add("--data", type=Path, help="state directory (SQLite + blobs); default a temp dir")
    add("--key1", default=DEMO_KEY1, help="API key 1 accepted (default: the demo key)")
    add("--key2", default=DEMO_KEY2, help="API key 2 accepted (default: the demo key)")
    add("--username", default=DEMO_USERNAME, help="account username")
    add("--password", default=DEMO_PASSWORD, help="account password (--auth-method password)")
    add("--auth-method", choices=("keys", "password"), default="keys")
    add("--profile", choices=sorted(PROFILES), default="mecloudnet")
    add("--latency-ms", type=float, default=0.0, help="added latency per request")
    add("--rate-limit", type=float, default=0.0, help="requests/s before 429 (0 = off)")
    add(
        "--upload-concurrency-limit",
        type=int,
        default=0,
        help="concurrent uploads before 429 (0 = off)",
    )
    add("--fault-rate", type=float, default=0.0, help="fraction of requests that fail (0..1)")
    add(
        "--fault-kinds",
        default=None,
        help=f"comma-separated subset of {','.join(FAULT_KINDS)} (default 500,502,503,drop)",
    )
    add("--fault-seed", type=int, default=None, help="seed of the fault dice")
    add("--stall-s", type=float, default=120.0, help="how long a 'stall' fault holds a request")
    add("--token-lifetime", type=float, default=3600.0, help="idle seconds before a token dies")
    add("--max-upload-size", type=int, default=1073741824, help="package max_upload_size")
    add("--concurrent-uploads", type=int, default=100, help="package concurrent_uploads")
    add("--no-api-access", action="store_true", help="account level without API access")
    add(
        "--lockout-after-failures",
        type=int,
        default=0,
        help="lock the account after N failed authorizations in a row (0 = never)",
    )
    return parser


def knobs_from_args(args: argparse.Namespace) -> Knobs:
    knobs = Knobs()
    changes: dict[str, object] = {
        "latency_ms": args.latency_ms,
        "rate_limit_rps": args.rate_limit,
        "upload_concurrency_limit": args.upload_concurrency_limit,
        "fault_rate": args.fault_rate,
        "fault_seed": args.fault_seed,
        "stall_s": args.stall_s,
        "token_lifetime_s": args.token_lifetime,
        "max_upload_size": args.max_upload_size,
        "concurrent_uploads": args.concurrent_uploads,
        "api_access": not args.no_api_access,
        "lockout_after_failures": args.lockout_after_failures,
    }
    if args.fault_kinds is not None:
        changes["fault_kinds"] = args.fault_kinds
    knobs.update(changes)
    return knobs


def build_app(host: Host) -> FrontDoor:
    counts = Counts()
    dice = FaultDice(host.knobs.fault_seed)
    api = Api(host)
    admin = Admin(host, counts, dice)

    async def serve_download(request: Request) -> Response:
        return await download(request, host)

    app = Starlette(
        routes=[
            *admin.routes(),
            Route("/api/v2/{path:path}", api.handle, methods=["GET", "POST"]),
            Route("/{short_url}", serve_download, methods=["GET", "HEAD"]),
        ]
    )
    return FrontDoor(app, host, counts, dice)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted sockets only when proto says TCP;
    # without it every answer waits ~40 ms for the client's delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


async def _serve(server: uvicorn.Server, sock: socket.socket, url_host: str) -> None:
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():
        await asyncio.sleep(0.01)
    if server.started:
        port = sock.getsockname()[1]
        print(f"READY http://{url_host}:{port}/api/v2/", flush=True)
    await task


def main(argv: list[str] | None = None, prog: str = "syncd emulator") -> int:
    args = build_parser(prog).parse_args(argv)
    try:
        knobs = knobs_from_args(args)
    except KnobError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    if args.auth_method == "keys" and (len(args.key1) != 64 or len(args.key2) != 64):
        print(f"{prog}: --key1 and --key2 must be 64 characters each", file=sys.stderr)
        return 2

    temp_dir = None
    if args.data is None:
        temp_dir = Path(tempfile.mkdtemp(prefix="syncd-emulator-"))
        data_dir = temp_dir
    else:
        data_dir = args.data
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            print(f"{prog}: cannot create --data {data_dir}: {exc.strerror}", file=sys.stderr)
            return 2

    if args.host != "localhost" and not is_loopback(args.host):
        # /admin still refuses non-loopback clients per request, but the API and its public
        # demo keys would be open to the network, without TLS.
        print(
            f"{prog}: warning: --host {args.host} is not a loopback address: the emulated "
            "account (demo keys, plain http) is reachable from the network; /admin answers "
            "loopback clients only",
            file=sys.stderr,
        )
    try:
        sock = _bind(args.host, args.port)
    except (OSError, OverflowError) as exc:  # OverflowError: a port outside 0-65535
        print(
            f"{prog}: cannot listen on {args.host}:{args.port}: "
            f"{getattr(exc, 'strerror', None) or exc}; "
            "choose another --port (0 picks a free one)",
            file=sys.stderr,
        )
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)
        return 2

    store = Store(data_dir)
    account = Account(
        username=args.username, password=args.password, key1=args.key1, key2=args.key2
    )
    host = Host(store, knobs, account, args.auth_method, PROFILES[args.profile])
    config = uvicorn.Config(
        build_app(host),
        log_level="warning",
        access_log=False,  # access logs would carry download tokens
        lifespan="off",
        timeout_graceful_shutdown=2,
        # nginx's default; uvicorn's 5 s would make idle pooled client connections race the
        # server's close far more often than against a real host.
        timeout_keep_alive=75,
        server_header=False,
    )
    logging.getLogger("uvicorn.error").addFilter(QuietDroppedConnections())
    server = uvicorn.Server(config)

    # uvicorn re-raises the signal that stopped it once it has shut down; with these handlers
    # that is a no-op and we get to clean up.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: None)
    url_host = f"[{args.host}]" if ":" in args.host else args.host
    try:
        asyncio.run(_serve(server, sock, url_host))
    finally:
        sock.close()
        store.close()
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)
    return 0
