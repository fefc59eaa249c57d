"""Storage: one schema on SQLite (embedded default) or PostgreSQL (several hub processes)."""

from hub.store.engine import Store, utcnow

__all__ = ["Store", "utcnow"]
