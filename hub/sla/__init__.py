"""Service levels: SLA policies, the clocks of a ticket, warnings and breaches (#14)."""
