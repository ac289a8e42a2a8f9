"""tagpilot.store: the SQLite state (object status, scanned tags, metadata cache by digest)."""

from tagpilot.store.db import DEFAULT_STATE_DIR, Store, StoredObject

__all__ = ["DEFAULT_STATE_DIR", "Store", "StoredObject"]
