"""Build a `Policy` from the configuration users write: a Flux `ImagePolicy` spec or Argo settings.

One entry point per configuration format, so the engine never branches on where a policy came from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tagpilot.policy.argo import ArgoPolicy
from tagpilot.policy.base import Policy
from tagpilot.policy.flux import parse_flux_policy


def from_flux_spec(spec: Mapping[str, Any]) -> Policy:
    """A Flux `ImagePolicy` spec (`policy`, `filterTags`); raises InvalidPolicy as Flux refuses it."""
    return parse_flux_policy(spec)


def from_argo(strategy: str | None = None, *, constraint: str = "", allow_tags: str = "",
              ignore_tags: Sequence[str] = (), platforms: Sequence[str] = ()) -> Policy:
    """Argo CD Image Updater's per-image settings (update-strategy, constraint, allow/ignore-tags, platforms)."""
    return ArgoPolicy(strategy=strategy or "semver", constraint=constraint, allow_tags=allow_tags,
                      ignore_tags=list(ignore_tags), platforms=list(platforms))
