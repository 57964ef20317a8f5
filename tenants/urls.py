"""The staff screens, under /staff/ (namespace `tenants`)."""

from django.urls import path

from tenants.views import (
    audit,
    bulk,
    dashboard,
    handover,
    jobs,
    keys,
    onboarding,
    peppol,
    rotation,
    sync,
    users,
)
from tenants.views import tenants as tenant_views

app_name = "tenants"

# The mirror: tenants, their keys, Peppol registration and logins, the audit log.
tenant_patterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("tenants/", tenant_views.tenant_list, name="tenant_list"),
    path("tenants/export.csv", tenant_views.tenant_export, {"fmt": "csv"}, name="tenant_csv"),
    path("tenants/export.xlsx", tenant_views.tenant_export, {"fmt": "xlsx"}, name="tenant_xlsx"),
    path("tenants/new/", tenant_views.tenant_create, name="tenant_create"),
    path("tenants/suggest/", tenant_views.tenant_suggest, name="tenant_suggest"),
    path("tenants/<int:pk>/", tenant_views.tenant_detail, name="tenant_detail"),
    path("tenants/<int:pk>/edit/", tenant_views.tenant_edit, name="tenant_edit"),
    path("tenants/<int:pk>/delete/", tenant_views.tenant_delete, name="tenant_delete"),
    path("tenants/<int:pk>/refresh/", tenant_views.tenant_refresh, name="tenant_refresh"),
    path("tenants/<int:pk>/keys/new/", keys.key_create, name="key_create"),
    path("tenants/<int:pk>/peppol/status/", peppol.peppol_status, name="peppol_status"),
    path("tenants/<int:pk>/peppol/register/", peppol.peppol_register, name="peppol_register"),
    path("tenants/<int:pk>/peppol/card/", peppol.peppol_card, name="peppol_card"),
    path("tenants/<int:pk>/peppol/unregister/", peppol.peppol_unregister, name="peppol_unregister"),
    path("tenants/<int:pk>/peppol/watch/", peppol.peppol_watch, name="peppol_watch"),
    path(
        "tenants/<int:pk>/peppol/watch/stop/",
        peppol.peppol_watch_cancel,
        name="peppol_watch_cancel",
    ),
    path("tenants/<int:pk>/users/new/", users.user_create, name="user_create"),
    path("tenants/<int:pk>/handover/", handover.handover_send, name="handover_send"),
    path("tenants/<int:pk>/handover/revoke/", handover.handover_revoke, name="handover_revoke"),
    path("tenants/<int:pk>/handover/resend/", handover.handover_resend, name="handover_resend"),
    path("keys/<int:pk>/reveal/", keys.key_reveal, name="api_key_reveal"),
    path("keys/<int:pk>/edit/", keys.key_edit, name="key_edit"),
    path("keys/<int:pk>/revoke/", keys.key_revoke, name="key_revoke"),
    path("audit/", audit.audit_list, name="audit_list"),
    path("audit/export.csv", audit.audit_export, name="audit_export"),
    path("audit/checkpoint.json", audit.audit_checkpoint, name="audit_checkpoint"),
]

# The jobs: onboarding (one or a CSV), bulk actions on selected tenants, the jobs list, key
# rotation, reconciliation.
job_patterns = [
    path("tenants/bulk/", bulk.bulk_preview, name="bulk_preview"),
    path("tenants/bulk/history/", bulk.bulk_list, name="bulk_list"),
    path("tenants/bulk/<int:pk>/", bulk.bulk_action, name="bulk_action"),
    path("tenants/bulk/<int:pk>/run/", bulk.bulk_action_run, name="bulk_action_run"),
    path("tenants/bulk/<int:pk>/cancel/", bulk.bulk_action_cancel, name="bulk_action_cancel"),
    path("onboard/", onboarding.onboard, name="onboard"),
    path("onboard/csv/", onboarding.bulk_upload, name="bulk_upload"),
    path("onboard/csv/template.csv", onboarding.bulk_template, name="bulk_template"),
    path("onboard/csv/history/", onboarding.bulk_history, name="bulk_history"),
    path("onboard/csv/<int:pk>/", onboarding.bulk_detail, name="bulk"),
    path("onboard/csv/<int:pk>/corrections/", onboarding.bulk_corrections, name="bulk_corrections"),
    path("onboard/csv/<int:pk>/start/", onboarding.bulk_start, name="bulk_start"),
    path("onboard/csv/<int:pk>/retry/", onboarding.bulk_retry, name="bulk_retry"),
    path("onboard/csv/<int:pk>/invite/", onboarding.bulk_invite, name="bulk_invite"),
    path("onboard/csv/<int:pk>/key-links/", onboarding.bulk_key_links, name="bulk_key_links"),
    path("onboard/csv/<int:pk>/results.csv", onboarding.bulk_results, name="bulk_results"),
    path("jobs/", jobs.job_list, name="jobs"),
    path("jobs/<int:pk>/", jobs.job_detail, name="job"),
    path("jobs/<int:pk>/retry/", jobs.job_retry, name="job_retry"),
    path("rotations/", rotation.rotations, name="rotations"),
    path("tenants/<int:pk>/rotation/", rotation.tenant_rotation, name="tenant_rotation"),
    path("tenants/<int:pk>/rotate/", rotation.rotate_now, name="rotate_now"),
    path("sync/", sync.sync, name="sync"),
    path("sync/run/", sync.sync_run, name="sync_run"),
    path("sync/<int:pk>/items/<int:index>/", sync.sync_action, name="sync_action"),
]

urlpatterns = tenant_patterns + job_patterns
