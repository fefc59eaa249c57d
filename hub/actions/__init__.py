"""What agents do to tickets: reply, update, note; with the outbox rows and notifications each causes."""
