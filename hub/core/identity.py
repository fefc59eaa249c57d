"""Normalizing identities so one person is one customer: emails, E.164 phones, handles."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers
from email_validator import EmailNotValidError, ValidatedEmail, validate_email
from email_validator.rfc_constants import DOT_ATOM_TEXT

from hub.messages import Address

MAX_EMAIL_LENGTH = 254


# Each address is checked twice per message at least (by the connector, then by the
# pipeline for the sender and the reply-to), and validation is among the dearest steps
# of an ingest; the answer depends on the string alone. Bounded, so a flood of distinct
# addresses costs a few MB at most.
@lru_cache(maxsize=8192)
def normalize_email(raw: str) -> str | None:
    """Trimmed and lower-cased, or None when it is not an email address."""
    value = raw.strip()
    if not value or len(value) > MAX_EMAIL_LENGTH:
        return None
    local, _, domain = value.rpartition("@")
    # Most customers share a few domains, and checking the domain is most of
    # email-validator's work. A plain (dot-atom, ASCII) local part at a domain it has
    # accepted before is accepted the same way: it checks the two parts apart, and the
    # lengths it checks are the address's own (see _remember_domain).
    known = _DOMAINS.get(domain)
    if known is not None and DOT_ATOM_TEXT.match(local):
        return f"{local}@{known}".lower()
    try:
        checked = validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        return None
    _remember_domain(local, domain, checked)
    return checked.normalized.lower()


_DOMAINS: dict[str, str] = {}
MAX_DOMAINS = 4096


def _remember_domain(local: str, domain: str, checked: ValidatedEmail) -> None:
    """Remember an accepted domain, as given, when it splits here as email-validator
    split it (the local part has no '@' or quotes) and normalizing it changed no length
    (plain ASCII), so the address's length checks are its own length."""
    if (
        len(_DOMAINS) < MAX_DOMAINS
        and DOT_ATOM_TEXT.match(local)
        and domain.isascii()
        and len(checked.domain) == len(domain) == len(checked.ascii_domain or "")
    ):
        _DOMAINS[domain] = checked.domain


def normalize_phone(raw: str, region: str) -> str | None:
    """E.164 ("+8801712345678"), reading local numbers in `region`, or None when invalid."""
    value = raw.strip()
    if not value or len(value) > 40:
        return None
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_address(addr: Address, region: str) -> Address | None:
    if addr.kind == "email":
        value = normalize_email(addr.value)
    elif addr.kind == "phone":
        value = normalize_phone(addr.value, region)
    else:
        # Chat and social ids are opaque: kept exactly as the channel gave them.
        value = addr.value.strip() or None
    if value is None:
        return None
    return Address(addr.kind, value, addr.display_name)
