"""The customer-facing page of the job screens, outside /staff/: the one-time view of a
rotated key, linked from the rotation email (portal/urls.py includes this under keys/)."""

from django.urls import path

from tenants.jobs import views

app_name = "keys"
urlpatterns = [
    path("reveal/<str:token>/", views.key_reveal, name="reveal"),
]
