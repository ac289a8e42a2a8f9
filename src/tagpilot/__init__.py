"""tagpilot: keeps the container images named in a GitOps repository up to date."""

import sys
import types

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


def _no_pydantic_plugins() -> tuple[()]:
    return ()


# pydantic looks for plugins (the `pydantic` entry-point group: validation instrumentation such as
# logfire's) when it builds its first model, importing importlib.metadata (email, zipfile, csv...) and
# reading every installed distribution's metadata: 7-15 ms of every command that loads a
# configuration, a fifth to a third of building a Flux configuration's models, for a feature tagpilot
# never uses. Its loader is replaced by one that finds none (pydantic imports only `get_plugins` from
# it). Only when pydantic is not imported yet, so a host program that already uses it keeps its plugins.
if "pydantic" not in sys.modules:
    _loader = types.ModuleType("pydantic.plugin._loader", "tagpilot: no pydantic plugins are loaded")
    _loader.get_plugins = _no_pydantic_plugins  # type: ignore[attr-defined]
    sys.modules.setdefault("pydantic.plugin._loader", _loader)
