"""Re-encrypt every stored secret under the newest FIELD_ENCRYPTION_KEYS key.

Rotation of the encryption key: put the new key first in FIELD_ENCRYPTION_KEYS (keep the
old one after it), run this command, then remove the old key.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from core import crypto
from core.audit import record
from tenants.models import ApiKey


class Command(BaseCommand):
    help = "Re-encrypt every stored tenant API key and webhook secret under the first FIELD_ENCRYPTION_KEYS key."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args, batch_size: int = 500, **options) -> None:
        done = 0
        unreadable: list[int] = []
        ids = list(ApiKey.objects.exclude(encrypted_value="").values_list("pk", flat=True))
        for start in range(0, len(ids), batch_size):
            with transaction.atomic():
                batch = ApiKey.objects.select_for_update().filter(
                    pk__in=ids[start : start + batch_size]
                )
                for key in batch:
                    try:
                        rotated = crypto.rotate(key.encrypted_value)
                    except crypto.SecretUnreadable:
                        unreadable.append(key.pk)
                        continue
                    ApiKey.objects.filter(pk=key.pk).update(encrypted_value=rotated)
                    done += 1
        hooks, hooks_unreadable = _reencrypt_webhook_secrets()
        unreadable += hooks_unreadable
        record(
            "secrets.reencrypt",
            actor_label="command:reencrypt_secrets",
            target=f"{done} API keys, {hooks} webhook secrets",
            outcome="error" if unreadable else "success",
            error=f"{len(unreadable)} keys unreadable: ids {unreadable[:20]}" if unreadable else "",
        )
        if unreadable:
            raise CommandError(
                f"Re-encrypted {done} keys; {len(unreadable)} could not be decrypted with any "
                f"configured key (ApiKey ids or webhook endpoints: {unreadable[:20]}). Add the missing old key and re-run."
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Re-encrypted {done} API keys and {hooks} webhook secrets under the newest key."
            )
        )


def _reencrypt_webhook_secrets() -> tuple[int, list[str]]:
    """The signing secrets of the reseller's webhook endpoints (notifications)."""
    from notifications.models import WebhookEndpoint

    done, unreadable = 0, []
    with transaction.atomic():
        for endpoint in WebhookEndpoint.objects.select_for_update():
            try:
                rotated = crypto.rotate(endpoint.secret_encrypted)
            except crypto.SecretUnreadable:
                unreadable.append(f"webhook endpoint {endpoint.pk}")
                continue
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(secret_encrypted=rotated)
            done += 1
    return done, unreadable
