"""An audit entry's error as a code with parameters too, worded in each reader's language.

Rows written before keep both empty, and their hashes do not cover them (AuditEntry.canonical
adds them only when there is a code), so the chain verifies across old and new rows."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0002_keyed_chain_and_sqlite_triggers'),
    ]

    operations = [
        migrations.AddField(
            model_name='auditentry',
            name='error_code',
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddField(
            model_name='auditentry',
            name='error_params',
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
