"""`tagpilot copy SRC DST`: copy an image between repositories or registries, keeping its digest.

The work is `registry/copy.py`'s; this parses the references and flags, takes credentials from the
Docker config and credential helpers (as scans do), and prints the digest (or the plan, with
``--dry-run``). Any failure exits 1 with the step that failed; the target tag is then absent.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

import typer

from tagpilot.cli.common import Output, OutputOption, print_json


def _access(text: str, *, insecure: bool, role: str) -> object:
    from tagpilot.errors import InvalidReference
    from tagpilot.registry.client import RepositoryAccess, TLSSettings
    from tagpilot.registry.reference import parse_reference

    try:
        ref = parse_reference(text)
    except InvalidReference as exc:
        raise typer.BadParameter(f"{role} {text!r}: {exc}") from None
    return RepositoryAccess(
        reference=ref, insecure=insecure, tls=TLSSettings(insecure_skip_verify=True) if insecure else None,
        timeout=120.0, credentials_hint="run 'docker login' for this registry (or configure a credential helper)",
    )


def copy(
    source: Annotated[str, typer.Argument(help="The image to copy: REGISTRY/REPO:TAG or REGISTRY/REPO@sha256:...")],
    target: Annotated[str, typer.Argument(help="Where to: REGISTRY/REPO[:TAG] (no tag: the source's tag).")],
    insecure: Annotated[bool, typer.Option(
        "--insecure", help="Allow plain HTTP and unverified TLS (local registries only).")] = False,
    all_platforms: Annotated[bool, typer.Option(
        "--all-platforms", help="Copy an index with every platform image (the default).")] = False,
    platform: Annotated[str | None, typer.Option(
        "--platform", help="Copy only this platform's image of an index (os/arch[/variant]); its digest differs.",
    )] = None,
    signatures: Annotated[bool, typer.Option(
        "--signatures", help="Also copy cosign signature, attestation and SBOM tags (sha256-<hex>.sig/.att/.sbom).",
    )] = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Say what would be mounted, uploaded and tagged; write nothing.")] = False,
    output: OutputOption = Output.table,
) -> None:
    """Copy an image, manifest bytes unchanged (the digest is kept); print the digest.

    Within one registry the blobs are mounted (no data moved); between registries they are streamed
    from one to the other (bounded memory, nothing on disk). Blobs the target has are not sent again.
    The tag is written last: when anything fails the command exits 1 and the target tag is absent.
    """
    if all_platforms and platform:
        raise typer.BadParameter("--all-platforms and --platform exclude each other; pick one")
    if platform is not None:
        from tagpilot.registry.manifest import Platform

        try:
            Platform.parse(platform)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    report = asyncio.run(_copy(source, target, insecure, platform, signatures, dry_run))
    if output == Output.json:
        print_json(report.to_json())
        return
    if output == Output.yaml:
        import yaml

        sys.stdout.write(yaml.safe_dump(report.to_json(), sort_keys=False))
        return
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    blobs = (f"{report.blobs_mounted} mounted, {report.blobs_uploaded} uploaded ({report.bytes_uploaded} bytes), "
             f"{report.blobs_present} already there")
    verb = "would copy" if dry_run else "copied"
    print(f"{verb} {report.source} -> {report.target}: {len(report.manifests)} manifest(s); blobs: {blobs}"
          + (f"; signatures: {', '.join(report.signatures)}" if report.signatures else ""), file=sys.stderr)
    print(report.digest)


async def _copy(source: str, target: str, insecure: bool, platform: str | None, signatures: bool,
                dry_run: bool) -> object:
    from tagpilot.registry.client import RegistryClient
    from tagpilot.registry.copy import copy_image

    src = _access(source, insecure=insecure, role="source")
    dst = _access(target, insecure=insecure, role="target")
    async with RegistryClient() as client:
        return await copy_image(client, src, dst, platform=platform, signatures=signatures,  # type: ignore[arg-type]
                                dry_run=dry_run)


def register(app: typer.Typer) -> None:
    app.command("copy")(copy)
