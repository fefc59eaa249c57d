"""Storage: one schema on SQLite (embedded default) or PostgreSQL (several hub processes)."""

from hub.store.engine import CONFIG_SYNC, Store, utcnow

__all__ = ["CONFIG_SYNC", "Store", "utcnow"]
