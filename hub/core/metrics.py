"""Prometheus metrics, one registry per hub so several hubs can share a process (tests)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.messages_in = Counter(
            "hub_messages_in_total", "Inbound messages stored", ["channel"], registry=r
        )
        self.duplicates = Counter(
            "hub_messages_duplicate_total", "Inbound redeliveries dropped", ["channel"], registry=r
        )
        self.sent = Counter(
            "hub_replies_sent_total", "Outbound messages delivered", ["connector"], registry=r
        )
        self.send_failures = Counter(
            "hub_send_failures_total", "Failed send attempts", ["connector"], registry=r
        )
        self.dead_lettered = Counter(
            "hub_outbox_dead_lettered_total", "Messages given up on", ["connector"], registry=r
        )
        self.errors = Counter("hub_errors_total", "Unexpected errors", ["where"], registry=r)
        self.rejected = Counter(
            "hub_requests_rejected_total", "Requests refused", ["channel", "reason"], registry=r
        )
        self.outbox_depth = Gauge(
            "hub_outbox_depth", "Messages waiting to be sent", ["status"], registry=r
        )
        self.outbox_oldest_age = Gauge(
            "hub_outbox_oldest_pending_seconds", "Age of the oldest unsent message", registry=r
        )
        self.connector_up = Gauge(
            "hub_connector_up", "1 when the connector is running", ["connector"], registry=r
        )
        self.campaign_queued = Counter(
            "hub_campaign_queued_total", "Campaign messages queued", ["campaign"], registry=r
        )
        # Every campaign the gauge has shown, so one that drains reads 0, not its last value.
        self.campaigns_seen: set[str] = set()
        self.campaign_pending = Gauge(
            "hub_campaign_pending",
            "Campaign messages queued and not yet sent",
            ["campaign"],
            registry=r,
        )
