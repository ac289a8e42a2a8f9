"""tagpilot.gotemplate."""
