"""CSAT surveys: sent on solve over the customer's channel, answered once per survey (#15)."""
