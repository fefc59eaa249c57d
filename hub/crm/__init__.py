"""CRM sync: the core side of the CRM connectors (#16).

`sync` runs each CRM's rounds (a lease across processes, a lock within one); `intake` takes
customer events from outgoing_events; `push` writes due customers in batches; `pull`
applies the CRM's changes since a cursor; `conflicts` and `fields` are the pure decisions
and the mapping; `links` owns the crm_links rows; `status` is what `hub crm status` shows.
The connectors' side of the seam is `hub.crm_seam`, re-exported by `hub.connector`.
"""
