"""Duplicate customers: exact and fuzzy candidates, and their review queue (#17)."""
