"""The failures of turning bytes into a message; each goes to the quarantine with its text."""

from __future__ import annotations


class MailParseError(ValueError):
    """This input cannot become a message; the text says why (it goes to the quarantine)."""


class MailUnusable(MailParseError):
    """Parsed, but nothing the hub can ticket (no sender to answer or file it under)."""
