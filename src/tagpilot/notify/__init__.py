"""tagpilot.notify."""
