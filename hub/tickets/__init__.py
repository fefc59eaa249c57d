"""hub.tickets."""
