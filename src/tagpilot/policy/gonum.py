"""Go `strconv.ParseFloat(s, 64)` acceptance rules, for Flux's numerical policy.

Why not `float()`: Python accepts what Go refuses (surrounding spaces, `1_000`, non-ASCII digits)
and returns `inf` for `1e400` where Go reports a range error (which fails Flux's policy). Go also
accepts hexadecimal floats with a `p` exponent (`0x1p-2`), with underscores only after a base
prefix. We validate with Go's grammar, then let Python compute the value.
"""

from __future__ import annotations

import math
import re

__all__ = ["parse_go_float"]

_DEC = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_HEX = re.compile(r"([+-]?)0[xX]((?:_?[0-9a-fA-F])*\.?(?:_?[0-9a-fA-F])*)[pP]([+-]?[0-9](?:_?[0-9])*)")
_SPECIAL = {
    "inf": math.inf,
    "+inf": math.inf,
    "-inf": -math.inf,
    "infinity": math.inf,
    "+infinity": math.inf,
    "-infinity": -math.inf,
    "nan": math.nan,
}


def parse_go_float(s: str) -> float | None:
    """The float Go would parse, or None where Go returns an error (syntax or overflow)."""
    if len(s) > 4096:  # no real tag is this long; keeps the work bounded
        return None
    special = _SPECIAL.get(s.lower())
    if special is not None:
        # Go accepts "nan" without sign only; "+nan" / "-nan" are syntax errors
        return special
    if _DEC.fullmatch(s):
        value = float(s)
        return None if math.isinf(value) else value
    m = _HEX.fullmatch(s)
    if m:
        sign, mant, exp = m.group(1), m.group(2).replace("_", ""), m.group(3).replace("_", "")
        if not any(c not in "." for c in mant):
            return None  # no digits at all
        try:
            value = float.fromhex(f"{sign}0x{mant or '0'}p{exp}")
        except (OverflowError, ValueError):
            return None
        return None if math.isinf(value) else value
    return None
