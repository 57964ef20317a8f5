"""Encryption at rest of stored secrets (MultiFernet over FIELD_ENCRYPTION_KEYS).

The first key encrypts; every key decrypts, so keys can be rotated: add a new key in
front, run `manage.py reencrypt_secrets`, then drop the old one.
"""

from __future__ import annotations

import hashlib
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.apps import apps
from django.conf import settings
from django.db import models


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


class EncryptedTextField(models.TextField):
    """A column holding a MultiFernet ciphertext from `encrypt` ("" when there is none).

    The type is what `reencrypt_secrets` looks for, so a secret stored in any other field
    would silently stay under an old key: every ciphertext goes in a field of this type.
    """

    def deconstruct(self) -> tuple:
        # The column is plain text either way: migrations see a TextField, so marking a
        # field (or adding one) never needs a migration of its own for the type.
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.TextField", args, kwargs


def encrypted_fields() -> list[EncryptedTextField]:
    """Every encrypted field of every installed model, for key rotation."""
    return [
        field
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, EncryptedTextField)
    ]
