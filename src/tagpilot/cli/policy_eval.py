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
from collections.abc import Sequence
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
    Selection,
    SelectionFailed,
    TagMetadata,
    TagVerdict,
    parse_flux_policy,
    select_argo,
    select_flux,
)

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


def eval_batch(batch_text: str) -> tuple[int, str]:
    """One JSON object a line, `{"tags": [...], "spec": {...}}` → one JSON line each, in order."""
    out = []
    for raw in batch_text.splitlines():
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
            if not isinstance(item, dict) or not isinstance(item.get("tags"), list):
                raise ValueError('each line must be an object with "tags" (a list) and "spec"')
            tags = item["tags"]
            if not all(isinstance(t, str) for t in tags):
                raise ValueError('"tags" must be a list of strings')
            sel = select_flux(tags, parse_flux_policy(item.get("spec") or {}))
            out.append(json.dumps({"latest": sel.tag}))
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
        batch: Path | None = typer.Option(None, "--batch", help="JSON lines of {tags, spec}; prints JSON lines."),
        explain: bool = typer.Option(False, "--explain", help="Say why every other tag lost."),
    ) -> None:
        """Print the tag a policy selects from a list of tags (exit 1 with the error if none)."""
        try:
            if batch is not None:
                code, text = eval_batch(batch.read_text(encoding="utf-8"))
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
