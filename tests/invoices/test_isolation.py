"""A customer reaches only their own tenant's documents: any other id is a 404, in every view,
download and htmx partial. Staff see a tenant's documents read-only."""

import pytest
from django.urls import get_resolver, reverse

from invoices.models import Direction, Document, State

# (method, url name, extra headers): every customer URL that takes a document id.
DOCUMENT_URLS = [
    ("get", "invoices:detail", {}),
    ("get", "invoices:state", {"HTTP_HX_REQUEST": "true"}),
    ("get", "invoices:state", {}),
    ("get", "invoices:ubl", {}),
    ("get", "invoices:document", {}),
    ("get", "invoices:pdf", {}),
    ("get", "invoices:pdf", {"QUERY_STRING": "download=1"}),
    ("post", "invoices:send", {}),
    ("post", "invoices:delete", {}),
    ("get", "invoices:add_attachment", {}),
    ("post", "invoices:add_attachment", {}),
    ("post", "invoices:add_attachment", {"HTTP_HX_REQUEST": "true"}),
    ("get", "invoices:edit", {}),
    ("post", "invoices:edit", {}),
]
# URLs of one file of a document: (method, url name).
ATTACHMENT_URLS = [
    ("get", "invoices:attachment"),
    ("post", "invoices:remove_attachment"),
]


@pytest.fixture
def docs(acme, globex) -> dict[str, Document]:
    """One draft, one failed and one received document per tenant."""
    out = {}
    for tenant in (acme, globex):
        for state, direction in (
            (State.DRAFT, Direction.OUTBOUND),
            (State.FAILED, Direction.OUTBOUND),
            (State.RECEIVED, Direction.INBOUND),
        ):
            out[f"{tenant.name}-{state}"] = Document.objects.create(
                tenant=tenant,
                invoice_id=f"{tenant.name.upper()}-{state}",
                remote_id=f"doc-{tenant.name}-{state}",
                state=state,
                direction=direction,
                customer_name=f"buyer of {tenant.name}",
            )
    return out


def test_every_document_url_is_in_the_table():
    (invoices,) = [
        r for r in get_resolver().url_patterns if getattr(r, "namespace", None) == "invoices"
    ]
    names = {
        f"invoices:{p.name}"
        for p in invoices.url_patterns
        if "pk" in p.pattern.converters and "tenant_id" not in p.pattern.converters
    }
    assert names == {name for _m, name, _h in DOCUMENT_URLS} | {n for _m, n in ATTACHMENT_URLS}


@pytest.mark.parametrize(("persona", "other"), [("carol", "globex"), ("bob", "acme")])
@pytest.mark.parametrize("state", [State.DRAFT, State.RECEIVED])
@pytest.mark.parametrize(("method", "name"), ATTACHMENT_URLS)
def test_it_answers_404_for_another_tenants_file(
    client, request, docs, persona, other, state, method, name, monkeypatch
):
    from invoices.models import Attachment

    calls = []
    monkeypatch.setattr("einvoice.tenant.TenantApi.call", lambda self, op: calls.append(op))
    client.force_login(request.getfixturevalue(persona))
    target = docs[f"{other}-{state}"]
    theirs = Attachment.objects.create(
        document=target, file_name="secret.pdf", file_type="application/pdf", content=b"%PDF-"
    )
    mine = docs[f"{'acme' if other == 'globex' else 'globex'}-{state}"]
    for args in ([target.pk, theirs.pk], [mine.pk, theirs.pk]):
        response = getattr(client, method)(reverse(name, args=args))
        assert response.status_code == 404
        assert b"secret.pdf" not in response.content and b"%PDF-" not in response.content
    assert calls == []
    assert Attachment.objects.filter(pk=theirs.pk).exists()


@pytest.mark.parametrize(("persona", "other"), [("carol", "globex"), ("bob", "acme")])
@pytest.mark.parametrize("state", [State.DRAFT, State.FAILED, State.RECEIVED])
@pytest.mark.parametrize(("method", "name", "headers"), DOCUMENT_URLS)
def test_it_answers_404_for_another_tenants_document(
    client, request, docs, persona, other, state, method, name, headers, monkeypatch
):
    calls = []
    monkeypatch.setattr("einvoice.tenant.TenantApi.call", lambda self, op: calls.append(op))
    client.force_login(request.getfixturevalue(persona))
    target = docs[f"{other}-{state}"]
    response = getattr(client, method)(reverse(name, args=[target.pk]), **headers)
    assert response.status_code == 404
    assert target.invoice_id not in response.content.decode()
    assert calls == []  # nothing was asked of the API with anyone's key
    target.refresh_from_db()
    assert target.state == state


@pytest.mark.parametrize(
    ("persona", "mine", "theirs"), [("carol", "acme", "globex"), ("bob", "globex", "acme")]
)
def test_lists_and_searches_show_only_the_own_tenants_documents(
    client, request, docs, persona, mine, theirs, monkeypatch
):
    monkeypatch.setattr("invoices.inbound.sync_inbox", lambda tenant, force=False: 0)
    monkeypatch.setattr("invoices.mailbox.ensure_setup", lambda tenant: None)
    client.force_login(request.getfixturevalue(persona))
    for url in (reverse("invoices:documents"), reverse("invoices:inbox")):
        for params in ({}, {"q": theirs.upper()}, {"party": theirs}, {"state": "FAILED"}):
            page = client.get(
                url, params, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="results"
            ).content.decode()
            assert theirs.upper() not in page
    assert f"{mine.upper()}-FAILED" in client.get(reverse("invoices:documents")).content.decode()
    assert f"{mine.upper()}-RECEIVED" in client.get(reverse("invoices:inbox")).content.decode()


def test_staff_see_a_tenants_documents_read_only(client, otto, docs, acme, globex):
    client.force_login(otto)
    listing = client.get(reverse("invoices:staff_documents", args=[acme.pk])).content.decode()
    assert "ACME-FAILED" in listing and "GLOBEX" not in listing
    inbox = client.get(
        reverse("invoices:staff_documents", args=[acme.pk]), {"direction": "INBOUND"}
    ).content.decode()
    assert "ACME-RECEIVED" in inbox
    detail = client.get(reverse("invoices:staff_detail", args=[acme.pk, docs["acme-FAILED"].pk]))
    page = detail.content.decode()
    assert detail.status_code == 200 and "ACME-FAILED" in page
    assert "Send again" not in page and "Delete draft" not in page and "/invoices/new/" not in page
    # A document of another tenant under this tenant's URL: 404.
    wrong = client.get(reverse("invoices:staff_detail", args=[acme.pk, docs["globex-FAILED"].pk]))
    assert wrong.status_code == 404
    # Staff cannot create or send.
    assert client.get(reverse("invoices:new_invoice")).status_code == 403
    assert client.post(reverse("invoices:send", args=[docs["acme-DRAFT"].pk])).status_code == 403


def test_customers_cannot_use_the_staff_views(client, carol, acme, docs):
    client.force_login(carol)
    assert client.get(reverse("invoices:staff_documents", args=[acme.pk])).status_code == 403
    assert (
        client.get(
            reverse("invoices:staff_detail", args=[acme.pk, docs["acme-DRAFT"].pk])
        ).status_code
        == 403
    )


def test_a_credit_note_cannot_correct_another_tenants_invoice(client, carol, globex, monkeypatch):
    theirs = Document.objects.create(
        tenant=globex, invoice_id="GLOBEX-SENT", remote_id="g", state=State.SENT
    )
    calls = []
    monkeypatch.setattr("einvoice.tenant.TenantApi.call", lambda self, op: calls.append(op))
    client.force_login(carol)
    from tests.invoices.conftest import editor_post, line

    response = client.post(
        reverse("invoices:new_credit_note"),
        editor_post([line()], action="send", invoice_id="CN-1", corrects=str(theirs.pk)),
    )
    page = response.content.decode()
    assert response.status_code == 200 and "Choose one of your sent invoices from the list." in page
    assert not calls and not Document.objects.filter(invoice_id="CN-1").exists()


def test_a_tenant_with_credit_notes_can_be_deleted_but_a_corrected_invoice_cannot(acme):
    from django.db.models import RestrictedError

    invoice = Document.objects.create(
        tenant=acme, invoice_id="INV-1", remote_id="i", state=State.SENT
    )
    Document.objects.create(
        tenant=acme, invoice_id="CN-1", remote_id="c", document_type="CREDIT_NOTE", corrects=invoice
    )
    with pytest.raises(RestrictedError):
        invoice.delete()
    acme.delete()
    assert not Document.objects.exists()


@pytest.mark.parametrize("param", ["copy", "corrects"])
def test_it_prefills_the_editor_only_from_the_own_tenants_documents(
    client, carol, docs, param, monkeypatch
):
    monkeypatch.setattr("invoices.mailbox.ensure_setup", lambda tenant: None)
    client.force_login(carol)
    url = reverse("invoices:new_credit_note")
    theirs = docs["globex-FAILED"]
    response = client.get(url, {param: theirs.pk})
    assert response.status_code == 404 and "buyer of globex" not in response.content.decode()
    assert client.get(url, {param: "1 OR 1=1"}).status_code == 404
    mine = client.get(url, {param: docs["acme-FAILED"].pk})
    assert mine.status_code == 200 and 'value="buyer of acme"' in mine.content.decode()
