"""hub.agents."""
