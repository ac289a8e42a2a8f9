"""tagpilot.gitops."""
