"""The demo: a history of customers, tickets, replies and survey answers for the shipped demo
config, so a newcomer's inbox and reports have something in them (`hub demo seed`)."""
