"""Channel connectors. Each depends on hub.connector and hub.messages only."""
