"""`tagpilot run`: the daemon, serving its API, health, metrics and webhooks on one address."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
from collections.abc import Iterator, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from tagpilot.cli.common import FilesOption, StateOption, err
from tagpilot.cli.logs import setup_logging
from tagpilot.errors import TagpilotError


class LogFormat(StrEnum):
    auto = "auto"
    text = "text"
    json = "json"


class LogLevel(StrEnum):
    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


def _parse_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise typer.BadParameter(f"{listen!r}: expected HOST:PORT, e.g. 127.0.0.1:9440", param_hint="--listen")
    return host.strip("[]"), int(port)


async def serve(files: list[Path], state: Path, host: str, port: int, workers: int, *,
                allowed_hosts: Sequence[str] = (), max_connections: int | None = None,
                header_timeout: float | None = None, auth_secret: str | None = None) -> None:
    import uvicorn

    from tagpilot.engine.daemon import Daemon
    from tagpilot.server.app import create_app
    from tagpilot.server.connections import (
        DEFAULT_HEADER_TIMEOUT,
        ConnectionGuard,
        default_max_connections,
        raise_nofile_limit,
    )

    # slowloris: connections bounded below the descriptor limit, request heads on a timer
    guard = ConnectionGuard(max_connections or default_max_connections(raise_nofile_limit()),
                            header_timeout=header_timeout or DEFAULT_HEADER_TIMEOUT)

    class Server(uvicorn.Server):
        """uvicorn re-raises SIGTERM after its shutdown (the process dies by the signal); the daemon
        handles signals itself so that it can finish running work and exit 0."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    daemon = Daemon(files, state, workers=workers)
    await daemon.start()
    try:
        app = create_app(daemon, listen_host=host, allowed_hosts=allowed_hosts, auth_secret=auth_secret)
    except BaseException:  # a bad --auth-secret: stop cleanly (release the state lock), then report it
        await daemon.stop()
        raise
    protocol = guard.protocol_class()

    def server_on(listen_port: int) -> Server:
        return Server(uvicorn.Config(app, host=host, port=listen_port, log_config=None, access_log=False,
                                     lifespan="off", http=protocol))

    server = server_on(port)
    # Argo EventSources name the port their webhook listens on (`port: "12000"`): serve those too, so
    # git servers configured for Argo Events reach tagpilot unchanged (ports known at start-up)
    extra = [server_on(p) for p in daemon.webhooks.ports() if p != port]
    loop = asyncio.get_running_loop()

    def shutdown() -> None:
        for each in (server, *extra):
            each.should_exit = True
        app.state.live.close()  # end the dashboard's event streams, or the server waits for them

    daemon.announce(f"http://{host if ':' not in host else f'[{host}]'}:{port}")
    loop.add_signal_handler(signal.SIGHUP, daemon.reload)
    loop.add_signal_handler(signal.SIGTERM, shutdown)
    loop.add_signal_handler(signal.SIGINT, shutdown)
    try:
        await asyncio.gather(server.serve(), *(each.serve() for each in extra))  # return once should_exit is set
    finally:
        for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await daemon.stop()


def run(
    files: FilesOption = [],  # noqa: B006
    listen: Annotated[str, typer.Option("--listen", help="HOST:PORT for the API, webhooks and metrics.")]
    = "127.0.0.1:9440",
    state: StateOption = None,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Objects reconciled at once.")] = 8,
    log_format: Annotated[LogFormat, typer.Option("--log-format", help="auto (text on a terminal), text or json.")]
    = LogFormat.auto,
    log_level: Annotated[LogLevel, typer.Option("--log-level")] = LogLevel.info,
    allowed_hosts: Annotated[list[str], typer.Option(
        "--allowed-host", metavar="NAME",
        help="Another host name the API answers to (besides localhost, IP addresses and the --listen host); "
             "repeatable.")] = [],  # noqa: B006
    max_connections: Annotated[int | None, typer.Option(
        "--max-connections", min=1, help="Open connections at most (default: below the file-descriptor limit, "
                                         "at most 2048).")] = None,
    header_timeout: Annotated[float, typer.Option(
        "--header-timeout", min=0.1, help="Seconds a client has to send a request's headers.")] = 10.0,
    auth_secret: Annotated[str | None, typer.Option(
        "--auth-secret", metavar="NS/NAME",
        help="Secret of API/dashboard tokens (keys: names, values: ROLE:TOKEN; roles viewer, approver, admin). "
             "Without it nobody but the local CLI can change anything.")] = None,
) -> None:
    """Run continuously: reconcile every object on its interval and at once on webhooks; serve the API.

    SIGHUP (or a changed file under -f) reloads the configuration; SIGTERM stops after running work finishes.
    """
    if not files:
        err("error: no configuration given: pass -f FILE or -f DIR")
        raise typer.Exit(2)
    from tagpilot.cli.main import DEFAULT_GC_THRESHOLD
    from tagpilot.engine.daemon import state_dir_from

    gc.set_threshold(*DEFAULT_GC_THRESHOLD)  # a long-lived process: Python's own collection schedule
    host, port = _parse_listen(listen)
    setup_logging(log_format.value, log_level.value)
    from tagpilot.logfilter import collapse_repeats

    collapse_repeats()  # a fault repeating by the thousand writes a few lines, with their count
    try:
        asyncio.run(serve(files, state_dir_from(state), host, port, workers, allowed_hosts=allowed_hosts,
                          max_connections=max_connections, header_timeout=header_timeout,
                          auth_secret=auth_secret))
    except TagpilotError as exc:
        err(f"error: {exc}")
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        pass


def register(app: typer.Typer) -> None:
    app.command("run")(run)
