"""hub.ingest."""
