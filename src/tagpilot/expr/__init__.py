"""tagpilot.expr: the govaluate expression language of Argo Events `exprs` filters.

    parse('ref =~ "refs/heads/release-" || ref == "refs/heads/main"').evaluate({"ref": "refs/heads/main"})
"""

from tagpilot.expr.govaluate import ExprError, Expression, parse

__all__ = ["ExprError", "Expression", "parse"]
