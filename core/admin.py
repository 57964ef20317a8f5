"""Django admin view of the audit log (read-only), and the read-only base other apps use.

Changes go through the staff screens; the admin is for looking.
"""

from django.contrib import admin

from core.models import AuditEntry


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("sequence", "created_at", "actor", "action", "tenant", "target", "outcome")
    list_filter = ("outcome", "action")
    search_fields = ("actor", "action", "target")
    list_select_related = ("tenant",)
