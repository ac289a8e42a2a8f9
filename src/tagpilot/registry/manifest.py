"""Manifests, indexes and image configs: parsing the OCI and Docker v2 formats into plain values.

Pure functions over bytes, so they are tested with tables and never touch the network. Only what
tagpilot needs is kept: descriptors (digest, size, platform), the config descriptor, and from the
config blob the creation time, platform and labels (what Argo CD Image Updater's ``newest-build``
strategy and label filters use).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import re2

from tagpilot.errors import InvalidResponse
from tagpilot.jsonsafe import JSONTooDeep, loads_bounded
from tagpilot.registry.reference import is_digest

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_TYPES = (OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST)
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
ACCEPT_MANIFESTS = ", ".join(MANIFEST_TYPES)

_RFC3339 = re2.compile(r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:?\d{2})?")


def sha256_digest(data: bytes) -> str:
    """The OCI digest of exact bytes."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def verify_digest(expected: str, data: bytes, what: str) -> None:
    """Raise `InvalidResponse` unless `data` hashes to `expected` (sha256/sha384/sha512)."""
    algorithm, _, encoded = expected.partition(":")
    if algorithm not in ("sha256", "sha384", "sha512"):
        raise InvalidResponse(f"{what}: cannot verify digest algorithm {algorithm!r}")
    actual = hashlib.new(algorithm, data).hexdigest()
    if actual != encoded:
        raise InvalidResponse(f"{what}: content does not match its digest {expected} (got {algorithm}:{actual})")


@dataclass(frozen=True)
class Platform:
    """An OCI platform; `str` gives ``os/architecture[/variant]`` as Docker prints it."""

    os: str
    architecture: str
    variant: str | None = None

    def __str__(self) -> str:
        text = f"{self.os}/{self.architecture}"
        return f"{text}/{self.variant}" if self.variant else text

    @classmethod
    def parse(cls, text: str) -> Platform:
        """Parse ``os/arch[/variant]`` (``linux/arm64/v8``)."""
        parts = text.strip().lower().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise ValueError(f"platform {text!r} must be os/architecture[/variant]")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)

    def matches(self, wanted: Platform) -> bool:
        """Does this image platform satisfy `wanted`? A wanted variant must match; arm64 means v8."""
        if (self.os, self.architecture) != (wanted.os, wanted.architecture):
            return False
        if wanted.variant is None:
            return True
        mine = self.variant or ("v8" if self.architecture == "arm64" else None)
        return mine == wanted.variant


@dataclass(frozen=True)
class Descriptor:
    """A content descriptor: what a manifest points at."""

    media_type: str
    digest: str
    size: int
    platform: Platform | None = None
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def is_attestation(self) -> bool:
        """BuildKit attestation manifests (``unknown/unknown``) are not runnable images."""
        return self.annotations.get("vnd.docker.reference.type") == "attestation-manifest" or (
            self.platform is not None and self.platform.os == "unknown"
        )


@dataclass(frozen=True)
class Manifest:
    """A parsed manifest or index, with the digest and exact bytes it was read from."""

    digest: str
    media_type: str
    body: bytes
    config: Descriptor | None = None  # single-image manifests
    layers: tuple[Descriptor, ...] = ()
    manifests: tuple[Descriptor, ...] = ()  # indexes
    annotations: dict[str, str] = field(default_factory=dict)
    subject: str | None = None  # OCI 1.1: the digest this artifact refers to (a signature's image)

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES


@dataclass(frozen=True)
class ImageConfig:
    """The parts of an image config blob tagpilot uses."""

    created: dt.datetime | None
    platform: Platform | None
    labels: dict[str, str]


@dataclass
class ImageMetadata:
    """What a tag points at: its digest (the index digest for multi-arch images) and build facts.

    `created` is the newest creation time among the inspected platforms (as Argo CD Image Updater
    uses it); `labels` come from the first inspected platform.
    """

    digest: str
    media_type: str
    created: dt.datetime | None
    platforms: list[str]
    labels: dict[str, str]
    platform_created: dict[str, dt.datetime | None] = field(default_factory=dict)
    platform_digests: dict[str, str] = field(default_factory=dict)


def _load_json(body: bytes, what: str) -> dict[str, Any]:
    try:
        data = loads_bounded(body)
    except JSONTooDeep as exc:
        raise InvalidResponse(
            f"{what}: the response is nested too deeply (more than {exc.max_depth} levels of arrays/objects); "
            "refused"
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise InvalidResponse(f"{what}: body is not valid JSON{where}") from None
    if not isinstance(data, dict):
        raise InvalidResponse(f"{what}: expected a JSON object, got {type(data).__name__}")
    return data


def _str_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items() if isinstance(v, str | int | float | bool)}


def _platform(value: Any) -> Platform | None:
    if not isinstance(value, dict):
        return None
    os_, arch = value.get("os"), value.get("architecture")
    if not isinstance(os_, str) or not isinstance(arch, str) or not os_ or not arch:
        return None
    variant = value.get("variant")
    return Platform(os_, arch, variant if isinstance(variant, str) and variant else None)


def _descriptor(value: Any, what: str) -> Descriptor:
    if not isinstance(value, dict):
        raise InvalidResponse(f"{what}: a descriptor must be an object")
    digest, size = value.get("digest"), value.get("size", 0)
    if not isinstance(digest, str) or not is_digest(digest):
        raise InvalidResponse(f"{what}: descriptor without a valid digest")
    media_type = value.get("mediaType")
    return Descriptor(
        media_type=media_type if isinstance(media_type, str) else "",
        digest=digest,
        size=size if isinstance(size, int) and not isinstance(size, bool) else 0,
        platform=_platform(value.get("platform")),
        annotations=_str_map(value.get("annotations")),
    )


def parse_manifest(body: bytes, digest: str, content_type: str | None = None, what: str = "manifest") -> Manifest:
    """Parse manifest bytes; the media type comes from the body, else the Content-Type, else the shape."""
    data = _load_json(body, what)
    media_type = data.get("mediaType") if isinstance(data.get("mediaType"), str) else None
    if not media_type and content_type:
        media_type = content_type.split(";", 1)[0].strip()
    if not media_type or media_type not in MANIFEST_TYPES:
        # OCI allows mediaType to be absent; fall back on the shape.
        if "manifests" in data:
            media_type = OCI_INDEX
        elif "config" in data:
            media_type = OCI_MANIFEST
        elif data.get("schemaVersion") == 1:
            raise InvalidResponse(f"{what}: Docker schema 1 manifests are not supported (push it again)")
        else:
            raise InvalidResponse(f"{what}: unsupported manifest media type {media_type!r}")
    annotations = _str_map(data.get("annotations"))
    subject_raw = data.get("subject")
    subject = _descriptor(subject_raw, what).digest if isinstance(subject_raw, dict) else None
    if media_type in INDEX_TYPES:
        raw = data.get("manifests")
        if not isinstance(raw, list):
            raise InvalidResponse(f"{what}: an index must have a 'manifests' list")
        children = tuple(_descriptor(item, what) for item in raw)
        return Manifest(digest, media_type, body, manifests=children, annotations=annotations, subject=subject)
    config = data.get("config")
    if config is None:
        raise InvalidResponse(f"{what}: an image manifest must have a 'config' descriptor")
    layers_raw = data.get("layers") or []
    if not isinstance(layers_raw, list):
        raise InvalidResponse(f"{what}: 'layers' must be a list")
    return Manifest(
        digest,
        media_type,
        body,
        config=_descriptor(config, what),
        layers=tuple(_descriptor(item, what) for item in layers_raw),
        annotations=annotations,
        subject=subject,
    )


def parse_created(value: Any) -> dt.datetime | None:
    """An RFC 3339 time as Go writes it (nanoseconds, ``Z``); Go's zero time and junk give None."""
    if not isinstance(value, str):
        return None
    m = _RFC3339.fullmatch(value.strip())
    if not m:
        return None
    year, month, day, hour, minute, second, frac, zone = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    tz = dt.UTC
    if zone and zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        tz = dt.timezone(sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    try:
        when = dt.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=tz)
    except ValueError:
        return None
    if when.year <= 1:
        return None
    return when.astimezone(dt.UTC)


def parse_config(body: bytes, what: str = "image config") -> ImageConfig:
    """Creation time, platform and labels from an image config blob (OCI or Docker)."""
    data = _load_json(body, what)
    inner = data.get("config")
    labels = _str_map(inner.get("Labels")) if isinstance(inner, dict) else {}
    return ImageConfig(created=parse_created(data.get("created")), platform=_platform(data), labels=labels)
