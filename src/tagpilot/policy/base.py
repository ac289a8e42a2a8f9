"""The one `Policy` interface every tag-selection rule implements (Flux policies, Argo strategies).

Modelled on Flux's image-reflector-controller `internal/policy`: a small interface (`Policer`:
`Latest(versions)`), a factory that builds the right variant from a spec, one file per variant.
Ours adds what Argo CD Image Updater needs and Flux does not: some strategies need per-tag metadata
from the registry (`newest-build`: the image config's `created` and platforms; `digest`: the current
digest of one tag). A policy says what it needs (`metadata_request`); the engine fetches exactly
that through the registry client, for the CLI and the daemon alike, and passes it to `select`.
The policy itself stays pure: tags and metadata in, a `Selection` (and why each tag lost) out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from tagpilot.policy.argo import TagMetadata
    from tagpilot.policy.types import Selection


@dataclass(frozen=True)
class MetadataRequest:
    """What `select` needs from the registry: for `tags`, either the image metadata (`created`,
    platforms, restricted to `platforms` when given) or the current `digest` of each tag."""

    tags: tuple[str, ...]
    what: Literal["image", "digest"] = "image"
    platforms: tuple[str, ...] = ()


@runtime_checkable
class Policy(Protocol):
    """Picks the tag to deploy among `tags` and, with `explain=True`, says why every other tag lost."""

    @property
    def needs_metadata(self) -> bool:
        """True when `select` needs registry metadata (see `metadata_request`)."""
        ...

    def metadata_request(self, tags: Sequence[str]) -> MetadataRequest | None:
        """The metadata `select` will need for these tags, or None."""
        ...

    def select(self, tags: Sequence[str], *, metadata: Mapping[str, TagMetadata] | None = None,
               explain: bool = False) -> Selection:
        """The winner; raises SelectionFailed (with verdicts when explaining) or InvalidPolicy."""
        ...
