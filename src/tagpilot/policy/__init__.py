"""tagpilot.policy."""
