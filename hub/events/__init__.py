"""What happened, recorded in the caller's transaction: outgoing events for webhooks and CRM
sync (hub.events.outgoing) and metric events for reports. Below customers and tickets, so
every change can record its event where it commits."""
