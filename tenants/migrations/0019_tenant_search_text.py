"""One trigram index over the tenant's name and description on PostgreSQL
(core.trigram.joined_trigram_index): the search reads their common trigrams once."""

from django.db import migrations

from core.trigram import joined_trigram_index


class Migration(migrations.Migration):
    dependencies = [("tenants", "0018_tenant_search_sqlite")]

    operations = [
        joined_trigram_index("tenants_tenant", ("name", "description"), name="tenant_search_text")
    ]
