"""hub.proactive."""
