"""tagpilot.config."""
