"""Login throttling, two-factor login for staff, and the production settings profile."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[2]


def test_it_locks_out_after_repeated_failures(client, otto, settings):
    for _ in range(settings.AXES_USER_FAILURE_LIMIT - 1):
        r = client.post(reverse("login"), {"username": "otto", "password": "wrong"})
        assert r.status_code == 200
        assert b"Please enter a correct username and password" in r.content
    r = client.post(reverse("login"), {"username": "otto", "password": "wrong"})
    assert r.status_code == 429
    # Even the right password is refused now.
    r = client.post(reverse("login"), {"username": "otto", "password": PASSWORD})
    assert r.status_code == 429
    assert b"Too many failed logins" in r.content
    assert "_auth_user_id" not in client.session


def test_it_asks_staff_with_a_device_for_a_code(client, otto, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # django-otp slows retries after a wrong code
    device = TOTPDevice.objects.create(user=otto, name="phone", confirmed=True)
    client.post(reverse("login"), {"username": "otto", "password": PASSWORD})
    r = client.get(reverse("tenants:dashboard"))
    assert r.status_code == 302 and r["Location"].startswith(reverse("otp_verify"))

    r = client.post(reverse("otp_verify"), {"token": "000000", "next": "/staff/"})
    assert b"That code is not valid" in r.content

    code = f"{totp(device.bin_key):06d}"
    r = client.post(reverse("otp_verify"), {"token": code, "next": "/staff/"})
    assert r.status_code == 302 and r["Location"] == "/staff/"
    assert client.get(reverse("tenants:dashboard")).status_code == 200


def test_it_makes_two_factor_mandatory_for_staff_only(client, otto, carol, settings):
    settings.REQUIRE_STAFF_2FA = True
    client.force_login(otto)
    r = client.get(reverse("tenants:dashboard"))
    assert r.status_code == 302 and r["Location"] == reverse("otp_setup")

    r = client.get(reverse("otp_setup"))
    assert b"<svg" in r.content  # the QR code to scan
    device = TOTPDevice.objects.get(user=otto, confirmed=False)
    r = client.post(reverse("otp_setup"), {"token": f"{totp(device.bin_key):06d}"})
    assert r.status_code == 302
    assert client.get(reverse("tenants:dashboard")).status_code == 200

    client.force_login(carol)
    assert client.get(reverse("invoices:documents")).status_code == 200


def _manage_in_production(*args: str, without: str = "") -> subprocess.CompletedProcess:
    """Run manage.py with the production profile, its secrets set (all but `without`),
    and none of the developer's .env or test-only flags."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings_production",
            "ENV_FILE": "/dev/null",
            "SECRET_KEY": "x" * 20 + "production-secret-key-for-the-deploy-check-0123456789",
            "FIELD_ENCRYPTION_KEYS": "Y2hhbmdlLW1lLWNoYW5nZS1tZS1jaGFuZ2UtbWUtMTI=",
            "EINVOICE_ORG_API_KEY": "org-key-from-the-environment",
            "ALLOWED_HOSTS": "portal.example.com",
        }
    )
    env.pop(without, None)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )


def test_it_passes_the_deploy_check_with_production_settings():
    result = _manage_in_production("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("missing", ["SECRET_KEY", "FIELD_ENCRYPTION_KEYS"])
def test_it_refuses_to_start_in_production_without_secrets(missing):
    result = _manage_in_production("check", without=missing)
    assert result.returncode != 0
    assert missing in result.stderr
