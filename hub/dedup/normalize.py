"""The comparable form of each field of a customer: names, emails, phones, postal codes.

Emails: lower-cased (as the hub stores them), a "+tag" after the local part dropped for every
domain (plus addressing is offered by the large providers and almost never part of a
mailbox's real name), and for Gmail the dots of the local part dropped and googlemail.com
read as gmail.com, since Gmail itself ignores them. Other domains keep their dots:
"a.b@example.com" and "ab@example.com" can be two mailboxes there.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from hub.dedup.bengali import romanize

_GMAIL = {"gmail.com", "googlemail.com"}
# Words that are part of how a name is written, not of whom it names.
_TITLES = frozenset(
    {"mr", "mrs", "ms", "miss", "dr", "prof", "sir", "jr", "sr", "shri", "sri", "smt", "janab"}
)
# One person's "Md." is another's "Mohammad": one spelling for the common forms.
_SAME = {
    "md": "mohammad",
    "mohd": "mohammad",
    "muhammad": "mohammad",
    "mohammed": "mohammad",
    "muhammed": "mohammad",
    "mohamed": "mohammad",
}
_NOT_WORD = re.compile(r"[^a-z0-9]+")
_NOT_DIGIT = re.compile(r"[^0-9]+")
_SOUNDEX = str.maketrans("bfpvcgjkqsxzdtlmnr", "111122222222334556", "aeiouyhw")


@lru_cache(maxsize=65536)
def name_tokens(text: str) -> tuple[str, ...]:
    """The words of a name, in Latin letters without accents, titles dropped."""
    if text.isascii():
        words = _NOT_WORD.sub(" ", text.lower()).split()
    else:
        text = romanize(text).casefold()
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
        words = _NOT_WORD.sub(" ", text).split()
    return tuple(_SAME.get(w, w) for w in words if w not in _TITLES)


def plain(text: str | None) -> str:
    """Lower-case words of a free-text field (street, city), single-spaced."""
    return " ".join(name_tokens(text)) if text else ""


def email_key(email: str) -> str:
    """The mailbox an address reaches: see the module docstring."""
    local, _, domain = email.strip().lower().rpartition("@")
    local = local.split("+", 1)[0]
    if domain in _GMAIL:
        return f"{local.replace('.', '')}@gmail.com"
    return f"{local}@{domain}"


def email_local(email: str) -> str:
    """The local part as a person writes their name in it: letters only."""
    local = email_key(email).rpartition("@")[0]
    return _NOT_WORD.sub("", local)


def phone_digits(value: str) -> str:
    return _NOT_DIGIT.sub("", value)


def soundex(word: str) -> str:
    """A four-character Soundex code: names spelt alike by ear share it."""
    if not word:
        return ""
    head = word[0]
    coded = word.translate(_SOUNDEX)
    out = []
    last = word[0].translate(_SOUNDEX)
    for ch in coded[1:] if word[0].translate(_SOUNDEX) else coded:
        if ch != last and ch.isdigit():
            out.append(ch)
        last = ch
    return (head + "".join(out) + "000")[:4]
