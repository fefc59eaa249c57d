"""What agents do to tickets (reply, update, note), with the outbox rows and notifications
each one causes.

The inbox and the REST API both call these, so they enforce the same rules."""
