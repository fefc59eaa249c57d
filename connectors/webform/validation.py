"""Checking a form submission field by field. Pure: fields in, submission or errors out."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

FIELDS = ("name", "email", "phone", "subject", "message", "language", "idempotency_key")
MAX_NAME = 200
MAX_SUBJECT = 200
_KEY = re.compile(r"^[A-Za-z0-9_-]{8,100}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class Submission:
    name: str | None
    email: str | None
    phone: str | None
    subject: str | None
    message: str
    language: str | None
    idempotency_key: str | None


def validate(
    fields: dict[str, object],
    *,
    normalize_email: Callable[[str], str | None],
    normalize_phone: Callable[[str], str | None],
    locales: tuple[str, ...],
    max_message_chars: int,
) -> tuple[Submission | None, dict[str, str]]:
    errors: dict[str, str] = {}

    def text(name: str) -> str:
        value = fields.get(name)
        if value is None:
            return ""
        if not isinstance(value, str):
            errors[name] = "must be text"
            return ""
        return value.strip()

    name = " ".join(text("name").split())
    email_raw = text("email")
    phone_raw = text("phone")
    subject = " ".join(text("subject").split())
    message = _CONTROL.sub("", text("message").replace("\r\n", "\n"))
    language = text("language")
    key = text("idempotency_key")

    if len(name) > MAX_NAME:
        errors["name"] = f"Please keep the name under {MAX_NAME} characters."
    email, phone = _reachable(email_raw, phone_raw, normalize_email, normalize_phone, errors)
    if len(subject) > MAX_SUBJECT:
        errors["subject"] = f"Please keep the subject under {MAX_SUBJECT} characters."
    if not message:
        errors["message"] = "Please write your message."
    elif len(message) > max_message_chars:
        errors["message"] = f"Please keep the message under {max_message_chars} characters."
    if language and language not in locales:
        errors["language"] = f"Choose one of: {', '.join(locales)}."
    if key and not _KEY.match(key):
        errors["idempotency_key"] = "must be 8-100 letters, digits, '-' or '_'"
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        errors["_"] = f"unknown fields: {', '.join(unknown)[:200]}"
    if errors:
        return None, errors
    return (
        Submission(
            name=name or None,
            email=email,
            phone=phone,
            subject=subject or None,
            message=message,
            language=language or None,
            idempotency_key=key or None,
        ),
        {},
    )


def _reachable(
    email_raw: str,
    phone_raw: str,
    normalize_email: Callable[[str], str | None],
    normalize_phone: Callable[[str], str | None],
    errors: dict[str, str],
) -> tuple[str | None, str | None]:
    """The normalized email and phone; what is wrong with them goes into `errors`."""
    email = None
    if email_raw:
        email = normalize_email(email_raw)
        if email is None:
            errors["email"] = "This is not a valid email address."
    phone = None
    if phone_raw:
        phone = normalize_phone(phone_raw)
        if phone is None:
            errors["phone"] = "This is not a valid phone number (include the country code)."
    if not email_raw and not phone_raw:
        errors["email"] = "Please give an email address or a phone number so we can answer."
    return email, phone
