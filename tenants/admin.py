"""Django admin views of the mirror (read-only; the audit log's are in core.admin).

Changes to tenants and keys go through the staff screens, which call e-invoice.be; the
admin is for looking. Key values are never shown here.
"""

from django.contrib import admin

from core.admin import ReadOnlyAdmin
from tenants.models import ApiKey, PeppolRegistration, Tenant


@admin.register(Tenant)
class TenantAdmin(ReadOnlyAdmin):
    list_display = (
        "name",
        "description",
        "company_tax_id",
        "company_number",
        "peppol_id",
        "test_mode",
        "is_deleted",
    )
    list_filter = ("test_mode", "is_deleted", "peppol__registered")
    search_fields = ("name", "description", "company_tax_id", "company_number", "peppol_id")
    list_select_related = ("peppol",)
    list_per_page = 50


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdmin):
    list_display = ("name", "tenant", "fingerprint", "is_current", "created_at", "revoked_at")
    list_filter = ("is_current",)
    search_fields = ("name", "tenant__name", "fingerprint")
    list_select_related = ("tenant",)
    exclude = ("encrypted_value",)


@admin.register(PeppolRegistration)
class PeppolRegistrationAdmin(ReadOnlyAdmin):
    list_display = ("tenant", "registered", "status", "peppol_id", "last_checked_at")
    list_select_related = ("tenant",)
