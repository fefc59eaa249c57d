"""hub.customers."""
