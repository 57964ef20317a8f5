"""The customer-facing page of the tenants app, outside /staff/: the one-time view of a
rotated key, linked from the rotation email (portal/urls.py includes this under keys/)."""

from django.urls import path

from tenants.views import reveal

app_name = "keys"
urlpatterns = [
    path("reveal/<str:token>/", reveal.key_reveal, name="reveal"),
]
