from importlib.util import find_spec

from django.urls import include, path

from tenants import views

app_name = "tenants"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("tenants/", views.tenant_list, name="tenant_list"),
    path("tenants/new/", views.tenant_create, name="tenant_create"),
    path("tenants/suggest/", views.tenant_suggest, name="tenant_suggest"),
    path("tenants/<int:pk>/", views.tenant_detail, name="tenant_detail"),
    path("tenants/<int:pk>/edit/", views.tenant_edit, name="tenant_edit"),
    path("tenants/<int:pk>/delete/", views.tenant_delete, name="tenant_delete"),
    path("tenants/<int:pk>/refresh/", views.tenant_refresh, name="tenant_refresh"),
    path("tenants/<int:pk>/keys/new/", views.key_create, name="key_create"),
    path("tenants/<int:pk>/peppol/status/", views.peppol_status, name="peppol_status"),
    path("tenants/<int:pk>/peppol/register/", views.peppol_register, name="peppol_register"),
    path("tenants/<int:pk>/peppol/card/", views.peppol_card, name="peppol_card"),
    path("tenants/<int:pk>/peppol/unregister/", views.peppol_unregister, name="peppol_unregister"),
    path("tenants/<int:pk>/users/new/", views.user_create, name="user_create"),
    path("keys/<int:pk>/reveal/", views.key_reveal, name="api_key_reveal"),
    path("keys/<int:pk>/edit/", views.key_edit, name="key_edit"),
    path("keys/<int:pk>/revoke/", views.key_revoke, name="key_revoke"),
    path("audit/", views.audit_list, name="audit_list"),
    path("audit/export.csv", views.audit_export, name="audit_export"),
]

# The job screens (onboarding, CSV, rotation, sync) share this namespace: tenants:jobs, …
if find_spec("tenants.jobs.urls") is not None:
    urlpatterns.append(path("", include("tenants.jobs.urls")))
