"""tagpilot.engine."""
