"""tagpilot: keeps the container images named in a GitOps repository up to date."""

__version__ = "0.1.0"
