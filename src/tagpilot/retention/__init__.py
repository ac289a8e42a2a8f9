"""Registry cleanup: the pure retention planner (Harbor's rule templates and tag selectors, tagpilot's
protections) in `planner`, Harbor's doublestar globs in `doublestar`. The I/O (tags, digests, deletes)
lives in `tagpilot.engine.retention`."""
