"""Content-addressed caches for manifests and config blobs.

Anything fetched by digest can never change, so it is kept by digest and a restart refetches
nothing that cannot have changed (tags are resolved to digests with a cheap HEAD first). The store
(SQLite) implements `MetadataCache` for the daemon; the two here serve the CLI and tests. Both verify
the digest on read, so a corrupted entry is a miss rather than wrong metadata.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections import OrderedDict
from pathlib import Path
from typing import Protocol

import re2

from tagpilot.errors import StoreError
from tagpilot.registry.manifest import sha256_digest

_SHA256 = re2.compile(r"sha256:[a-f0-9]{64}")


class MetadataCache(Protocol):
    """Bytes by digest. `put` is only called with bytes whose digest was verified."""

    def get(self, digest: str) -> bytes | None: ...

    def put(self, digest: str, media_type: str, body: bytes) -> None: ...


class MemoryCache:
    """An in-process LRU bounded by total bytes; counts hits and misses for tests and metrics."""

    def __init__(self, max_bytes: int = 64 << 20) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, tuple[str, bytes]] = OrderedDict()
        self._size = 0
        self.hits = 0
        self.misses = 0

    def get(self, digest: str) -> bytes | None:
        item = self._items.get(digest)
        if item is None:
            self.misses += 1
            return None
        self._items.move_to_end(digest)
        self.hits += 1
        return item[1]

    def put(self, digest: str, media_type: str, body: bytes) -> None:
        if len(body) > self.max_bytes:
            return
        old = self._items.pop(digest, None)
        if old is not None:
            self._size -= len(old[1])
        self._items[digest] = (media_type, body)
        self._size += len(body)
        while self._size > self.max_bytes:
            _, (_, evicted) = self._items.popitem(last=False)
            self._size -= len(evicted)

    def media_type(self, digest: str) -> str | None:
        item = self._items.get(digest)
        return item[0] if item else None

    def __len__(self) -> int:
        return len(self._items)


class DiskCache:
    """One file per sha256 digest under a directory, written atomically (temp file + rename)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        try:
            (self.directory / "sha256").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create metadata cache directory {self.directory}: {exc.strerror}") from None

    def _path(self, digest: str) -> Path | None:
        if not _SHA256.fullmatch(digest):
            return None  # other algorithms are simply not cached
        return self.directory / "sha256" / digest.split(":", 1)[1]

    def get(self, digest: str) -> bytes | None:
        path = self._path(digest)
        if path is None:
            return None
        try:
            body = path.read_bytes()
        except OSError:
            return None
        if sha256_digest(body) != digest:
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        return body

    def put(self, digest: str, media_type: str, body: bytes) -> None:
        path = self._path(digest)
        if path is None or path.exists():
            return
        try:
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as out:
                out.write(body)
            os.replace(tmp, path)
        except OSError:
            # A cache that cannot be written is a performance problem, not a failure.
            with contextlib.suppress(OSError, UnboundLocalError):
                os.unlink(tmp)
