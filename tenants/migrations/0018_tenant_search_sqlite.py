"""The staff tenant search's trigram table on SQLite (core.trigram.sqlite_search_table)."""

from django.db import migrations

from core.trigram import sqlite_search_table


class Migration(migrations.Migration):
    dependencies = [("tenants", "0017_peppol_reason_code")]

    operations = [
        sqlite_search_table(
            "tenants_tenant",
            ("name", "description", "company_number", "company_tax_id", "peppol_id"),
        )
    ]
