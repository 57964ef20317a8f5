"""URLs of the job screens. Included without a namespace of its own from tenants/urls.py,
so the names live in the `tenants` namespace (tenants:jobs, tenants:onboard, ...)."""

from django.urls import path

from tenants.jobs import views

urlpatterns = [
    path("onboard/", views.onboard, name="onboard"),
    path("onboard/csv/", views.bulk_upload, name="bulk_upload"),
    path("onboard/csv/template.csv", views.bulk_template, name="bulk_template"),
    path("onboard/csv/<int:pk>/", views.bulk_detail, name="bulk"),
    path("onboard/csv/<int:pk>/start/", views.bulk_start, name="bulk_start"),
    path("onboard/csv/<int:pk>/retry/", views.bulk_retry, name="bulk_retry"),
    path("onboard/csv/<int:pk>/results.csv", views.bulk_results, name="bulk_results"),
    path("jobs/", views.job_list, name="jobs"),
    path("jobs/<int:pk>/", views.job_detail, name="job"),
    path("jobs/<int:pk>/retry/", views.job_retry, name="job_retry"),
    path("rotations/", views.rotations, name="rotations"),
    path("tenants/<int:pk>/rotation/", views.tenant_rotation, name="tenant_rotation"),
    path("tenants/<int:pk>/rotate/", views.rotate_now, name="rotate_now"),
    path("sync/", views.sync, name="sync"),
    path("sync/run/", views.sync_run, name="sync_run"),
    path("sync/<int:pk>/items/<int:index>/", views.sync_action, name="sync_action"),
]
