"""Canary: the tenant's key value never shows in a log line, a page, a stored row or a message."""

import logging

from django.urls import reverse

from invoices.models import Document, DocumentEvent, Mailbox, WebhookEvent
from tests.invoices.conftest import NOT_ON_PEPPOL, editor_post, line


def test_the_key_never_leaks(client, carol, seller, buyer, portal_on_sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    key = seller.key
    client.force_login(carol)
    pages = [client.get(reverse("invoices:documents")), client.get(reverse("invoices:new_invoice"))]
    pages.append(
        client.post(reverse("invoices:new_invoice"), editor_post([line()], invoice_id="K-1"))
    )
    pages.append(
        client.post(
            reverse("invoices:new_invoice"), editor_post([line()], action="send", invoice_id="K-1")
        )
    )
    sent = Document.objects.get(invoice_id="K-1")
    pages.append(client.get(reverse("invoices:detail", args=[sent.pk])))
    pages.append(client.get(reverse("invoices:ubl", args=[sent.pk])))
    failing = editor_post(
        [line()], action="send", invoice_id="K-2", customer_tax_id=NOT_ON_PEPPOL["company_tax_id"]
    )
    pages.append(client.post(reverse("invoices:new_invoice"), failing))
    # Revoked at the API: the refusal is explained, without the key.
    keys = portal_on_sandbox.admin(
        "GET", f"/api/admin/tenants/{seller.remote['id']}/api-keys"
    ).json()
    for k in keys["api_keys"]:
        portal_on_sandbox.admin(
            "DELETE", f"/api/admin/tenants/{seller.remote['id']}/api-keys/{k['id']}"
        )
    pages.append(
        client.post(
            reverse("invoices:new_invoice"), editor_post([line()], action="send", invoice_id="K-3")
        )
    )
    pages.append(client.get(reverse("invoices:detail", args=[sent.pk])))

    assert any("refused your API key" in p.content.decode() for p in pages)
    for page in pages:
        assert key not in page.content.decode(errors="replace")
    assert key not in caplog.text
    stored = [
        *Document.objects.values_list("last_error", "failure_reason", "note"),
        *DocumentEvent.objects.values_list("message", flat=True),
        *Mailbox.objects.values_list("webhook_error", "webhook_secret_encrypted"),
        *WebhookEvent.objects.values_list("outcome", flat=True),
    ]
    assert key not in repr(stored)
