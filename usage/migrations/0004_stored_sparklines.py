"""The tenant list's sparklines stored on the collection rows (usage.sparklines), drawn here
for every tenant collected so far: the 30 days up to today, as a collection draws them."""

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from django.db import migrations, models

from usage.charts import sparkline_points

DAYS = 30


def backfill(apps, schema_editor):
    UsageCollection = apps.get_model("usage", "UsageCollection")
    UsageDay = apps.get_model("usage", "UsageDay")
    today = datetime.now(UTC).date()
    first = today - timedelta(days=DAYS - 1)
    lines: dict[int, list[int]] = defaultdict(lambda: [0] * DAYS)
    days = UsageDay.objects.filter(day__gte=first, day__lte=today).order_by()
    for tenant_id, day, sent, received in days.values_list("tenant_id", "day", "sent", "received"):
        lines[tenant_id][(day - first).days] = sent + received
    for row in UsageCollection.objects.all().only("pk", "tenant_id").iterator():
        values = lines.get(row.tenant_id, [0] * DAYS)
        UsageCollection.objects.filter(pk=row.pk).update(
            sparkline_day=today,
            sparkline_counts=",".join(map(str, values)),
            sparkline_points=sparkline_points(values),
        )


class Migration(migrations.Migration):
    dependencies = [("usage", "0003_rendered_panel")]

    operations = [
        migrations.AddField(
            model_name="usagecollection",
            name="sparkline_counts",
            field=models.TextField(blank=True, default=""),
        ),
        migrations.AddField(
            model_name="usagecollection",
            name="sparkline_day",
            field=models.DateField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="usagecollection",
            name="sparkline_points",
            field=models.TextField(blank=True, default=""),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
