"""Secrets the hub has to use again, not only check (webhook signing secrets made through
the API), kept sealed in the database: Fernet (AES-128-CBC with an HMAC-SHA256, from the
`cryptography` library) under a key derived from the hub's `secret_key`. A copy of the
database alone then does not give them away, when the key is set in the config (unset,
the key is kept in the same database, and sealing only keeps the secrets out of plain
sight). Values stored before sealing are read as they are until sealed."""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "sealed:v1:"


class SealBroken(ValueError):
    """A sealed value the key does not open: sealed under another `secret_key`, or altered."""


class Sealer:
    def __init__(self, hub_secret: bytes) -> None:
        key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"hub sealed secrets v1"
        ).derive(hub_secret)
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, plain: str) -> str:
        return PREFIX + self._fernet.encrypt(plain.encode()).decode()

    def open(self, stored: str) -> str:
        if not is_sealed(stored):
            return stored
        try:
            return self._fernet.decrypt(stored[len(PREFIX) :].encode()).decode()
        except InvalidToken:
            raise SealBroken(
                "sealed under another hub secret_key, or altered in the database"
            ) from None


def is_sealed(stored: str) -> bool:
    return stored.startswith(PREFIX)


@lru_cache(maxsize=4)
def sealer_for(hub_secret: bytes) -> Sealer:
    """One Sealer per key: deriving it takes a hash of its own."""
    return Sealer(hub_secret)
