"""Errors of the Go template engine, shaped like Go's so that users can search them.

Parse errors read `template: NAME:LINE: ...`; execution errors read
`template: NAME:LINE:COL: executing "NAME" at <NODE>: ...`, exactly as text/template prints them.
"""

from __future__ import annotations

from tagpilot.errors import TagpilotError


class TemplateError(TagpilotError):
    """A template could not be parsed or executed. `str()` is Go's message."""

    reason = "TemplateError"


class TemplateParseError(TemplateError):
    """The template text is not valid Go template syntax."""


class TemplateExecError(TemplateError):
    """Executing a parsed template failed (bad field, bad argument, failing function...)."""


class FuncError(Exception):
    """Raised by a template function to return Go's `error` result; becomes `error calling NAME: msg`."""
