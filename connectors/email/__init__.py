"""Email: outbound over SMTP (and to files, for demos and development)."""
