"""Keyed audit chain and append-only triggers on SQLite too.

Rows written so far keep their plain SHA-256 hashes (keyed=False); every new row is an HMAC
under AUDIT_CHAIN_KEY. SQLite gets the UPDATE/DELETE triggers PostgreSQL has had since
tenants 0002 (core.triggers; re-created after every migrate, since SQLite drops a table's
triggers whenever Django rebuilds the table)."""

from django.db import migrations, models

from core import triggers


def create_triggers(apps, schema_editor):
    triggers.ensure(schema_editor.connection)


def drop_triggers(apps, schema_editor):
    triggers.drop(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditentry",
            name="keyed",
            field=models.BooleanField(default=False),
        ),
        migrations.AlterField(
            model_name="auditentry",
            name="keyed",
            field=models.BooleanField(default=True),
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
