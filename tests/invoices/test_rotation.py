"""Key rotation and revocation, seen from the invoice screens (against the sandbox)."""

import pytest
from django.db import transaction
from django.urls import reverse

from invoices.models import Document, State
from tenants.models import ApiKey
from tests.invoices.conftest import editor_post, line

NEW = reverse("invoices:new_invoice")


def remote_keys(sandbox, tenant_id) -> list[dict]:
    return sandbox.admin("GET", f"/api/admin/tenants/{tenant_id}/api-keys").json()["api_keys"]


def new_remote_key(sandbox, tenant_id) -> tuple[str, str]:
    body = sandbox.admin(
        "POST", f"/api/admin/tenants/{tenant_id}/api-keys", json={"name": "rotated"}
    ).json()
    return body["id"], body["key"]


def revoke_remote(sandbox, tenant_id, key_id) -> None:
    assert (
        sandbox.admin("DELETE", f"/api/admin/tenants/{tenant_id}/api-keys/{key_id}").status_code
        == 200
    )


def switch_locally(tenant, remote_id: str, value: str) -> ApiKey:
    """What the rotation does: the new key becomes current in one transaction."""
    with transaction.atomic():
        tenant.api_keys.filter(is_current=True).update(is_current=False)
        key = ApiKey(tenant=tenant, remote_id=remote_id, name="rotated", is_current=True)
        key.set_value(value)
        key.save()
    return key


@pytest.fixture
def carol_client(client, carol):
    client.force_login(carol)
    return client


def test_it_keeps_working_through_a_rotation_and_the_end_of_the_grace_period(
    carol_client, seller, buyer, portal_on_sandbox
):
    sandbox = portal_on_sandbox
    tenant_id = seller.remote["id"]
    old_id = remote_keys(sandbox, tenant_id)[0]["id"]
    assert (
        'id="validated"'
        in carol_client.post(NEW, editor_post([line()], invoice_id="ROT-1")).content.decode()
    )

    new_id, value = new_remote_key(sandbox, tenant_id)
    switch_locally(seller.tenant, new_id, value)
    revoke_remote(sandbox, tenant_id, old_id)  # the grace period ends
    assert (
        carol_client.post(NEW, editor_post([line()], action="send", invoice_id="ROT-1")).status_code
        == 302
    )
    assert Document.objects.get(invoice_id="ROT-1").state == State.TRANSIT


def test_it_rereads_the_key_and_retries_once_when_the_api_answers_401(
    carol_client, seller, buyer, portal_on_sandbox
):
    portal_on_sandbox.set_faults(
        rules=[
            {
                "method": "POST",
                "path": "/api/documents/",
                "action": "status",
                "status": 401,
                "times": 1,
            }
        ]
    )
    response = carol_client.post(NEW, editor_post([line()], action="send", invoice_id="ROT-2"))
    assert response.status_code == 302  # the customer sees no failure
    creates = [
        r
        for r in portal_on_sandbox.requests()
        if r["method"] == "POST" and r["path"] == "/api/documents/"
    ]
    assert [r["status"] for r in creates] == [401, 201]


def test_it_says_what_happened_when_the_key_was_revoked_at_the_api(
    carol_client, seller, portal_on_sandbox
):
    sandbox = portal_on_sandbox
    revoke_remote(sandbox, seller.remote["id"], remote_keys(sandbox, seller.remote["id"])[0]["id"])
    response = carol_client.post(
        NEW, editor_post([line("Croissants")], action="send", invoice_id="ROT-3")
    )
    # Nothing typed is lost: the draft is kept here, unsent, and the page says why.
    draft = Document.objects.get(invoice_id="ROT-3")
    assert response.status_code == 302
    assert response["Location"] == reverse("invoices:detail", args=[draft.pk])
    assert draft.state == State.DRAFT and not draft.remote_id
    page = carol_client.get(response["Location"]).content.decode()
    assert "e-invoice.be refused your API key" in page and "Ask your reseller" in page
    assert "Croissants" in page
    # The list still works from the local mirror.
    assert carol_client.get(reverse("invoices:documents")).status_code == 200
