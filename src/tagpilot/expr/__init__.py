"""tagpilot.expr."""
