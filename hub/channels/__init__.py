"""hub.channels."""
