"""The login backend: a customer and its tenant in one read; old sessions kept; one hash."""

from unittest import mock

from django.contrib.auth import authenticate
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.backends import UserBackend
from accounts.models import User
from tests.conftest import PASSWORD


def _login_request():
    return RequestFactory().post(reverse("login"))


def test_it_reads_a_customer_and_its_tenant_in_one_query(carol, acme):
    with CaptureQueriesContext(connection) as queries:
        user = UserBackend().get_user(carol.pk)
        assert user.tenant.name == acme.name
    assert len(queries) == 1


def test_it_keeps_a_session_begun_with_djangos_backend_logged_in(client, carol):
    client.force_login(carol, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get(reverse("invoices:documents")).status_code == 200


def test_it_logs_in_with_the_right_password_and_names_itself_in_the_session(client, carol):
    r = client.post(reverse("login"), {"username": "carol", "password": PASSWORD})
    assert r.status_code == 302
    assert client.session["_auth_user_backend"] == "accounts.backends.UserBackend"


def test_it_hashes_a_wrong_password_once(carol):
    with mock.patch.object(User, "check_password", autospec=True, return_value=False) as check:
        assert authenticate(_login_request(), username="carol", password="wrong") is None  # noqa: S106
    assert check.call_count == 1


def test_it_refuses_an_inactive_user(carol):
    carol.is_active = False
    carol.save(update_fields=["is_active"])
    assert authenticate(_login_request(), username="carol", password=PASSWORD) is None
    assert UserBackend().get_user(carol.pk) is None
