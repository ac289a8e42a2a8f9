"""The policy flags `policy eval` and `policy test` share, turned into a Flux or an Argo policy.

Both commands take the same options (`--semver`/`--alphabetical`/`--numerical` for a Flux
ImagePolicy, `--strategy` and its `--constraint`/`--allow-tags`/`--ignore-tags`/`--platforms` for
Argo CD Image Updater). One function validates them, so the two commands cannot drift apart in what
they accept: mixing the two products' options is a misuse (exit 2), never silently ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, TypedDict, Unpack

import typer

from tagpilot.errors import ConfigError
from tagpilot.policy import ArgoPolicy, FluxPolicy

__all__ = ["STRATEGY_NAMES", "PolicyFlags", "UsageError", "policies"]


class PolicyFlags(TypedDict, total=False):
    """The policy options, as both commands receive them (one definition: `**flags: Unpack[PolicyFlags]`)."""

    semver: str | None
    alphabetical: str | None
    numerical: str | None
    strategy: str | None
    constraint: str | None
    allow_tags: str | None
    ignore_tags: Sequence[str]
    platforms: str | None
    pattern: str | None
    extract: str | None


# The typer options of those flags, shared by `policy eval` and `policy test`.
SemverOption = Annotated[str | None, typer.Option("--semver", help="Flux semver range (Masterminds syntax).")]
AlphabeticalOption = Annotated[str | None, typer.Option("--alphabetical", help="Flux alphabetical order: asc|desc.")]
NumericalOption = Annotated[str | None, typer.Option("--numerical", help="Flux numerical order: asc|desc.")]
StrategyOption = Annotated[str | None, typer.Option(
    "--strategy", help="Argo update strategy: semver|newest-build|digest|alphabetical.")]
ConstraintOption = Annotated[str | None, typer.Option(
    "--constraint", help="Argo: semver constraint, or the tag to follow for digest.")]
AllowTagsOption = Annotated[str | None, typer.Option("--allow-tags", help="Argo: 'any' or 'regexp:<re>'.")]
IgnoreTagsOption = Annotated[list[str], typer.Option("--ignore-tags", help="Argo: glob to ignore (repeatable).")]
PlatformsOption = Annotated[str | None, typer.Option(
    "--platforms", help="Argo: platforms for newest-build, e.g. linux/amd64,linux/arm64/v8.")]
PatternOption = Annotated[str | None, typer.Option("--pattern", help="Flux filterTags.pattern (RE2).")]
ExtractOption = Annotated[str | None, typer.Option("--extract", help="Flux filterTags.extract ($1, ${name}).")]

STRATEGY_NAMES = ("semver", "newest-build", "digest", "alphabetical", "latest", "name")
_CHOICES = "--semver, --alphabetical, --numerical, --strategy"


class UsageError(ConfigError):
    """A misuse of the command line's policy options: the command exits 2, like invalid configuration."""


def _platforms(text: str) -> list[str]:
    items = [p.strip() for p in text.split(",") if p.strip()]
    for item in items:
        try:
            from tagpilot.registry.manifest import Platform  # the registry client is heavy to import

            Platform.parse(item)
        except ValueError as exc:
            raise UsageError(f"--platforms: {exc}") from None
    return items


def policies(
    *,
    tag_part: str | None = None,
    default_strategy: str | None = "semver",
    default_platforms: str = "",
    **flags: Unpack[PolicyFlags],
) -> tuple[FluxPolicy | None, ArgoPolicy | None]:
    """(Flux policy, None) or (None, Argo policy) from the command line's options.

    `tag_part` is the tag written in IMAGE (`nginx:~1.26`): Argo's constraint, meaningless to Flux.
    `default_strategy` is the Argo strategy when no policy option is given; None makes one required
    (`policy eval` has no image to default from). `default_platforms` applies when `--platforms` is
    absent: `policy test` asks the registry for its own platform, `policy eval` filters nothing.
    Raises `UsageError` on a misuse, a `PolicyError` for a bad range or pattern.
    """
    semver, alphabetical, numerical = flags.get("semver"), flags.get("alphabetical"), flags.get("numerical")
    strategy, constraint, allow_tags = flags.get("strategy"), flags.get("constraint"), flags.get("allow_tags")
    ignore_tags, platforms = flags.get("ignore_tags") or (), flags.get("platforms")
    pattern, extract = flags.get("pattern"), flags.get("extract")
    flux_given = [n for n, v in (("--semver", semver), ("--alphabetical", alphabetical),
                                 ("--numerical", numerical)) if v is not None]
    chosen = len(flux_given) + (strategy is not None)
    if chosen > 1 or (chosen == 0 and default_strategy is None):
        raise UsageError(f"give {'at most' if default_strategy is not None else 'exactly'} one of {_CHOICES}")
    if flux_given:
        argo_only = [n for n, v in (("--constraint", constraint), ("--allow-tags", allow_tags),
                                    ("--platforms", platforms)) if v is not None]
        if ignore_tags:
            argo_only.append("--ignore-tags")
        if argo_only:
            raise UsageError(f"{', '.join(argo_only)}: Argo options; with {flux_given[0]} use --pattern/--extract")
        if tag_part is not None:
            raise UsageError(f"{flux_given[0]} takes a repository without a tag (got the tag part {tag_part!r})")
        if semver is not None:
            return FluxPolicy.semver(semver, pattern=pattern, extract=extract), None
        if alphabetical is not None:
            return FluxPolicy.alphabetical(alphabetical, pattern=pattern, extract=extract), None
        return FluxPolicy.numerical(numerical or "asc", pattern=pattern, extract=extract), None
    if pattern is not None or extract is not None:
        raise UsageError("--pattern/--extract are Flux options (with --semver, --alphabetical or --numerical); "
                         "use --allow-tags/--ignore-tags with --strategy")
    name = (strategy or default_strategy or "semver").strip().lower()
    if name not in STRATEGY_NAMES:
        raise UsageError(f"--strategy {strategy!r}: must be one of {', '.join(STRATEGY_NAMES)}")
    if constraint is not None and tag_part is not None:
        raise UsageError(f"give the constraint either as IMAGE's tag ({tag_part!r}) or with --constraint, not both")
    return None, ArgoPolicy(
        strategy=name,
        constraint=constraint if constraint is not None else (tag_part or ""),
        allow_tags=allow_tags or "",
        ignore_tags=list(ignore_tags),
        platforms=_platforms(platforms if platforms is not None else default_platforms),
    )
