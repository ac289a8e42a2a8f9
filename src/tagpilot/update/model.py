"""Values the rewriter takes and returns.

They are plain frozen dataclasses so that the engine can store them, the commit-message templates
can read them (`.Changed.Changes`, `.Changed.FileChanges`, `.Updated.Objects`) and tests can compare them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class ImageRef:
    """The image a policy selected: the name as the user wrote it (not normalised), tag and digest.

    The name is kept as supplied because Flux's `:name` setter writes the repository exactly as it
    appears in the ImageRepository (``alpine`` stays ``alpine``, not ``docker.io/library/alpine``).
    """

    name: str
    tag: str | None = None
    digest: str | None = None

    def __str__(self) -> str:
        """The full reference ``name[:tag][@digest]`` written by a plain ``ns:name`` marker."""
        text = self.name
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text

    def value_for(self, field: str) -> str | None:
        """The value a setter of kind `field` ('' for the full ref, 'tag', 'name', 'digest') writes.

        None when the policy has no such part (a `:digest` marker on a policy without a digest):
        the marker is then left alone rather than emptied.
        """
        if field == "":
            return str(self)
        if field == "name":
            return self.name
        if field == "tag":
            return self.tag
        if field == "digest":
            return self.digest
        raise ValueError(f"unknown setter field {field!r}")


@dataclass(frozen=True)
class ObjectId:
    """The Kubernetes object (YAML document) a change was made in, as Flux's ObjectIdentifier."""

    kind: str = ""
    api_version: str = ""
    name: str = ""
    namespace: str = ""

    def __str__(self) -> str:
        """`Kind/namespace/name` (namespace omitted when empty), for logs and reports."""
        parts = [p for p in (self.namespace, self.name) if p]
        return "/".join([self.kind or "?", *parts])


@dataclass(frozen=True)
class Change:
    """One value the rewriter changed.

    `file` is the name given to `apply_setters` (for `update_tree`: relative to the update path, as
    Flux's `FileChanges` keys are); `line` is 1-based, where the value starts; `setter` is the marker's
    policy string (``flux-system:app:tag``).
    """

    file: str
    line: int
    old_value: str
    new_value: str
    setter: str
    object: ObjectId | None = None
    # the marker's parsed parts, so nothing downstream parses `setter` again (not compared: the
    # setter string says the same)
    policy: tuple[str, str] | None = dataclasses.field(default=None, compare=False)  # (namespace, name)
    part: str = dataclasses.field(default="", compare=False)  # '' (the full reference), 'tag', 'name' or 'digest'


@dataclass(frozen=True)
class Notice:
    """A marker that names a known policy but was deliberately not applied, and why.

    Examples: a block scalar (``|``/``>``) carrying a marker, a non-string explicit tag, a ``:digest``
    marker for a policy without a digest. These are reported, never silently dropped.
    """

    file: str
    line: int
    setter: str
    reason: str
