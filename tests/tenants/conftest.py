"""Fixtures of the tenants tests (the API on the sandbox) and helpers."""

import pytest


@pytest.fixture
def api(db, portal_on_sandbox):
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
