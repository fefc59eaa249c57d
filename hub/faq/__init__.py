"""hub.faq."""
