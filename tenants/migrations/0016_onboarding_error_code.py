"""An onboarding job's last error as a code with parameters too (jobs.models.error_fields)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('tenants', '0015_current_key_date'),
    ]

    operations = [
        migrations.AddField(
            model_name='onboardingjob',
            name='last_error_code',
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddField(
            model_name='onboardingjob',
            name='last_error_params',
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
