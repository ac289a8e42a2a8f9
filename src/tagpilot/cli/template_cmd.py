"""`tagpilot template render`: render Go templates from the command line.

`--batch FILE` reads one JSON object a line, `{"template": "...", "data": {...}}` (optional
`"name"`), and prints one JSON line each, `{"output": "..."}` or `{"error": "..."}`, so that a
whole table of cases can be compared with Go's own output. `data` is decoded as Go's
encoding/json decodes into interface{} (every number a float64).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from tagpilot.gotemplate import TemplateError, from_json, render


def _render_line(line: str) -> dict[str, str]:
    try:
        obj = from_json(line)
    except TemplateError as e:
        return {"error": str(e)}
    if not isinstance(obj, dict) or not isinstance(obj.get("template"), str):
        return {"error": 'each line must be a JSON object with a string "template"'}
    name = obj.get("name") if isinstance(obj.get("name"), str) else "msg"
    try:
        return {"output": render(obj["template"], obj.get("data"), name=name)}
    except TemplateError as e:
        return {"error": str(e)}


def render_batch(path: str | Path) -> tuple[int, str]:
    """Render every line of a batch file; exit code 0 unless the file cannot be read."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        return 2, f"cannot read {path}: {e.strerror}\n"
    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        out.append(json.dumps(_render_line(line), ensure_ascii=False) + "\n")
    return 0, "".join(out)


def render_file(template_path: str | Path, data_path: str | Path | None = None) -> tuple[int, str]:
    """Render one template file with data from a JSON file (or no data)."""
    try:
        tmpl = Path(template_path).read_text(encoding="utf-8")
        data: Any = None
        if data_path is not None:
            data = from_json(Path(data_path).read_text(encoding="utf-8"))
    except OSError as e:
        return 2, f"cannot read {e.filename}: {e.strerror}\n"
    except TemplateError as e:
        return 2, f"{data_path}: {e}\n"
    try:
        return 0, render(tmpl, data, name=Path(template_path).name)
    except TemplateError as e:
        return 1, f"{e}\n"


def register(template_app: typer.Typer) -> None:
    """Add `render` to the `template` command group."""

    @template_app.command("render")
    def render_cmd(
        template_file: str = typer.Argument(None, help="Template file to render."),
        data: str = typer.Option(None, "--data", help="JSON file with the data (dot)."),
        batch: str = typer.Option(None, "--batch", help="JSON-lines file of {template, data} cases."),
    ) -> None:
        """Render a Go template (text/template + hermetic Sprig) as Flux would."""
        if batch:
            code, out = render_batch(batch)
        elif template_file:
            code, out = render_file(template_file, data)
        else:
            code, out = 2, "give TEMPLATE_FILE or --batch FILE\n"
        if code == 0:
            typer.echo(out, nl=False)
        else:
            typer.echo(out, nl=False, err=True)
        raise typer.Exit(code)

