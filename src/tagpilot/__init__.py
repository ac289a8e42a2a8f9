"""tagpilot: keeps the container images named in a GitOps repository up to date."""

import sys

from tagpilot import dataclass_code

__version__ = "0.1.0"

# before any module of ours (or pydantic, httpx, h2) defines a dataclass: their methods come compiled
dataclass_code.install()

# httpx's package import pulls in its own command-line client (`httpx._main`: click, rich, pygments)
# whenever those are installed, as they are beside typer: ~60 ms of every tagpilot command for a
# program nobody runs from here. A None entry makes that import fail, and httpx then defines its
# fallback `main` instead (its `except ImportError` branch); the HTTP client is untouched. Only when
# httpx is not imported yet, so a host program that already loaded it keeps its module.
if "httpx" not in sys.modules:
    sys.modules.setdefault("httpx._main", None)  # type: ignore[assignment]
