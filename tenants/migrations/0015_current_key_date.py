"""The current key's date on the tenant row (Tenant.current_key_created_at), filled in from
each tenant's current key, with the index the list's "oldest key first" reads."""

from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def backfill(apps, schema_editor):
    Tenant = apps.get_model("tenants", "Tenant")
    ApiKey = apps.get_model("tenants", "ApiKey")
    current = ApiKey.objects.filter(tenant=OuterRef("pk"), is_current=True)
    Tenant.objects.update(current_key_created_at=Subquery(current.values("created_at")[:1]))


class Migration(migrations.Migration):
    dependencies = [("tenants", "0014_bulk_action_cancel")]

    operations = [
        migrations.AddField(
            model_name="tenant",
            name="current_key_created_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="tenant",
            index=models.Index(
                condition=models.Q(("is_deleted", False)),
                fields=["current_key_created_at", "name", "id"],
                name="tenant_live_key_age",
            ),
        ),
    ]
