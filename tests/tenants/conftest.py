"""Fixtures of the tenants tests (quota isolation, the API on the sandbox) and helpers."""

import uuid

import pytest

from tenants import ratelimit


@pytest.fixture
def own_quota(settings, tmp_path):
    """A quota store of this test's own: other test runs on the machine share var/."""
    settings.RATE_LIMIT_SQLITE_PATH = str(tmp_path / "quota.sqlite3")
    settings.RATE_LIMIT_KEY_PREFIX = f"test-quota-{uuid.uuid4().hex}"
    settings.EINVOICE_RETRY_BACKOFF_SECONDS = 0
    yield
    ratelimit.reset()


@pytest.fixture
def api(db, portal_on_sandbox, own_quota):
    """The portal's Admin API client pointed at a freshly reset sandbox."""
    return portal_on_sandbox


def remote(sandbox, path: str) -> dict:
    """What the sandbox holds (read with the org key, outside the portal)."""
    response = sandbox.admin("GET", path)
    assert response.status_code == 200, response.text
    return response.json()


def requests_to(sandbox, method: str, path_prefix: str) -> list[dict]:
    return [
        r for r in sandbox.requests() if r["method"] == method and r["path"].startswith(path_prefix)
    ]
