"""tagpilot.events."""
