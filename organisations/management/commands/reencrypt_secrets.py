"""Re-encrypt every stored secret with the first key of FIELD_ENCRYPTION_KEYS.

Key rotation: put the new key first in FIELD_ENCRYPTION_KEYS (keep the old one after it),
deploy, run this command, then remove the old key.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Model

from organisations.secrets import encrypt_plain_rows, encrypted_fields


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret (passwords, raw overrides, the MAC files last served) "
        "with the first key of FIELD_ENCRYPTION_KEYS."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        fields: defaultdict[type[Model], list[str]] = defaultdict(list)
        for model, name in encrypted_fields():
            fields[model].append(name)
        total = 0
        try:
            with transaction.atomic():
                for model, names in fields.items():
                    written = encrypt_plain_rows(model, names)
                    total += written
                    self.stdout.write(f"{model._meta.label}: {written} row(s) ({', '.join(names)})")
        except ImproperlyConfigured as exc:
            raise CommandError(f"{exc} Nothing was changed.") from exc
        self.stdout.write(f"Re-encrypted {total} row(s) with the first key.")
