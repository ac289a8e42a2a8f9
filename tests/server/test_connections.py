"""The descriptor limit and the connection limit's defaults (the protocol itself runs against real
sockets in tests/integration/test_daemon_hardening.py)."""

from __future__ import annotations

import resource
import subprocess
import sys

from tagpilot.server.connections import MAX_DEFAULT_CONNECTIONS, default_max_connections


def test_the_soft_descriptor_limit_is_raised_to_the_hard_limit() -> None:
    code = (
        "import resource\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, hard), hard))\n"
        "from tagpilot.server.connections import raise_nofile_limit\n"
        "print(raise_nofile_limit(), resource.getrlimit(resource.RLIMIT_NOFILE)[0], hard)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    returned, soft, hard = map(int, out)
    if hard != resource.RLIM_INFINITY:
        assert returned == soft == hard


def test_the_default_connection_limit_stays_below_the_descriptor_limit() -> None:
    assert default_max_connections(1024) < 1024
    assert default_max_connections(100) == 16  # a floor, so a tiny limit still serves
    assert default_max_connections(1_000_000) == MAX_DEFAULT_CONNECTIONS
