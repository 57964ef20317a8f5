"""Trigram indexes for the staff tenant search on PostgreSQL (core.trigram)."""

from django.db import migrations

from core.trigram import trigram_indexes


class Migration(migrations.Migration):
    dependencies = [("tenants", "0008_list_indexes")]

    operations = [
        trigram_indexes(
            "tenants_tenant",
            ("name", "description", "company_number", "company_tax_id", "peppol_id"),
            prefix="tenant_search",
        )
    ]
