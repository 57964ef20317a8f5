"""Re-encrypt every stored secret under the newest FIELD_ENCRYPTION_KEYS key.

Rotation of the encryption key: put the new key first in FIELD_ENCRYPTION_KEYS (keep the
old one after it), run this command, then remove the old key. The secrets are found by
their field type (core.crypto.EncryptedTextField), so a new one is rotated without a change
here.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from core import crypto
from core.audit import record


class Command(BaseCommand):
    help = "Re-encrypt every encrypted secret (API keys, webhook secrets, …) under the first FIELD_ENCRYPTION_KEYS key."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args, batch_size: int = 500, **options) -> None:
        counts: dict[str, int] = {}
        unreadable: list[str] = []
        for field in crypto.encrypted_fields():
            label = f"{field.model._meta.label}.{field.name}"
            counts[label], failed = _reencrypt(field, batch_size)
            unreadable += [f"{field.model._meta.label} {pk}" for pk in failed]
        summary = ", ".join(f"{label}: {n}" for label, n in counts.items())
        record(
            "secrets.reencrypt",
            actor_label="command:reencrypt_secrets",
            target=summary,
            outcome="error" if unreadable else "success",
            error=f"{len(unreadable)} unreadable: {unreadable[:20]}" if unreadable else "",
        )
        done = sum(counts.values())
        if unreadable:
            raise CommandError(
                f"Re-encrypted {done} secrets; {len(unreadable)} could not be decrypted with any "
                f"configured key ({unreadable[:20]}). Add the missing old key and re-run."
            )
        self.stdout.write(
            self.style.SUCCESS(f"Re-encrypted {done} secrets under the newest key ({summary}).")
        )


def _reencrypt(field: crypto.EncryptedTextField, batch_size: int) -> tuple[int, list]:
    """Rotate one field in every row holding a value; batches keep each lock short."""
    model, name = field.model, field.attname
    manager = model._base_manager
    ids = list(manager.exclude(**{name: ""}).values_list("pk", flat=True))
    done, unreadable = 0, []
    for start in range(0, len(ids), batch_size):
        with transaction.atomic():
            rows = (
                manager.select_for_update()
                .filter(pk__in=ids[start : start + batch_size])
                .values_list("pk", name)
            )
            for pk, token in rows:
                try:
                    rotated = crypto.rotate(token)
                except crypto.SecretUnreadable:
                    unreadable.append(pk)
                    continue
                manager.filter(pk=pk).update(**{name: rotated})
                done += 1
    return done, unreadable
