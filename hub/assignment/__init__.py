"""Automatic assignment of routed tickets to available agents under capacity (#14)."""
