"""A Peppol registration's state reason as a code with parameters too (core.texts)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('tenants', '0016_onboarding_error_code'),
    ]

    operations = [
        migrations.AddField(
            model_name='peppolregistration',
            name='state_reason_code',
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddField(
            model_name='peppolregistration',
            name='state_reason_params',
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
