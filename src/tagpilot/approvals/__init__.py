"""The manual path: approval gates, pins and respected manual changes (issue 13).

`settings` reads the `tagpilot.dev/` annotations (pure), `book` keeps requests, decisions, rejected
tags, pins and written fields in the state database, `decisions` is what `tagpilot approve/reject/
pin/unpin` and the API do, and `gate` is the one call an updating object's push path makes before it
pushes a planned change.
"""

from tagpilot.approvals.holds import retention_holds

__all__ = ["retention_holds"]
