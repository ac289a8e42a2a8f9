"""`tagpilot policy eval`: run a policy over a list of tags, without a registry.

The work is in plain functions (`eval_policy`, `eval_batch`) that take text and return
`(exit_code, output)`, so they are tested without a terminal; `register` wires them into the
`tagpilot policy` typer group (the lead mounts it in the main CLI).

Tag input: one tag a line. For Argo's `newest-build`, a line is `tag<TAB>created[<TAB>platforms]`
(RFC 3339 time, comma-separated `os/arch[/variant]`); for `digest`, `tag<TAB>sha256:...`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Unpack

import typer

from tagpilot.cli.policy_options import (
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
from tagpilot.errors import TagpilotError
from tagpilot.policy import (
    ArgoPolicy,
    Selection,
    SelectionFailed,
    TagMetadata,
    TagVerdict,
    parse_flux_policy,
    select_argo,
    select_flux,
)
from tagpilot.policy.argo import argo_strategy

__all__ = ["eval_batch", "eval_policy", "register"]

USAGE = 2


def explain_lines(verdicts: Sequence[TagVerdict] | None) -> list[str]:
    if not verdicts:
        return []
    width = max(len(v.outcome) for v in verdicts)
    return [f"  {v.outcome:<{width}}  {v.tag}  {v.detail}" for v in verdicts]


def _parse_lines(text: str) -> list[list[str]]:
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if line:
            rows.append([p.strip() for p in line.split("\t")])
    return rows


def _argo_inputs(
    rows: list[list[str]], strategy: str, constraint: str
) -> tuple[list[str], dict[str, TagMetadata] | None, str | None]:
    tags = [r[0] for r in rows]
    if strategy in ("newest-build", "latest"):
        metadata: dict[str, TagMetadata] = {}
        for r in rows:
            if len(r) < 2 or not r[1]:
                raise ValueError(f"tag '{r[0]}': newest-build needs lines 'tag<TAB>created-RFC3339[<TAB>platforms]'")
            try:
                created = datetime.fromisoformat(r[1])
            except ValueError:
                raise ValueError(f"tag '{r[0]}': '{r[1]}' is not an RFC 3339 time") from None
            platforms = [p for p in r[2].split(",") if p] if len(r) > 2 else []
            metadata[r[0]] = TagMetadata(created, platforms)
        return tags, metadata, None
    if strategy == "digest":
        digest = next((r[1] for r in rows if r[0] == constraint and len(r) > 1 and r[1]), None)
        if digest is not None and ":" not in digest:
            raise ValueError(f"tag '{constraint}': '{digest}' is not a digest (want sha256:...)")
        if digest is None and constraint in tags:
            raise ValueError(f"tag '{constraint}': digest needs the line 'tag<TAB>sha256:...'")
        return tags, None, digest
    return tags, None, None


def eval_policy(*, tags_text: str, explain: bool = False, **flags: Unpack[PolicyFlags]) -> tuple[int, str]:
    """Run one policy; (0, selected tag [+ explanation]) or (1, error [+ explanation]); 2 on misuse."""
    rows = _parse_lines(tags_text)
    try:
        flux, argo = policies(default_strategy=None, **flags)
        if argo is not None:
            tags, metadata, digest = _argo_inputs(rows, argo.strategy, argo.constraint)
            sel: Selection = select_argo(tags, argo, metadata=metadata, digest=digest, explain=explain)
        else:
            assert flux is not None
            sel = select_flux([r[0] for r in rows], flux, explain=explain)
    except UsageError as e:
        return USAGE, f"error: {e}"
    except SelectionFailed as e:
        return 1, "\n".join([f"error: {e}", *(explain_lines(e.verdicts) if explain else [])])
    except TagpilotError as e:
        return 1, f"error: {e}"
    except ValueError as e:
        return 1, f"error: {e}"
    out = [sel.value if flags.get("strategy") is not None and sel.value != sel.tag else sel.tag]
    if explain:
        out.extend(explain_lines(sel.verdicts))
    return 0, "\n".join(out)


ARGO_KEYS = ("strategy", "constraint", "allowTags", "ignoreTags")


def _argo_batch_policy(spec: object, warn: Callable[[str], None] | None) -> ArgoPolicy:
    """The `argo` object of a batch line as an `ArgoPolicy`; ValueError for anything malformed."""
    if not isinstance(spec, dict):
        raise ValueError('"argo" must be an object')
    unknown = sorted(set(spec) - set(ARGO_KEYS))
    if unknown:
        raise ValueError(f'"argo" has unknown field(s) {", ".join(unknown)}; known: {", ".join(ARGO_KEYS)}')
    for key in ("strategy", "constraint", "allowTags"):
        if spec.get(key) is not None and not isinstance(spec[key], str):
            raise ValueError(f'"argo.{key}" must be a string')
    ignore = spec.get("ignoreTags") or []
    if not isinstance(ignore, list) or not all(isinstance(g, str) for g in ignore):
        raise ValueError('"argo.ignoreTags" must be a list of strings')
    strategy, warning = argo_strategy(spec.get("strategy"))
    if warning and warn is not None:
        warn(f"warning: {warning}")  # upstream falls back to semver and logs it; the result line keeps its shape
    if strategy in ("newest-build", "digest"):
        raise ValueError(f"strategy {strategy!r} needs registry metadata (image created dates, digests), which a "
                         "batch line does not carry; use `tagpilot policy eval --strategy "
                         f"{strategy}` with tag<TAB>... lines or `tagpilot policy test IMAGE`")
    return ArgoPolicy(strategy=strategy, constraint=spec.get("constraint") or "",
                      allow_tags=spec.get("allowTags") or "", ignore_tags=list(ignore))


def _batch_line(item: object, warn: Callable[[str], None] | None) -> dict[str, object]:
    if not isinstance(item, dict) or not isinstance(item.get("tags"), list):
        raise ValueError('each line must be an object with "tags" (a list) and "spec" or "argo"')
    tags = item["tags"]
    if not all(isinstance(t, str) for t in tags):
        raise ValueError('"tags" must be a list of strings')
    if "argo" in item:
        if "spec" in item:
            raise ValueError('a line has "spec" (Flux) or "argo", not both')
        policy = _argo_batch_policy(item["argo"], warn)
        try:
            return {"latest": select_argo(tags, policy).tag}
        except SelectionFailed:  # no tag qualifies (a bad allow-tags regexp matches nothing, as upstream)
            return {"none": True}
    return {"latest": select_flux(tags, parse_flux_policy(item.get("spec") or {})).tag}


def eval_batch(batch_text: str, warn: Callable[[str], None] | None = None) -> tuple[int, str]:
    """One JSON object a line → one JSON line each, in order.

    `{"tags": [...], "spec": {...}}` (a Flux ImagePolicy spec) → `{"latest": TAG}` or `{"error": MSG}`;
    `{"tags": [...], "argo": {"strategy", "constraint", "allowTags", "ignoreTags"}}` (Argo CD Image
    Updater) → `{"latest": TAG}`, `{"none": true}` when no tag qualifies, or `{"error": MSG}` (an
    invalid constraint, a malformed line). `warn` receives warnings (an unknown strategy falling back
    to semver) so that the result lines keep their exact shapes.
    """
    out = []
    for raw in batch_text.splitlines():
        if not raw.strip():
            continue
        try:
            out.append(json.dumps(_batch_line(json.loads(raw), warn)))
        except TagpilotError as e:
            out.append(json.dumps({"error": str(e)}))
        except ValueError as e:  # json.JSONDecodeError is a ValueError
            out.append(json.dumps({"error": f"invalid batch line: {e}"}))
    return 0, "\n".join(out)


def register(policy_app: typer.Typer) -> None:
    """Add `eval` to the `tagpilot policy` group."""

    @policy_app.command("eval")
    def eval_command(
        semver: SemverOption = None,
        alphabetical: AlphabeticalOption = None,
        numerical: NumericalOption = None,
        strategy: StrategyOption = None,
        constraint: ConstraintOption = None,
        allow_tags: AllowTagsOption = None,
        ignore_tags: IgnoreTagsOption = [],  # noqa: B006 - typer needs a literal default
        platforms: PlatformsOption = None,
        pattern: PatternOption = None,
        extract: ExtractOption = None,
        tags_file: Path | None = typer.Option(None, "--tags-file", help="Tags, one a line (default: stdin)."),
        batch: Path | None = typer.Option(None, "--batch",
                                           help="JSON lines of {tags, spec} or {tags, argo}; prints JSON lines."),
        explain: bool = typer.Option(False, "--explain", help="Say why every other tag lost."),
    ) -> None:
        """Print the tag a policy selects from a list of tags (exit 1 with the error if none)."""
        try:
            if batch is not None:
                code, text = eval_batch(batch.read_text(encoding="utf-8"), warn=lambda m: typer.echo(m, err=True))
            else:
                tags_text = tags_file.read_text(encoding="utf-8") if tags_file is not None else sys.stdin.read()
                code, text = eval_policy(
                    tags_text=tags_text,
                    semver=semver,
                    alphabetical=alphabetical,
                    numerical=numerical,
                    strategy=strategy,
                    constraint=constraint,
                    allow_tags=allow_tags,
                    ignore_tags=ignore_tags,
                    platforms=platforms,
                    pattern=pattern,
                    extract=extract,
                    explain=explain,
                )
        except OSError as e:
            code, text = 1, f"error: cannot read {e.filename}: {e.strerror}"
        if text:
            typer.echo(text, err=code != 0)
        raise typer.Exit(code)
