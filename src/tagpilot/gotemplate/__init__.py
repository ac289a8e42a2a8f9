"""Go text/template, with the hermetic Sprig functions, for commit messages and notifications.

Flux's `messageTemplate`, argocd-notifications templates and Argo Events sensor templates are Go
templates; users copy them from upstream documentation and expect the same output. No maintained
Python implementation exists, so this package ports Go's lexer, parser, executor and fmt, and is
tested against tables of Go's behaviour.

    render("{{ .name | upper }}", {"name": "x"}) == "X"
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tagpilot.gotemplate.errors import TemplateError, TemplateExecError, TemplateParseError
from tagpilot.gotemplate.execute import execute_tree
from tagpilot.gotemplate.funcs import BUILTINS, GoFunc, wrap_callable
from tagpilot.gotemplate.jsondata import from_json, to_json
from tagpilot.gotemplate.limits import DEFAULT_LIMITS, Limits
from tagpilot.gotemplate.parse import Tree, parse_trees
from tagpilot.gotemplate.values import MISSING, GoMap, GoSlice, GoStruct, Int64

__all__ = [
    "DEFAULT_LIMITS",
    "MISSING",
    "GoFunc",
    "GoMap",
    "GoSlice",
    "GoStruct",
    "Int64",
    "Limits",
    "Template",
    "TemplateError",
    "TemplateExecError",
    "TemplateParseError",
    "from_json",
    "parse",
    "render",
    "to_json",
]


class Template:
    """A parsed template and the templates it defines; execute it any number of times."""

    def __init__(self, name: str, trees: dict[str, Tree], funcs: dict[str, GoFunc]) -> None:
        self.name = name
        self.trees = trees
        self.funcs = funcs

    def execute(self, data: Any, limits: Limits | None = None) -> str:
        """Render with `data` as dot; raises TemplateExecError with Go's message.

        `limits` bounds the output size and the work done (default: 1 MiB, 1,000,000 steps), so
        a template from a config file cannot exhaust the daemon's memory or time.
        """
        return execute_tree(self.trees, self.funcs, self.name, data, limits)

    def execute_template(self, name: str, data: Any, limits: Limits | None = None) -> str:
        """Render the associated template `name` (from a {{define}})."""
        if name not in self.trees:
            raise TemplateExecError(f"template: no template {name!r} associated with template {self.name!r}")
        return execute_tree(self.trees, self.funcs, name, data, limits)


def _funcs(funcs: Mapping[str, Callable[..., Any]] | None, sprig: bool) -> dict[str, GoFunc]:
    table: dict[str, GoFunc] = dict(BUILTINS)
    if sprig:
        from tagpilot.gotemplate.sprig import SPRIG

        table.update(SPRIG)
    for name, fn in (funcs or {}).items():
        table[name] = wrap_callable(name, fn)
    return table


def parse(text: str, name: str = "msg", funcs: Mapping[str, Callable[..., Any]] | None = None,
          *, sprig: bool = True) -> Template:
    """Parse Go template `text`; builtins, hermetic Sprig (unless sprig=False) and `funcs` are defined."""
    table = _funcs(funcs, sprig)
    trees = parse_trees(name, text, set(table))
    return Template(name, trees, table)


def render(text: str, data: Any, *, name: str = "msg",
           funcs: Mapping[str, Callable[..., Any]] | None = None, limits: Limits | None = None) -> str:
    """Parse and execute in one step, with builtins and hermetic Sprig, within `limits`."""
    return parse(text, name, funcs).execute(data, limits)
