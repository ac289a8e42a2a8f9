"""``tagpilot update``: apply setters markers in a directory, without git, as a CI step would.

It replaces the ``sed -i "s|app:.*|app:$TAG|"`` line of a pipeline: the same markers Flux reads
decide what changes, and only the changed values' characters are rewritten. The command is thin:
parse the ``--set`` values, call `update_tree`, render the result.

A CI step runs it on every build, so a plain command line (`run_plain`: only ``--path``, ``--set``,
``--dry-run`` with ordinary values) is served without typer: typer and the pydantic adapters it
builds for every parameter cost more than rewriting 200 files of a 10,000-file tree. Anything else
(``--help``, an unknown or malformed option, a shell-completion request) goes to typer, which
prints its usual messages.
"""

from __future__ import annotations

import codecs
import io
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tagpilot.cli.plain import Arity, read_plain
from tagpilot.errors import ConfigError, Location, TagpilotError
from tagpilot.registry.reference import split_as_written
from tagpilot.update import ImageRef, TreeResult, update_tree

if TYPE_CHECKING:
    import typer


def parse_set(text: str) -> tuple[tuple[str, str], ImageRef]:
    """Parse ``NS:NAME=IMAGE[:TAG][@DIGEST]`` into the policy key and the image.

    The image is validated as Docker would (`parse_reference`), but its name is kept as typed, because
    the ``:name`` setter writes the repository as the user spells it (``alpine``, not
    ``docker.io/library/alpine``).
    """
    where = Location(field="--set")
    key, eq, image = text.partition("=")
    parts = key.split(":")
    if not eq or len(parts) != 2 or not all(parts):
        raise ConfigError(f"--set {text!r}: expected NAMESPACE:POLICY=IMAGE[:TAG][@DIGEST]", where)
    name, tag, digest = split_as_written(image)
    return (parts[0], parts[1]), ImageRef(name=name, tag=tag, digest=digest)


def render(result: TreeResult) -> str:
    """Human-readable report: the changed files with their changes, then skipped files and notices."""
    lines: list[str] = []
    verb = "would update" if result.dry_run else "updated"
    for f in result.files:
        lines.append(f"{verb} {f.path}")
        lines.extend(f"  {c.line}: {c.old_value} -> {c.new_value} ({c.setter})" for c in f.changes)
    if result.dry_run:
        lines.extend(f.diff.rstrip("\n") for f in result.files)
    lines.extend(f"skipped {s.path}: {s.reason}" for s in result.skipped)
    lines.extend(f"not applied {n.file}:{n.line} ({n.setter}): {n.reason}" for n in result.notices)
    if not result.files:
        lines.append("no changes")
    return "\n".join(lines) + "\n"


def run_update(path: str, sets: Sequence[str], *, dry_run: bool = False) -> tuple[int, str]:
    """Implement ``tagpilot update``; return the exit code and the text to print.

    Expected failures come back as their exit code and message (no traceback).
    """
    try:
        if not sets:
            raise ConfigError("nothing to set: give at least one --set NAMESPACE:POLICY=IMAGE")
        policies: dict[tuple[str, str], ImageRef] = {}
        for text in sets:
            key, image = parse_set(text)
            if key in policies and policies[key] != image:
                raise ConfigError(f"--set {text!r}: policy {key[0]}:{key[1]} is set twice", Location(field="--set"))
            policies[key] = image
        root = Path(path)
        if root.is_file():  # one file, e.g. a Helm values.yaml
            result = update_tree(root.parent, root.name, policies, dry_run=dry_run)
        elif root.is_dir():
            result = update_tree(root, ".", policies, dry_run=dry_run)
        else:
            raise ConfigError(f"--path {path!r} is not a directory or a file", Location(field="--path"))
    except TagpilotError as e:
        return e.exit_code, f"error: {e}\n"
    problems = unapplied(result, policies, path)
    text = render(result)
    if problems:
        return 1, text + "".join(f"error: {p}\n" for p in problems)
    return 0, text


def unapplied(result: TreeResult, policies: Mapping[tuple[str, str], ImageRef], path: str) -> list[str]:
    """What the user asked for and did not get: a --set no marker names, a marker not applied."""
    problems = []
    for namespace, name in sorted(set(policies) - result.named):
        known = ", ".join(sorted(f"{ns}:{n}" for ns, n in result.named)) or "none"
        skipped = f"; {len(result.skipped)} file(s) skipped above may carry it" if result.skipped else ""
        problems.append(f"--set {namespace}:{name}: no setters marker under {path} names this policy "
                        f"(markers there name: {known}{skipped})")
    problems.extend(f"{n.file}:{n.line}: marker {n.setter} not applied: {n.reason}" for n in result.notices)
    return problems


UPDATE_OPTIONS: dict[str, tuple[str, Arity]] = {
    "--path": ("path", "one"), "--set": ("sets", "many"), "--dry-run": ("dry_run", "flag"),
}


def parse_plain(argv: Sequence[str]) -> tuple[str, list[str], bool] | None:
    """``--path``, ``--set`` and ``--dry-run`` of a plain ``tagpilot update`` command line, as typer
    reads them; None for anything typer should see (help, another or a repeated ``--path``, a value
    that looks like an option, a positional argument, a completion request: `cli/plain.py` `read_plain`)."""
    options = read_plain(argv, UPDATE_OPTIONS)
    if options is None:
        return None
    return options.get("path", "."), options["sets"], options.get("dry_run", False)


def _echo(output: str, err: bool) -> None:
    """Write `output` as ``typer.echo(output, nl=False, err=err)`` does: a write and a flush when the
    stream is an ordinary, non-ASCII text stream and there is no escape sequence to strip; typer's
    echo itself otherwise."""
    stream = sys.stderr if err else sys.stdout
    encoding = getattr(stream, "encoding", None) or "ascii"
    try:
        ascii_stream = codecs.lookup(encoding).name == "ascii"
    except LookupError:
        ascii_stream = False
    plain = (
        isinstance(stream, io.TextIOWrapper) and stream.errors is not None and not ascii_stream
        and "\033" not in output and not sys.platform.startswith("win")
    )
    if plain:
        stream.write(output)
        stream.flush()
        return
    import typer

    typer.echo(output, nl=False, err=err)


def run_plain(argv: Sequence[str]) -> int | None:
    """Run ``tagpilot update ARGV`` without typer and return its exit code; None when typer must
    parse `argv` (see `parse_plain`). A closed pipe and Ctrl-C end it as typer's command would
    (`cli.main.run`: exit 1 with nothing more written, exit 130)."""
    parsed = parse_plain(argv)
    if parsed is None:
        return None
    path, sets, dry_run = parsed
    code, output = run_update(path, sets, dry_run=dry_run)
    _echo(output, err=code != 0)
    return code


def register(app: typer.Typer) -> None:
    """Add the ``update`` command to the CLI application."""
    import typer

    @app.command("update")
    def update(
        path: str = typer.Option(".", "--path", help="Directory (or one file) whose YAML carries setters markers."),
        set_: list[str] = typer.Option(
            [], "--set", help="NAMESPACE:POLICY=IMAGE\\[:TAG]\\[@DIGEST]; repeat for several policies."
        ),
        dry_run: bool = typer.Option(False, "--dry-run", help="Show what would change; write nothing."),
    ) -> None:
        """Apply image-policy setters markers in a directory (no git), printing the changed files."""
        code, output = run_update(path, set_, dry_run=dry_run)
        typer.echo(output, nl=False, err=code != 0)
        raise typer.Exit(code)
