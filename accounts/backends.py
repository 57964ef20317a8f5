"""The login backend: Django's, reading a user's tenant with the user."""

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest


class UserBackend(ModelBackend):
    """Every request of a customer reads the user and then its tenant: one query, not two.

    Django's `ModelBackend` stays listed after this one only so that sessions begun before
    this backend existed (they name Django's) stay logged in. Credentials this backend
    refuses end the login there: Django's would only hash the same password a second time."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        user = super().authenticate(request, username, password, **kwargs)
        if user is None:
            raise PermissionDenied  # the login fails as it would with no backend after this
        return user

    def get_user(self, user_id: Any) -> Any:
        user_model = get_user_model()
        try:
            user = user_model._default_manager.select_related("tenant").get(pk=user_id)
        except user_model.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
