"""hub.notify."""
