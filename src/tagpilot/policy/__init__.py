"""tagpilot.policy: the pure core that picks the tag to deploy, and says why every other tag lost.

Every rule implements one interface, `Policy` (`base.py`: `select(tags, *, metadata, explain)`,
`needs_metadata`, `metadata_request`); `factory.py` builds one from a Flux ImagePolicy spec or Argo
CD Image Updater settings. Flux (`flux.py`) and Argo (`argo.py`) share the building blocks:
Masterminds semver (`semver`), Go regexp expansion on RE2 (`gore`), Go float parsing (`gonum`) and
Go globs (`goglob`). No I/O, no clock.
"""

from tagpilot.policy.argo import (
    STRATEGIES,
    ArgoPolicy,
    TagMetadata,
    allowed_tags,
    argo_needs_metadata,
    argo_strategy,
    platform_matches,
    select_argo,
)
from tagpilot.policy.base import MetadataRequest, Policy
from tagpilot.policy.flux import FluxPolicy, parse_flux_policy, select_flux
from tagpilot.policy.types import OUTCOMES, Selection, SelectionFailed, TagVerdict

__all__ = [
    "OUTCOMES",
    "STRATEGIES",
    "ArgoPolicy",
    "FluxPolicy",
    "MetadataRequest",
    "Policy",
    "Selection",
    "SelectionFailed",
    "TagMetadata",
    "TagVerdict",
    "allowed_tags",
    "argo_needs_metadata",
    "argo_strategy",
    "parse_flux_policy",
    "platform_matches",
    "select_argo",
    "select_flux",
]
