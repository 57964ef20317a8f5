"""The audit log's models moved to the core app. Only Django's model state changes: the
tables (tenants_auditentry, tenants_audithead) and their append-only trigger stay as they are."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0004_onboarding_test_mode"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="AuditHead"),
                migrations.DeleteModel(name="AuditEntry"),
            ],
            database_operations=[],
        ),
    ]
