"""Secrets at rest: provisioning, SIP and web passwords, raw overrides (they hold passwords)
and the MAC files last served are stored encrypted.

A database dump alone reveals none of them: values are Fernet tokens (AES-128-CBC with an
HMAC-SHA256) under keys that live only in the environment (FIELD_ENCRYPTION_KEYS). The first
key encrypts; every key listed decrypts, so a key is rotated by putting the new one first,
running `manage.py reencrypt_secrets`, and then removing the old one.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django import forms
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.validators import MaxLengthValidator
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper

PREFIX = "enc1:"
# Compressed (zlib) before it was encrypted: a long text of a field that asks for it (the MAC
# file as last served: a few KB of config lines, a fifth of that compressed, which the
# database then stores and writes a fifth of).
COMPRESSED_PREFIX = "enc1z:"


def encrypt(text: str, *, compress: bool = False) -> str:
    data, prefix = text.encode(), PREFIX
    if compress:
        # Level 1: a third of the time of the default for a few per cent more bytes.
        data, prefix = zlib.compress(data, 1), COMPRESSED_PREFIX
    return prefix + _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS)).encrypt(data).decode()


def decrypt(stored: str) -> str:
    """The clear text; a value without our prefix is legacy plain text and returned as is."""
    if not stored.startswith((PREFIX, COMPRESSED_PREFIX)):
        return stored
    return _decrypted(stored, tuple(settings.FIELD_ENCRYPTION_KEYS))


# Each app-server process reads the same secrets again and again (every phone of an
# organisation, after every config change), and a decryption costs more than the rest of
# reading the row. A token always decrypts to the same text, so the texts are kept by token
# and keys: memory that holds the phones' configs holds these secrets anyway.
@lru_cache(maxsize=50_000)
def _decrypted(stored: str, keys: tuple[str, ...]) -> str:
    compressed = stored.startswith(COMPRESSED_PREFIX)
    try:
        token = stored[len(COMPRESSED_PREFIX if compressed else PREFIX) :].encode()
        data = _fernet(keys).decrypt(token)
        return (zlib.decompress(data) if compressed else data).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "A stored secret cannot be decrypted with any key in FIELD_ENCRYPTION_KEYS: "
            "a key that was in use has been removed."
        ) from exc


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty (see .env.example).")
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS holds a key that is not a Fernet key (32 url-safe base64 "
            'bytes); generate one with `python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())"`.'
        ) from exc


class EncryptedTextField(models.TextField[str, str]):
    """A secret, encrypted in the database and clear in Python.

    The column is text (a token is longer than the secret); with `max_length` it is a
    one-line secret of at most that length. Lookups on it cannot match (each encryption
    differs), and nothing needs them.
    """

    def __init__(self, *args: Any, compress: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.compress = compress  # long texts only: a secret's length is not worth hiding less
        if self.max_length is not None:
            self.validators.append(MaxLengthValidator(self.max_length))

    def deconstruct(self) -> tuple[str, str, Sequence[Any], dict[str, Any]]:
        name, path, args, kwargs = super().deconstruct()
        if self.compress:
            kwargs["compress"] = True
        return name, path, args, kwargs

    def from_db_value(
        self, value: str | None, expression: object, connection: BaseDatabaseWrapper
    ) -> str | None:
        return decrypt(value) if value else value

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        return encrypt(value, compress=self.compress) if value else value

    def formfield(
        self,
        form_class: type[forms.Field] | None = None,
        choices_form_class: type[forms.ChoiceField] | None = None,
        **kwargs: Any,
    ) -> forms.Field | None:
        if self.max_length is None:
            return super().formfield(
                form_class=form_class, choices_form_class=choices_form_class, **kwargs
            )
        # One line, like a CharField: skip TextField's Textarea.
        return models.Field.formfield(
            self,
            form_class=form_class or forms.CharField,
            choices_form_class=choices_form_class,
            **{"max_length": self.max_length, **kwargs},
        )


def encrypted_fields() -> list[tuple[type[models.Model], str]]:
    """Every (model, field name) of the project stored encrypted."""
    from django.apps import apps

    return [
        (model, field.name)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, EncryptedTextField)
    ]


def encrypt_plain_rows(model: type[models.Model], field_names: list[str]) -> int:
    """Encrypt what is still stored as plain text (a migration or `reencrypt_secrets`):
    reading decrypts with any key, writing encrypts with the first. Returns rows written."""
    written = 0
    for obj in _in_batches(model, field_names):
        values = {name: getattr(obj, name) for name in field_names if getattr(obj, name)}
        if values:
            model._default_manager.filter(pk=obj.pk).update(**values)
            written += 1
    return written


def decrypt_rows(model: type[models.Model], field_names: list[str]) -> None:
    """Write the secrets back as plain text: only for reversing the migration."""
    for obj in _in_batches(model, field_names):
        values = {
            name: models.Value(getattr(obj, name), output_field=models.TextField())
            for name in field_names
        }
        model._default_manager.filter(pk=obj.pk).update(**values)


def _in_batches(
    model: type[models.Model], field_names: list[str], size: int = 500
) -> Iterator[models.Model]:
    # Plain queries per batch rather than a server-side cursor, which would outlive the
    # transaction when a value cannot be decrypted.
    manager = model._default_manager
    pks = list(manager.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(pks), size):
        yield from manager.only("pk", *field_names).filter(pk__in=pks[start : start + size])
