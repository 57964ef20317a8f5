"""The audit log, moved here from the tenants app: state only, the tables already exist
(created by tenants 0002 with the PostgreSQL append-only trigger)."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('tenants', '0005_audit_log_moves_to_core'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
      migrations.SeparateDatabaseAndState(database_operations=[], state_operations=[
        migrations.CreateModel(
            name='AuditHead',
            fields=[
                ('id', models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False)),
                ('sequence', models.PositiveBigIntegerField(default=0)),
                ('hash', models.CharField(default='0000000000000000000000000000000000000000000000000000000000000000', max_length=64)),
            ],
            options={
                'db_table': 'tenants_audithead',
                'constraints': [models.CheckConstraint(condition=models.Q(('id', 1)), name='audit_head_single')],
            },
        ),
        migrations.CreateModel(
            name='AuditEntry',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('sequence', models.PositiveBigIntegerField(unique=True, verbose_name='sequence')),
                ('created_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now, verbose_name='time')),
                ('actor', models.CharField(db_index=True, max_length=150, verbose_name='actor')),
                ('action', models.CharField(db_index=True, max_length=64, verbose_name='action')),
                ('target', models.CharField(blank=True, max_length=200, verbose_name='target')),
                ('outcome', models.CharField(choices=[('success', 'success'), ('error', 'error')], max_length=16, verbose_name='outcome')),
                ('error', models.TextField(blank=True, verbose_name='error')),
                ('changes', models.JSONField(blank=True, default=dict, verbose_name='changes')),
                ('ip', models.GenericIPAddressField(blank=True, null=True, verbose_name='IP address')),
                ('user_agent', models.CharField(blank=True, max_length=300, verbose_name='user agent')),
                ('prev_hash', models.CharField(max_length=64)),
                ('hash', models.CharField(max_length=64, unique=True)),
                ('tenant', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='tenants.tenant')),
                ('user', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'audit entry',
                'verbose_name_plural': 'audit log',
                'db_table': 'tenants_auditentry',
                'ordering': ['-sequence'],
                'indexes': [models.Index(fields=['tenant', '-sequence'], name='audit_tenant_seq')],
            },
        ),
    ]),
]
