"""Copy an image between repositories or registries, keeping its digest (`tagpilot copy`, promotions).

What crane, skopeo and regclient do, with the pitfalls of each avoided (shared/reference/promotion.md §3-4):

- The manifest bytes are sent unchanged with their media type, so the digest is preserved and
  signatures stay valid. An index is copied with all of its children (skopeo needs ``--all``); only
  ``platform=`` narrows it to one image, which then has that image's own digest (said in the report).
- Blobs already in the target repository (``HEAD``) are not sent again. Within one registry a blob is
  mounted from the source repository (``POST ...?mount=&from=``, a 201 means no data moved); a 202 or
  another registry means an upload, streamed from the source GET into the target PUT in chunks: memory
  is bounded by the chunk size times the blob concurrency, and nothing touches the disk.
- Order is the guarantee: every blob, then every child manifest (by digest), then cosign signature
  tags (``sha256-<hex>.sig|.att|.sbom``, with ``signatures=True``), and the requested tag last. Any
  failure raises before the tag is written, so the target tag never names an incomplete image.
- Hostile sources are bounded: a blob body longer than its descriptor's size is cut and refused, and
  its digest is checked as it streams (the target registry checks it too).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from tagpilot.errors import InvalidResponse, NotFoundError, RegistryError, RegistryUnavailable
from tagpilot.registry.auth import repository_scope
from tagpilot.registry.client import RegistryClient, RepositoryAccess
from tagpilot.registry.manifest import Descriptor, Manifest, Platform
from tagpilot.registry.reference import Reference

CHUNK = 256 * 1024  # bytes read from the source and written to the target at a time
SIGNATURE_SUFFIXES = ("sig", "att", "sbom")  # cosign's tag scheme: sha256-<hex>.<suffix>
MAX_MANIFESTS = 1000  # an index nesting or fanning out further is refused as hostile


class CopyError(RegistryError):
    """A copy failed; the message names the image, the step and the registry's answer."""


@dataclass
class CopyReport:
    """What a copy did (or, with ``dry_run``, would do); ``to_json`` is `tagpilot copy -o json`."""

    source: str
    target: str
    digest: str = ""
    media_type: str = ""
    same_registry: bool = False
    dry_run: bool = False
    platform: str | None = None
    manifests: list[str] = field(default_factory=list)
    blobs_present: int = 0
    blobs_mounted: int = 0
    blobs_uploaded: int = 0
    bytes_uploaded: int = 0
    signatures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source, "target": self.target, "digest": self.digest, "mediaType": self.media_type,
            "sameRegistry": self.same_registry, "dryRun": self.dry_run, "platform": self.platform,
            "manifests": self.manifests, "blobs": {
                "present": self.blobs_present, "mounted": self.blobs_mounted, "uploaded": self.blobs_uploaded,
                "bytesUploaded": self.bytes_uploaded,
            },
            "signatures": self.signatures, "notes": self.notes,
        }


@dataclass
class _Plan:
    """Everything below the tag: manifests children-first (top last) and the blobs they name."""

    top: Manifest
    manifests: list[Manifest] = field(default_factory=list)
    blobs: dict[str, Descriptor] = field(default_factory=dict)
    signature_tags: list[tuple[str, Manifest]] = field(default_factory=list)


def _target_reference(source: Reference, target: Reference) -> str | None:
    """The tag to write in the target: its own, else the source's; None when copying by digest only."""
    return target.tag or source.tag


def signature_tag(digest: str, suffix: str) -> str:
    """cosign's tag for an artifact of `digest`: ``sha256-<hex>.<suffix>``."""
    algorithm, _, encoded = digest.partition(":")
    return f"{algorithm}-{encoded}.{suffix}"


class ImageCopier:
    """One copy from `source` to `target`; `run()` returns the `CopyReport` or raises `CopyError`."""

    def __init__(
        self,
        client: RegistryClient,
        source: RepositoryAccess,
        target: RepositoryAccess,
        *,
        platform: str | None = None,
        signatures: bool = False,
        dry_run: bool = False,
        blob_concurrency: int = 4,
        attempts: int = 3,
    ) -> None:
        self.client = client
        self.source = source
        self.target = target
        self.platform = Platform.parse(platform) if platform else None
        self.signatures = signatures
        self.dry_run = dry_run
        self.attempts = max(1, attempts)
        # a streamed blob holds a slot on both registries: stay under the per-registry limit
        self._blob_slots = asyncio.Semaphore(max(1, min(blob_concurrency, client.max_concurrency // 2 or 1)))
        src, dst = source.reference, target.reference
        if dst.digest and not src.digest and not dst.tag:
            raise CopyError(f"copy to {dst}: a target by digest needs a source by digest")
        if not (src.tag or src.digest):
            raise CopyError(f"copy from {src}: name a tag or a digest (REPO:TAG or REPO@sha256:...)")
        self.same_registry = src.api_host == dst.api_host
        self.report = CopyReport(
            source=str(src), target=str(dst), same_registry=self.same_registry, dry_run=dry_run,
            platform=str(self.platform) if self.platform else None,
        )

    # -- scopes and names --------------------------------------------------------------------------
    @property
    def _push_scope(self) -> str:
        return repository_scope(self.target.reference.path, "pull,push")

    @property
    def _mount_scope(self) -> str:
        src = self.source.reference.path
        return f"{self._push_scope} {repository_scope(src)}"

    def _what(self, text: str) -> str:
        return f"copy {self.report.source} → {self.report.target}: {text}"

    # -- reading the source ------------------------------------------------------------------------
    async def _read_tree(self) -> _Plan:
        src = self.source.reference
        ref = src.digest or src.tag
        assert ref is not None
        try:
            top = await self.client.get_manifest(self.source, ref)
        except NotFoundError as exc:
            raise CopyError(self._what(f"the source image does not exist ({exc})")) from None
        if self.platform is not None:
            top = await self._pick_platform(top)
        plan = _Plan(top=top)
        await self._collect(top, plan, depth=0)
        if self.signatures:
            await self._collect_signatures(plan)
        return plan

    async def _pick_platform(self, index: Manifest) -> Manifest:
        assert self.platform is not None
        if not index.is_index:
            raise CopyError(self._what(f"--platform {self.platform}: the source is a single image, not an index; "
                                       "drop --platform"))
        children = [d for d in index.manifests if not d.is_attestation]
        for child in children:
            if child.platform is not None and child.platform.matches(self.platform):
                manifest = await self.client.get_manifest(self.source, child.digest)
                self.report.notes.append(
                    f"--platform {self.platform}: copied the {child.platform} image {child.digest}, not the index "
                    f"{index.digest} (its digest differs)"
                )
                return manifest
        have = ", ".join(sorted({str(d.platform) for d in children if d.platform})) or "none"
        raise CopyError(self._what(f"the index has no {self.platform} image (it has: {have})"))

    async def _collect(self, manifest: Manifest, plan: _Plan, depth: int) -> None:
        """Children before parents: `plan.manifests` ends with `manifest`."""
        if depth > 3 or len(plan.manifests) >= MAX_MANIFESTS:
            raise CopyError(self._what("the index nests or fans out too far (refused as hostile)"))
        if manifest.is_index:
            children = await asyncio.gather(
                *(self.client.get_manifest(self.source, d.digest) for d in manifest.manifests)
            )
            for child in children:
                await self._collect(child, plan, depth + 1)
        else:
            for blob in (manifest.config, *manifest.layers):
                if blob is not None:
                    plan.blobs.setdefault(blob.digest, blob)
        if all(m.digest != manifest.digest for m in plan.manifests):
            plan.manifests.append(manifest)

    async def _collect_signatures(self, plan: _Plan) -> None:
        """cosign's tags for the copied manifests (the top one and, for an index, each child)."""
        tags = [signature_tag(m.digest, s) for m in plan.manifests for s in SIGNATURE_SUFFIXES]

        async def fetch(tag: str) -> tuple[str, Manifest] | None:
            try:
                return tag, await self.client.get_manifest(self.source, tag)
            except NotFoundError:
                return None

        for found in await asyncio.gather(*(fetch(t) for t in tags)):
            if found is None:
                continue
            tag, manifest = found
            if manifest.is_index:
                raise CopyError(self._what(f"signature tag {tag} is an index; only image manifests are copied"))
            for blob in (manifest.config, *manifest.layers):
                if blob is not None:
                    plan.blobs.setdefault(blob.digest, blob)
            plan.signature_tags.append((tag, manifest))

    # -- blobs --------------------------------------------------------------------------------------
    async def _blob_present(self, digest: str) -> bool:
        path = f"/v2/{self.target.reference.path}/blobs/{digest}"
        response = await self.client.send(
            self.target, "HEAD", path, scope=self._push_scope, what=f"checking blob {digest}",
            ok=(200, 404),
        )
        return response.status == 200

    async def _copy_blob(self, blob: Descriptor) -> None:
        async with self._blob_slots:
            if await self._blob_present(blob.digest):
                self.report.blobs_present += 1
                return
            if self.dry_run:
                if self.same_registry:
                    self.report.blobs_mounted += 1
                else:
                    self.report.blobs_uploaded += 1
                    self.report.bytes_uploaded += blob.size
                return
            location = await self._start_upload(blob)
            if location is None:
                self.report.blobs_mounted += 1
                return
            for attempt in range(self.attempts):
                try:
                    await self._stream_blob(blob, location)
                    break
                except RegistryUnavailable:
                    if attempt + 1 >= self.attempts:
                        raise
                    location = await self._start_upload(blob, mount=False) or location
            self.report.blobs_uploaded += 1
            self.report.bytes_uploaded += blob.size

    async def _start_upload(self, blob: Descriptor, *, mount: bool = True) -> str | None:
        """An upload session's location; None when the registry mounted the blob (201)."""
        path = f"/v2/{self.target.reference.path}/blobs/uploads/"
        scope = self._push_scope
        if mount and self.same_registry:
            path += f"?mount={blob.digest}&from={self.source.reference.path}"
            scope = self._mount_scope
        response = await self.client.send(
            self.target, "POST", path, scope=scope, what=f"starting the upload of {blob.digest}",
            ok=(201, 202), headers={"Content-Length": "0"}, content=b"",
        )
        if response.status == 201:
            return None
        location = response.headers.get("location")
        if not location:
            raise InvalidResponse(self._what(f"{self.target.reference.api_host} gave no upload location"))
        return location

    async def _stream_blob(self, blob: Descriptor, location: str) -> None:
        """GET from the source, PUT to the target, chunk by chunk; size and digest checked on the way."""
        src_path = f"/v2/{self.source.reference.path}/blobs/{blob.digest}"
        algorithm, _, expected = blob.digest.partition(":")
        if algorithm not in ("sha256", "sha384", "sha512"):
            raise CopyError(self._what(f"blob {blob.digest}: unsupported digest algorithm"))
        url = httpx.URL(await self.client.url_for(self.target, location)).copy_merge_params({"digest": blob.digest})
        what_get = f"reading blob {blob.digest}"
        async with self.client.stream(
            self.source, "GET", src_path, scope=repository_scope(self.source.reference.path), what=what_get,
            follow_redirects=True,
        ) as source:
            hasher = hashlib.new(algorithm)
            sent = 0

            async def body() -> AsyncIterator[bytes]:
                nonlocal sent
                async for chunk in source.aiter_raw(CHUNK):
                    sent += len(chunk)
                    if sent > blob.size:
                        raise CopyError(self._what(
                            f"blob {blob.digest}: the source sent more than its {blob.size} bytes; refused"
                        ))
                    hasher.update(chunk)
                    yield chunk
                if sent != blob.size or hasher.hexdigest() != expected:
                    raise CopyError(self._what(
                        f"blob {blob.digest}: the source sent {sent} of {blob.size} bytes or other content "
                        "(interrupted or corrupt)"
                    ))

            headers = {"Content-Type": "application/octet-stream", "Content-Length": str(blob.size)}
            try:
                async with self.client.stream(
                    self.target, "PUT", str(url), scope=self._push_scope, what=f"writing blob {blob.digest}",
                    ok=(201, 204), headers=headers, content=body(),
                ):
                    pass
            except httpx.HTTPError as exc:  # the body generator failing surfaces through httpx
                raise RegistryUnavailable(self._what(f"writing blob {blob.digest}: {type(exc).__name__}")) from None

    # -- manifests ----------------------------------------------------------------------------------
    async def _put_manifest(self, manifest: Manifest, reference: str) -> None:
        path = f"/v2/{self.target.reference.path}/manifests/{reference}"
        response = await self.client.send(
            self.target, "PUT", path, scope=self._push_scope, what=f"writing manifest {reference}",
            ok=(201, 200), headers={"Content-Type": manifest.media_type}, content=manifest.body,
        )
        written = response.headers.get("docker-content-digest", "").strip()
        if written and written != manifest.digest:
            raise CopyError(self._what(
                f"{self.target.reference.api_host} stored manifest {reference} as {written}, not {manifest.digest}"
            ))

    async def _manifest_present(self, digest: str) -> bool:
        path = f"/v2/{self.target.reference.path}/manifests/{digest}"
        response = await self.client.send(
            self.target, "HEAD", path, scope=self._push_scope, what=f"checking manifest {digest}",
            ok=(200, 404), accept=", ".join((
                "application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json",
                "application/vnd.docker.distribution.manifest.v2+json",
                "application/vnd.docker.distribution.manifest.list.v2+json",
            )),
        )
        return response.status == 200

    # -- the whole copy -----------------------------------------------------------------------------
    async def run(self) -> CopyReport:
        """Copy (or plan, with ``dry_run``); raise `CopyError` with the failing step, leaving no tag."""
        try:
            return await self._run()
        except CopyError as exc:
            message = str(exc)
            if "nothing was tagged" not in message:
                message += "; nothing was tagged in the target"
            raise CopyError(message) from None
        except RegistryError as exc:
            raise CopyError(self._what(f"{exc}; nothing was tagged in the target")) from None

    async def _run(self) -> CopyReport:
        plan = await self._read_tree()
        self.report.digest = plan.top.digest
        self.report.media_type = plan.top.media_type
        self.report.manifests = [m.digest for m in plan.manifests]
        self.report.signatures = [tag for tag, _m in plan.signature_tags]
        dst = self.target.reference
        if dst.digest and dst.digest != plan.top.digest:
            raise CopyError(self._what(f"the source is {plan.top.digest}, not the target digest {dst.digest}"))
        await self._gather(self._copy_blob(b) for b in plan.blobs.values())
        if self.dry_run:
            return self.report
        # children by digest (those already there are skipped), then signatures, then the tag
        below = [m for m in plan.manifests if m is not plan.top]
        missing = [m for m, present in zip(below, await self._gather(
            self._manifest_present(m.digest) for m in below
        ), strict=True) if not present]
        await self._gather(self._put_manifest(m, m.digest) for m in missing)
        for tag, manifest in plan.signature_tags:
            await self._put_manifest(manifest, tag)
        await self._put_manifest(plan.top, _target_reference(self.source.reference, dst) or plan.top.digest)
        return self.report

    @staticmethod
    async def _gather(coroutines: Any) -> list[Any]:
        """Run all; on the first failure cancel the rest and raise it (no upload keeps going unseen)."""
        tasks = [asyncio.ensure_future(c) for c in coroutines]
        if not tasks:
            return []
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise


async def copy_image(
    client: RegistryClient,
    source: RepositoryAccess,
    target: RepositoryAccess,
    **options: Any,
) -> CopyReport:
    """Copy `source` (a tag or digest) to `target` (REPO, REPO:TAG); see `ImageCopier`."""
    return await ImageCopier(client, source, target, **options).run()


__all__ = ["CHUNK", "CopyError", "CopyReport", "ImageCopier", "copy_image", "signature_tag"]
