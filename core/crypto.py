"""Encryption at rest for tenant API keys (MultiFernet over FIELD_ENCRYPTION_KEYS).

The first key encrypts; every key decrypts, so keys can be rotated: add a new key in
front, run `manage.py reencrypt_secrets`, then drop the old one.
"""

import hashlib
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SecretUnreadable(Exception):
    """The ciphertext cannot be decrypted with any configured key."""


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(k.strip().encode()) for k in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(value: str) -> str:
    return fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        # No detail on purpose: the message must never carry key material.
        raise SecretUnreadable(
            "stored secret cannot be decrypted with FIELD_ENCRYPTION_KEYS"
        ) from None


def rotate(token: str) -> str:
    """Re-encrypt under the newest key."""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(
            "stored secret cannot be decrypted with FIELD_ENCRYPTION_KEYS"
        ) from None


def fingerprint(value: str) -> str:
    """A short, non-secret label for a key: a hash prefix plus the last 4 characters."""
    digest = hashlib.sha256(value.encode()).hexdigest()[:8]
    return f"{digest}…{value[-4:]}"
