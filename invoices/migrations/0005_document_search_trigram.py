"""Trigram indexes for the documents list's search and buyer/seller filter on PostgreSQL
(core.trigram): the columns of invoices.views.SEARCHES."""

from django.db import migrations

from core.trigram import trigram_indexes


class Migration(migrations.Migration):
    dependencies = [("invoices", "0004_list_indexes")]

    operations = [
        trigram_indexes(
            "invoices_document",
            (
                "invoice_id",
                "customer_name",
                "customer_tax_id",
                "vendor_name",
                "vendor_tax_id",
                "purchase_order",
                "note",
            ),
            prefix="document_search",
        )
    ]
