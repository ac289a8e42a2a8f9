"""tagpilot.cli."""
