"""hub.outbox."""
