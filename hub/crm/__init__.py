"""CRM sync: the core side of the CRM connectors (field mapping, cursors, conflicts) (#16)."""
