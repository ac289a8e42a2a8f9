"""The system trust store's SSL context, built in a thread while a command is still importing.

`ssl.create_default_context()` parses the CA bundle (~30 ms here) and OpenSSL does it without holding
the GIL. A command that will talk to registries starts it first thing (`cli/main.py`), on the other
core while Python imports the command's modules; the registry client takes it for its first context
(`client._ssl_context`) instead of building one on the event loop. Only stdlib modules are imported
here, so starting costs nothing the command would not import anyway.
"""

from __future__ import annotations

import contextlib
import ssl
import threading

_thread: threading.Thread | None = None
_built: list[ssl.SSLContext] = []


def _build() -> None:
    # a failure is left to the client, which builds its own context and reports the error where it belongs
    with contextlib.suppress(Exception):
        _built.append(ssl.create_default_context())


def start() -> None:
    """Start building the context (once per process)."""
    global _thread
    if _thread is None:
        _thread = threading.Thread(target=_build, name="tls-prefetch", daemon=True)
        _thread.start()


def take() -> ssl.SSLContext | None:
    """The context built by `start`, once (the caller may change it); None when nothing was started
    or the build failed."""
    if _thread is None:
        return None
    _thread.join()
    return _built.pop() if _built else None
