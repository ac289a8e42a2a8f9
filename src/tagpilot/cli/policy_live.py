"""`tagpilot policy test IMAGE`: Argo CD Image Updater's `test` command, against the live registry.

`policy eval` answers "which tag would this policy pick from these tags?"; `policy test` asks the
registry for the tags (and, for `newest-build`, the image configs; for `digest`, the current digest)
and answers the same question for real, with the same rendering of the choice and its explanation.

As in Argo, IMAGE may carry the semver constraint (or, for `digest`, the tag to follow) where the
tag goes: `nginx:~1.26`. Credentials come from the Docker config (`$DOCKER_CONFIG` or
`~/.docker/config.json`) like a scan's, or from `--credentials env:VAR` where VAR holds
`user:password`: a password never travels in argv, where `ps` would show it to every local user.

The work is in `policy_test` (plain arguments in, `(exit code, text)` out); `register` wires it into
the `tagpilot policy` typer group.
"""

from __future__ import annotations

import asyncio
import os
import platform as host_platform
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Unpack

import typer

from tagpilot.cli.common import StateOption, open_store
from tagpilot.cli.policy_eval import explain_lines
from tagpilot.cli.policy_options import (
    STRATEGY_NAMES,
    AllowTagsOption,
    AlphabeticalOption,
    ConstraintOption,
    ExtractOption,
    IgnoreTagsOption,
    NumericalOption,
    PatternOption,
    PlatformsOption,
    PolicyFlags,
    SemverOption,
    StrategyOption,
    UsageError,
    policies,
)
from tagpilot.errors import CredentialsError, InvalidReference, TagpilotError
from tagpilot.policy import ArgoPolicy, FluxPolicy, Selection, SelectionFailed
from tagpilot.registry.credentials import Credentials
from tagpilot.registry.reference import Reference, parse_reference, parse_repository, split_image_and_constraint

__all__ = ["STRATEGY_NAMES", "default_platform", "policy_test", "register"]

USAGE = 2
# Python's names for machine architectures → the OCI/Go names registries use.
_ARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm/v7",
    "armv6l": "arm/v6",
    "i386": "386",
    "i686": "386",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}
_Usage = UsageError  # the name this module's callers and tests know


def default_platform() -> str:
    """`linux/<this machine's architecture>`: Argo's `test` defaults to its own platform.

    The OS is always linux: tagpilot may run on a laptop, but the images it chooses run on cluster
    nodes, and a `darwin/arm64` default would find no image at all.
    """
    machine = host_platform.machine().lower()
    return f"linux/{_ARCH.get(machine, machine or 'amd64')}"


def _split_image(image: str) -> tuple[Reference, str | None]:
    """(repository, tag part). The tag part may be a constraint Docker would not take as a tag."""
    try:
        ref = parse_reference(image)
    except InvalidReference:
        # Argo writes the semver constraint where the tag goes (`nginx:~1.26`, `app:>=1.0 <2`):
        # only the part before it is an image reference.
        repository, constraint = split_image_and_constraint(image)
        if constraint is None:
            raise
        return parse_repository(repository), constraint
    if ref.digest is not None:
        raise _Usage(f"IMAGE {image!r} is pinned to a digest; give a repository, a tag or a constraint")
    return ref.repository(), ref.tag


def _credentials(spec: str | None, environ: Mapping[str, str]) -> tuple[Credentials | None, str | None]:
    """(credentials, where they came from) for `--credentials`; None means the Docker config."""
    if spec is None:
        return None, None
    kind, sep, var = spec.partition(":")
    if not sep or kind != "env" or not var:
        # never repeat the value: it may be the password itself, typed where it should not be
        raise _Usage(
            "--credentials must be env:VAR, naming an environment variable that holds user:password "
            "(passwords on the command line are visible to every user through ps; the value given is not shown)"
        )
    value = environ.get(var)
    if value is None:
        raise CredentialsError(f"--credentials env:{var}: the environment variable {var} is not set")
    username, sep, password = value.partition(":")
    if not sep or not username:
        raise CredentialsError(f"--credentials env:{var}: the environment variable {var} must hold user:password")
    return Credentials(username=username, password=password), f"environment variable {var}"


async def _run(
    access: Any, flux: FluxPolicy | None, argo: ArgoPolicy | None, explain: bool, state: Path | None
) -> Selection:
    with open_store(state) as store:
        from tagpilot.engine.live_policy import evaluate_live
        from tagpilot.registry.client import RegistryClient

        async with RegistryClient(cache=store) as client:
            return await evaluate_live(client, access, flux or argo, explain=explain)


def policy_test(
    image: str,
    *,
    credentials: str | None = None,
    insecure: bool = False,
    explain: bool = False,
    state: Path | None = None,
    environ: Mapping[str, str] | None = None,
    **flags: Unpack[PolicyFlags],
) -> tuple[int, str]:
    """Scan IMAGE's repository and select a tag: (0, choice [+ explanation]), (1, error [+ explanation])
    for a policy, credential or registry failure, (2, error) for a misuse of the options."""
    try:
        ref, tag_part = _split_image(image)
        flux, argo = policies(tag_part=tag_part, default_platforms=default_platform(), **flags)
        creds, source = _credentials(credentials, os.environ if environ is None else environ)
    except (_Usage, InvalidReference) as exc:
        return USAGE, f"error: {exc}"
    except TagpilotError as exc:  # a bad range or pattern, an unset variable
        return exc.exit_code, f"error: {exc}"
    from tagpilot.registry.client import RepositoryAccess

    access = RepositoryAccess(reference=ref, credentials=creds, insecure=insecure, credentials_source=source,
                              credentials_hint="pass --credentials env:VAR (VAR holding user:password) or run "
                              "'docker login'")
    try:
        selection = asyncio.run(_run(access, flux, argo, explain, state))
    except SelectionFailed as exc:
        return 1, "\n".join([f"error: {ref.name}: {exc}", *(explain_lines(exc.verdicts) if explain else [])])
    except TagpilotError as exc:
        return 1, f"error: {exc}"
    out = [selection.value if argo is not None and selection.value != selection.tag else selection.tag]
    if explain:
        out.extend(explain_lines(selection.verdicts))
    return 0, "\n".join(out)


def register(policy_app: typer.Typer) -> None:
    """Add `test` to the `tagpilot policy` group."""

    @policy_app.command("test")
    def test_command(
        image: str = typer.Argument(
            ..., metavar="IMAGE", help="Repository, or repository:CONSTRAINT (nginx:~1.26, app:latest)."
        ),
        semver: SemverOption = None,
        alphabetical: AlphabeticalOption = None,
        numerical: NumericalOption = None,
        strategy: StrategyOption = None,  # default: semver
        constraint: ConstraintOption = None,  # default: IMAGE's tag part
        allow_tags: AllowTagsOption = None,
        ignore_tags: IgnoreTagsOption = [],  # noqa: B006 - typer needs a literal default
        platforms: PlatformsOption = None,  # default: linux on this machine's architecture
        pattern: PatternOption = None,
        extract: ExtractOption = None,
        credentials: str | None = typer.Option(
            None, "--credentials", help="env:VAR, VAR holding user:password (default: the Docker config)."
        ),
        insecure: bool = typer.Option(False, "--insecure", help="Plain HTTP to the registry."),
        explain: bool = typer.Option(False, "--explain", help="Say why every other tag lost."),
        state: StateOption = None,
    ) -> None:
        """Scan IMAGE's registry now and print the tag the policy selects (tag@digest for digest).

        Defaults: --strategy semver, --constraint IMAGE's tag, --platforms linux on this machine's
        architecture. Exit 0 on a selection, 1 when no tag qualifies or the registry fails, 2 on misuse.
        """
        code, text = policy_test(
            image, semver=semver, alphabetical=alphabetical, numerical=numerical, strategy=strategy,
            constraint=constraint, allow_tags=allow_tags, ignore_tags=ignore_tags, platforms=platforms,
            pattern=pattern, extract=extract, credentials=credentials, insecure=insecure, explain=explain,
            state=state,
        )
        if text:
            print(text, file=sys.stderr if code else sys.stdout, flush=True)
        raise typer.Exit(code)
