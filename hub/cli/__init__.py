"""hub.cli."""
