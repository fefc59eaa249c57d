"""Personal data: export, erasure with its ledger, and retention (#17)."""
