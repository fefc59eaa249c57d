"""hub.config."""
