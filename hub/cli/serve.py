"""`hub serve [CONFIG] [--debug]`: run the hub.

A start-up that fails prints one line for the operator (what failed, the path or address,
the likely fix) and exits 2 for a configuration problem, 1 for the environment (storage,
network, permissions); the traceback only with --debug."""

from __future__ import annotations

import asyncio
import sys
import threading
import traceback

from hub.cli.common import DEFAULT_CONFIG, EXIT_CONFIG, SubParsers, with_config
from hub.config.loader import Config
from hub.connector import ConnectorRegistry
from hub.core.replies import TemplateProblem
from hub.store.faults import StorageUnavailable

EXIT_ENVIRONMENT = 1


def add_serve_cli(sub: SubParsers, registry: ConnectorRegistry) -> None:
    p = sub.add_parser("serve", help="run the hub")
    p.add_argument("config", nargs="?", default=DEFAULT_CONFIG)
    p.add_argument("--debug", action="store_true", help="print the traceback of a failure")
    p.set_defaults(
        run=lambda args: with_config(
            args.config, registry, lambda c: _serve(c, registry, debug=args.debug)
        )
    )


def _serve(config: Config, registry: ConnectorRegistry, *, debug: bool) -> int:
    # Imported here: the other commands need none of the running hub.
    from hub.app import serve_forever

    async def run() -> None:
        try:
            await serve_forever(config, registry)
        finally:
            await _database_threads_done()

    try:
        asyncio.run(run())
    except Exception as exc:
        if debug:
            traceback.print_exc()
        line, status = _failure(exc)
        print(f"hub serve: {line}", file=sys.stderr)
        return status
    return 0


async def _database_threads_done() -> None:
    """Wait, with the loop still open, for aiosqlite's connection threads to end: one whose
    connection failed to open hands its last answer to the loop after the failure, and
    with the loop closed it prints a traceback of its own under the operator's line."""
    threads = [t for t in threading.enumerate() if "_connection_worker_thread" in t.name]
    for thread in threads:
        await asyncio.to_thread(thread.join, 5)


def _failure(exc: Exception) -> tuple[str, int]:
    """The operator's line for a failure, and the exit status."""
    if isinstance(exc, StorageUnavailable):
        return str(exc), EXIT_ENVIRONMENT
    if isinstance(exc, TemplateProblem):
        return f"reply templates are invalid: {exc}; fix them (hub check-config)", EXIT_CONFIG
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror or exc}{where}; --debug shows where", EXIT_ENVIRONMENT
    return f"{exc.__class__.__name__}: {exc}; run with --debug for the traceback", EXIT_ENVIRONMENT
