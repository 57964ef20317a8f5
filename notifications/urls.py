"""Notification settings (staff under /staff/, customers beside their invoices), webhook
endpoints and their delivery log (staff)."""

from django.urls import path

from notifications import views

app_name = "notifications"

urlpatterns = [
    path("staff/notifications/", views.staff_settings, name="settings"),
    path("staff/notifications/webhooks/", views.endpoints, name="endpoints"),
    path(
        "staff/notifications/webhooks/<int:pk>/secret/",
        views.endpoint_secret,
        name="endpoint_secret",
    ),
    path(
        "staff/notifications/webhooks/<int:pk>/active/",
        views.endpoint_active,
        name="endpoint_active",
    ),
    path("staff/notifications/webhooks/<int:pk>/test/", views.endpoint_test, name="endpoint_test"),
    path("staff/notifications/deliveries/", views.deliveries, name="deliveries"),
    path("notifications/", views.customer_settings, name="customer_settings"),
]
