"""Normalizing identities so one person is one customer: emails, E.164 phones, handles."""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from hub.messages import Address

MAX_EMAIL_LENGTH = 254


def normalize_email(raw: str) -> str | None:
    """Trimmed and lower-cased, or None when it is not an email address."""
    value = raw.strip()
    if not value or len(value) > MAX_EMAIL_LENGTH:
        return None
    try:
        checked = validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        return None
    return checked.normalized.lower()


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
