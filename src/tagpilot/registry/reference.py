"""Image references, parsed exactly once, here.

Every other module receives a `Reference` and never splits strings itself, so the Docker rules live
in one place. The rules are those of `github.com/distribution/reference` (`ParseNormalizedNamed`) as
go-containerregistry applies them (what Flux uses):

- The first path component is a registry host only if it contains ``.`` or ``:`` or is exactly
  ``localhost``; otherwise the registry is Docker Hub (``docker.io``) and a single-component name gets
  the ``library/`` prefix. ``index.docker.io`` is the legacy spelling of ``docker.io``.
- Repository path components are lowercase ``[a-z0-9]+`` joined by ``.``, ``_``, ``__`` or runs of
  ``-``; the path (the name without the registry host) is at most 255 characters. Since
  distribution/reference 0.6 (``RepositoryNameTotalLengthMax``) the host does not count.
- A tag is ``[\\w][\\w.-]{0,127}``; a digest is ``algorithm:hex`` and, for the algorithms Docker knows,
  must have the right length of lowercase hex.
- A first component with uppercase letters and no ``.``/``:`` is rejected (go-containerregistry rejects
  it; plain Docker would take it for a host name, which never resolves in practice).

The patterns are fixed and ours, but they run on user input, so they use RE2 (linear time) like every
other pattern in tagpilot.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import re2

from tagpilot.errors import InvalidReference

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
NAME_TOTAL_LENGTH_MAX = 255  # distribution/reference's RepositoryNameTotalLengthMax: the path only

_PATH_COMPONENT = re2.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re2.compile(r"(?:" + _DOMAIN_COMPONENT + r"(?:\." + _DOMAIN_COMPONENT + r")*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?")
_TAG = re2.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re2.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
_HEX64 = re2.compile(r"[a-f0-9]{64}")
# Known digest algorithms and the length of their lowercase hex encoding (opencontainers/go-digest).
_DIGEST_HEX_LENGTH = {"sha256": 64, "sha384": 96, "sha512": 128}
_LOWER_HEX = re2.compile(r"[a-f0-9]+")


@dataclass(frozen=True)
class Reference:
    """A parsed, normalised image reference (``domain/path[:tag][@digest]``)."""

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """The familiar normalised name without tag or digest: ``docker.io/library/alpine``."""
        return f"{self.domain}/{self.path}"

    @property
    def canonical_name(self) -> str:
        """Flux's ``canonicalImageName``: Docker Hub as ``index.docker.io``, like go-containerregistry."""
        return f"{self.api_host}/{self.path}"

    @property
    def api_host(self) -> str:
        """The host (with port) whose ``/v2/`` API serves this repository."""
        return LEGACY_DEFAULT_DOMAIN if self.domain == DEFAULT_DOMAIN else self.domain

    @property
    def is_docker_hub(self) -> bool:
        """Docker Hub needs special cases (credential keys, canonical name)."""
        return self.domain == DEFAULT_DOMAIN

    def with_tag(self, tag: str) -> Reference:
        """The same repository with another tag (and no digest); the tag is validated."""
        _check_tag(tag, f"{self.name}:{tag}")
        return replace(self, tag=tag, digest=None)

    def with_digest(self, digest: str) -> Reference:
        """The same repository and tag pinned to a digest; the digest is validated."""
        _check_digest(digest, f"{self.name}@{digest}")
        return replace(self, digest=digest)

    def repository(self) -> Reference:
        """The repository alone, without tag or digest."""
        return replace(self, tag=None, digest=None)

    def __str__(self) -> str:
        text = self.name
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text


def _fail(text: str, why: str) -> InvalidReference:
    return InvalidReference(f"invalid image reference {text!r}: {why}")


def _check_tag(tag: str, text: str) -> None:
    if not _TAG.fullmatch(tag):
        raise _fail(
            text,
            f"tag {tag!r} must be 1 to 128 characters of letters, digits, '_', '.' and '-', "
            "not starting with '.' or '-'",
        )


def _check_digest(digest: str, text: str) -> None:
    if not _DIGEST.fullmatch(digest):
        raise _fail(text, f"digest {digest!r} must look like 'sha256:<64 hex digits>'")
    algorithm, _, encoded = digest.partition(":")
    expected = _DIGEST_HEX_LENGTH.get(algorithm)
    if expected is None:
        raise _fail(text, f"unsupported digest algorithm {algorithm!r}")
    if len(encoded) != expected or not _LOWER_HEX.fullmatch(encoded):
        raise _fail(text, f"{algorithm} digest must be {expected} lowercase hex digits")


def _split_domain(name: str) -> tuple[str, str]:
    """Split a name into (domain, remainder) with Docker's rule for the first component."""
    first, slash, rest = name.partition("/")
    if not slash or ("." not in first and ":" not in first and first != "localhost"):
        domain, remainder = DEFAULT_DOMAIN, name
    else:
        domain, remainder = first, rest
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = OFFICIAL_REPO_PREFIX + remainder
    return domain, remainder


def parse_reference(text: str) -> Reference:
    """Parse an image reference as ``docker pull`` would; raise `InvalidReference` if Docker rejects it."""
    if not isinstance(text, str) or text == "":
        raise InvalidReference("invalid image reference '': the reference is empty")
    return _parse_reference(text)


@functools.lru_cache(maxsize=16384)
def _parse_reference(text: str) -> Reference:
    """`parse_reference` of a string, cached (a `Reference` is immutable, and a rejected text raises
    again): every scan, policy and update parses its object's image again, the same texts all day."""
    if "://" in text:
        scheme = text.split("://", 1)[0]
        raise _fail(text, f"an image reference has no URL scheme; remove '{scheme}://'")
    if text != text.strip() or any(c.isspace() for c in text):
        raise _fail(text, "whitespace is not allowed")
    if _HEX64.fullmatch(text):
        raise _fail(text, "a 64-character hexadecimal string is an image ID, not a repository name")

    name, at, digest = text.partition("@")
    if at:
        _check_digest(digest, text)
    tag: str | None = None
    last_slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > last_slash:
        name, tag = name[:colon], name[colon + 1 :]
        _check_tag(tag, text)

    if not name:
        raise _fail(text, "the repository name is empty")
    domain, remainder = _split_domain(name)
    if not _DOMAIN.fullmatch(domain):
        raise _fail(text, f"registry host {domain!r} is not a valid host[:port]")
    if remainder.lower() != remainder:
        raise _fail(text, f"repository name {remainder!r} must be lowercase")
    for component in remainder.split("/"):
        if not component:
            raise _fail(text, "the repository path has an empty component ('//', leading or trailing '/')")
        if not _PATH_COMPONENT.fullmatch(component):
            raise _fail(
                text,
                f"path component {component!r} must be lowercase letters and digits separated by '.', '_', '__' or '-'",
            )
    if len(remainder) > NAME_TOTAL_LENGTH_MAX:
        raise _fail(
            text,
            f"the repository name {remainder[:20]}... ({len(remainder)} characters without the registry host) is "
            f"longer than {NAME_TOTAL_LENGTH_MAX} characters",
        )
    return Reference(domain=domain, path=remainder, tag=tag, digest=digest if at else None)


def split_as_written(text: str) -> tuple[str, str | None, str | None]:
    """``(name as written, tag, digest)`` of a valid reference: ``alpine:3.20`` → ``("alpine", "3.20", None)``.

    The name is not normalised: setters markers write the repository as the user spells it.
    Raises `InvalidReference` as `parse_reference` does.
    """
    ref = parse_reference(text)
    name = text.partition("@")[0]
    if ref.tag is not None:
        name = name[: -(len(ref.tag) + 1)]
    return name, ref.tag, ref.digest


def split_image_and_constraint(text: str) -> tuple[str, str | None]:
    """``(repository, what follows its last ':')`` without validating the suffix: Argo CD Image Updater
    writes a version constraint where a tag goes (``nginx:~1.26``, ``app:>=1.0 <2``)."""
    name, at, _digest = text.partition("@")
    colon, slash = name.rfind(":"), name.rfind("/")
    if at or colon <= slash:
        return text, None
    return name[:colon], name[colon + 1 :]


def is_digest(text: str) -> bool:
    """True for a digest Docker accepts (``sha256:`` and 64 lowercase hex digits, sha384, sha512)."""
    try:
        _check_digest(text, text)
    except InvalidReference:
        return False
    return True


def split_tag_or_digest(text: str, name: str = "") -> tuple[str | None, str | None]:
    """``(tag, None)`` or ``(None, digest)`` for what follows a repository (``1.0`` or ``sha256:...``).

    A tag never contains ``:``, a digest always does; either is validated. `name` (the repository)
    only makes the error message say which reference was wrong.
    """
    shown = f"{name}@{text}" if ":" in text else f"{name}:{text}"
    if ":" in text:
        _check_digest(text, shown)
        return None, text
    _check_tag(text, shown)
    return text, None


def parse_repository(text: str) -> Reference:
    """Parse an ``ImageRepository.spec.image``: no scheme, tag or digest allowed (as in Flux)."""
    if isinstance(text, str) and "://" in text:
        scheme = text.split("://", 1)[0]
        raise InvalidReference(
            f"invalid image repository {text!r}: .spec.image value should not start with URL scheme; "
            f"remove '{scheme}://'"
        )
    ref = parse_reference(text)
    if ref.digest is not None:
        raise InvalidReference(
            f"invalid image repository {text!r}: .spec.image value should not contain a digest; remove '@{ref.digest}'"
        )
    if ref.tag is not None:
        raise InvalidReference(
            f"invalid image repository {text!r}: .spec.image value should not contain a tag; remove ':{ref.tag}'"
        )
    return ref
