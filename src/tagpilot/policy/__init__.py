"""tagpilot.policy: the pure core that picks the tag to deploy, and says why every other tag lost.

Flux ImagePolicy (`parse_flux_policy`, `select_flux`) and Argo CD Image Updater strategies
(`ArgoPolicy`, `select_argo`) share the building blocks: Masterminds semver (`semver`), Go regexp
expansion on RE2 (`gore`), Go float parsing (`gonum`) and Go globs (`goglob`). No I/O, no clock.
"""

from tagpilot.policy.argo import (
    STRATEGIES,
    ArgoPolicy,
    TagMetadata,
    argo_needs_metadata,
    argo_strategy,
    platform_matches,
    select_argo,
)
from tagpilot.policy.flux import FluxPolicy, parse_flux_policy, select_flux
from tagpilot.policy.types import OUTCOMES, Selection, SelectionFailed, TagVerdict

__all__ = [
    "OUTCOMES",
    "STRATEGIES",
    "ArgoPolicy",
    "FluxPolicy",
    "Selection",
    "SelectionFailed",
    "TagMetadata",
    "TagVerdict",
    "argo_needs_metadata",
    "argo_strategy",
    "parse_flux_policy",
    "platform_matches",
    "select_argo",
    "select_flux",
]
