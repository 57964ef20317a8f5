"""Key rotation: `manage.py reencrypt_secrets` moves every encrypted secret to the newest key."""

import ast
from pathlib import Path

from cryptography.fernet import Fernet
from django.apps import apps
from django.conf import settings as django_settings
from django.core.management import call_command

from core import crypto
from core.models import AuditEntry
from invoices.models import Mailbox

ROOT = Path(django_settings.BASE_DIR)


def test_it_reencrypts_the_invoice_mailbox_webhook_secret(settings, acme):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    box = Mailbox(tenant=acme, webhook_token="tok-rot", webhook_remote_id="wh_1")  # noqa: S106
    box.set_secret("whsec_mailbox")
    box.save()
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    call_command("reencrypt_secrets")
    settings.FIELD_ENCRYPTION_KEYS = [new]  # the old key is gone: the secret must still read
    assert Mailbox.objects.get(pk=box.pk).reveal_secret() == "whsec_mailbox"
    entry = AuditEntry.objects.get(action="secrets.reencrypt")
    assert "invoices.Mailbox.webhook_secret_encrypted: 1" in entry.target


def _fields_assigned_a_ciphertext() -> set[str]:
    """Every `<obj>.<name> = crypto.encrypt(...)` in the project's own apps."""
    names = set()
    own = [
        Path(c.path)
        for c in apps.get_app_configs()
        # Installed packages may sit under the root too (a .venv there): not ours.
        if Path(c.path).is_relative_to(ROOT) and "site-packages" not in Path(c.path).parts
    ]
    assert len(own) > 3, own
    for path in (p for app in own for p in app.rglob("*.py") if "migrations" not in p.parts):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Attribute)
                and node.value.func.attr == "encrypt"
                and isinstance(node.value.func.value, ast.Name)
                and node.value.func.value.id == "crypto"
            ):
                names |= {t.attr for t in node.targets if isinstance(t, ast.Attribute)}
    return names


def test_it_covers_every_encrypted_field_of_every_model():
    covered = {f"{f.model._meta.label}.{f.name}" for f in crypto.encrypted_fields()}
    # A field whose name says it holds a secret or a ciphertext must be of the encrypted type,
    # which is what the command discovers; so must whatever the code stores crypto.encrypt in.
    looks_secret = {
        f"{model._meta.label}.{field.name}"
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if "secret" in field.name or "encrypt" in field.name
    }
    assert looks_secret <= covered, looks_secret - covered
    assigned = _fields_assigned_a_ciphertext()
    assert assigned, (
        "the scan found no crypto.encrypt assignments: it is looking in the wrong place"
    )
    assert assigned <= {label.rsplit(".", 1)[1] for label in covered}, assigned
    assert {
        "tenants.ApiKey.encrypted_value",
        "notifications.WebhookEndpoint.secret_encrypted",
        "invoices.Mailbox.webhook_secret_encrypted",
    } <= covered
