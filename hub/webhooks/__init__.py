"""Signed outgoing webhooks (Standard Webhooks): endpoints, deliveries, retries (#16)."""
