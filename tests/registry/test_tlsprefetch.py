"""The SSL context built in a thread while a command imports (registry/tlsprefetch.py): the registry
client's first context is that one, exactly what `ssl.create_default_context()` makes; a failed build
leaves the client to build (and report) its own, with nothing written to stderr."""

from __future__ import annotations

import ssl
import subprocess
import sys

import pytest

from tagpilot.registry import client as client_mod
from tagpilot.registry import tlsprefetch


@pytest.fixture(autouse=True)
def _fresh(monkeypatch) -> None:
    monkeypatch.setattr(tlsprefetch, "_thread", None)
    monkeypatch.setattr(tlsprefetch, "_built", [])


def test_the_client_takes_the_prefetched_context_once() -> None:
    tlsprefetch.start()
    assert tlsprefetch._thread is not None
    tlsprefetch._thread.join()
    [prefetched] = tlsprefetch._built
    first = client_mod._ssl_context(None, "registry.example")
    second = client_mod._ssl_context(None, "registry.example")
    assert first is prefetched and second is not first  # the second one is built anew: the first may have been changed
    for context in (first, second):
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
        assert context.cert_store_stats() == ssl.create_default_context().cert_store_stats()
    assert tlsprefetch.take() is None


def test_nothing_is_taken_when_nothing_was_started() -> None:
    assert tlsprefetch.take() is None


def test_a_failed_build_is_left_to_the_client(monkeypatch, capsys) -> None:
    def broken() -> ssl.SSLContext:
        raise ssl.SSLError("no CA bundle")

    monkeypatch.setattr(tlsprefetch.ssl, "create_default_context", broken)
    tlsprefetch.start()
    assert tlsprefetch.take() is None
    assert capsys.readouterr().err == ""


def test_scan_starts_the_prefetch_and_get_does_not() -> None:
    probe = ("import sys\nfrom tagpilot.cli import main\nfrom tagpilot.registry import tlsprefetch\n"
             "main.PLAIN_RUNNERS.clear()\nmain.app_for = lambda argv: lambda **kw: None\n"
             "for argv in (['get', 'repo'], ['scan']):\n"
             "    main.run(argv)\n    print(argv[0], tlsprefetch._thread is not None)\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60).stdout
    assert out.split("\n")[:2] == ["get False", "scan True"]
