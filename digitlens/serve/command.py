"""`digitlens serve`: the HTTP API and the web page on uvicorn.

Open on loopback; on any other address a token is required (--token or
DIGITLENS_TOKEN) unless --no-auth.  Needs the `serve` extra.
"""

from __future__ import annotations

import argparse
import os
import sys

from digitlens.commands.common import add_reader_arguments, build_reader
from digitlens.serve.config import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    LOOPBACK_NAMES,
    TOKEN_ENV,
    Settings,
    is_loopback,
    resolve_token,
)

MISSING = 'digitlens serve: missing dependency ({name}); pip install "digitlens[serve]"'


def add_arguments(p: argparse.ArgumentParser) -> None:
    d = Settings()
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to bind (default: {DEFAULT_HOST}, this machine only)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT})")
    p.add_argument(
        "--workers",
        type=int,
        default=d.workers,
        help=f"inference threads, one model session each (default: {d.workers})",
    )
    p.add_argument(
        "--queue",
        type=int,
        default=d.queue,
        help=f"requests that may wait for a worker; more get 503 + Retry-After (default: {d.queue})",
    )
    p.add_argument(
        "--max-upload-mb",
        type=float,
        default=d.max_upload_bytes / 2**20,
        help=f"largest accepted upload in MiB (default: {d.max_upload_bytes / 2**20:g})",
    )
    p.add_argument("--timeout", type=float, default=d.timeout, help=f"seconds per request (default: {d.timeout:g})")
    p.add_argument(
        "--token", default=None, help=f"require this bearer token on /v1/* (default: ${TOKEN_ENV}; none on loopback)"
    )
    p.add_argument(
        "--no-auth", action="store_true", help="serve anyone who can reach the address, without a token (default: off)"
    )
    add_reader_arguments(p)


def run(args: argparse.Namespace) -> int:
    try:
        import fastapi  # noqa: F401
        import python_multipart  # noqa: F401
        import uvicorn
    except ImportError as exc:
        print(MISSING.format(name=exc.name), file=sys.stderr)
        return 2
    from digitlens.serve.app import create_app

    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must be 0..65535, got {args.port}")
    token = resolve_token(args.host, args.token or os.environ.get(TOKEN_ENV), args.no_auth)
    # an open server on loopback answers only to loopback names (no DNS rebinding)
    hosts = (*LOOPBACK_NAMES, args.host.strip("[]").lower()) if token is None and is_loopback(args.host) else None
    settings = Settings(
        allowed_hosts=hosts,
        workers=args.workers,
        queue=args.queue,
        max_upload_bytes=max(1, int(args.max_upload_mb * 2**20)),
        timeout=args.timeout,
        token=token,
    )
    build_reader(args, threads=1)  # a bad --model or option fails here, as one line, before binding
    app = create_app(settings, make_reader=lambda: build_reader(args, threads=1))
    shown = f"[{args.host}]" if ":" in args.host else args.host
    auth = "token required" if token else "no token (open)"
    print(f"digitlens serve: http://{shown}:{args.port}/  ({auth}; API docs at /docs)", file=sys.stderr, flush=True)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        limit_concurrency=max(64, 4 * (settings.workers + settings.queue)),
        timeout_keep_alive=5,
        server_header=False,
    )
    return 0
