"""tagpilot.server."""
