"""Go `strconv.ParseFloat(s, 64)` acceptance rules, for Flux's numerical policy.

Why not `float()`: Python accepts what Go refuses (surrounding spaces, non-ASCII digits, `+nan`)
and returns `inf` for `1e400` where Go reports a range error (which fails Flux's policy). The Go
grammar itself is `tagpilot.golang.parse_float`, shared with the template and gjson ports; this
module adds what the policy needs on top: any error means "not a number", and a length bound.
"""

from __future__ import annotations

from tagpilot.golang import parse_float

__all__ = ["parse_go_float"]


def parse_go_float(s: str) -> float | None:
    """The float Go would parse, or None where Go returns an error (syntax or overflow)."""
    if len(s) > 4096:  # no real tag is this long; keeps the work bounded
        return None
    value, err = parse_float(s)
    return None if err is not None else value
