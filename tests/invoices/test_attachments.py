"""Attachments: Carol adds files to a draft before sending; bad files get a field error and
change nothing; the file travels inside the document to Bob, who downloads it from his inbox."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from invoices import attachments, outbound
from invoices.models import Attachment, Document, State
from tests.invoices.conftest import editor_post, line

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def pdf(name: str = "timesheet.pdf", content: bytes = PDF) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


@pytest.fixture
def draft(acme) -> Document:
    return Document.objects.create(tenant=acme, invoice_id="INV-ATT-1", state=State.DRAFT)


@pytest.mark.parametrize(
    ("upload", "says"),
    [
        (pdf("setup.exe", b"MZ\x90\x00"), "cannot be attached: Peppol accepts PDF, PNG"),
        (pdf("invoice.pdf", b"MZ\x90\x00 not a pdf"), "the file must really be one"),
        (pdf("notes.csv", b"\x00\x01\x02binary"), "cannot be attached"),
        (pdf("book.xlsx", b"not a zip"), "cannot be attached"),
        (pdf("empty.pdf", b""), "This file is empty."),
        (pdf("big.pdf", PDF + b"x" * attachments.MAX_BYTES), "a file can be at most 10.0"),
    ],
)
def test_it_refuses_a_bad_file_at_the_input_and_changes_nothing(
    client, carol, draft, upload, says, monkeypatch
):
    calls = []
    monkeypatch.setattr("einvoice.tenant.TenantApi.call", lambda self, op: calls.append(op))
    client.force_login(carol)
    response = client.post(reverse("invoices:add_attachment", args=[draft.pk]), {"file": upload})
    assert response.status_code == 400
    page = text(response)
    error = re.search(r'id="id_file_error">(.*?)</div>', page)
    assert error and says in error.group(1), page[:3000]
    assert not Attachment.objects.exists() and calls == []


def test_it_asks_for_a_file_when_none_is_chosen(client, carol, draft):
    client.force_login(carol)
    response = client.post(
        reverse("invoices:add_attachment", args=[draft.pk]), {}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 400 and "Choose a file." in text(response)
    assert 'id="attachments"' in text(response)  # the partial, for htmx


@pytest.mark.parametrize(
    ("name", "content", "mime"),
    [
        ("Timesheet March.pdf", PDF, "application/pdf"),
        ("photo.JPG", b"\xff\xd8\xff\xe0 jpeg", "image/jpeg"),
        ("hours.csv", b"day;hours\nma;8\n", "text/csv"),
        (
            "hours.xlsx",
            b"PK\x03\x04 zipped",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
    ],
)
def test_it_recognises_the_allowed_types(name, content, mime):
    assert attachments.sniff(name, content) == mime


def test_a_local_draft_keeps_the_file_and_lists_it(client, carol, draft, monkeypatch):
    calls = []
    monkeypatch.setattr("einvoice.tenant.TenantApi.call", lambda self, op: calls.append(op))
    client.force_login(carol)
    response = client.post(
        reverse("invoices:add_attachment", args=[draft.pk]), {"file": pdf("../../Timesheet.pdf")}
    )
    assert response.status_code == 302
    (kept,) = draft.attachments.all()
    assert kept.file_name == "Timesheet.pdf" and bytes(kept.content) == PDF
    assert calls == []  # not at e-invoice.be yet: it travels with the create
    page = text(client.get(reverse("invoices:detail", args=[draft.pk])))
    assert "Timesheet.pdf" in page and "Attach file" in page
    download = client.get(reverse("invoices:attachment", args=[draft.pk, kept.pk]))
    assert download.content == PDF
    assert download["Content-Disposition"] == 'attachment; filename="Timesheet.pdf"'
    assert download["X-Content-Type-Options"] == "nosniff"
    from invoices.payload import payload_of

    (entry,) = payload_of(draft)["attachments"]
    assert entry["file_name"] == "Timesheet.pdf" and entry["file_type"] == "application/pdf"


def test_a_sent_document_takes_no_more_files(client, carol, acme):
    sent = Document.objects.create(tenant=acme, invoice_id="S-1", state=State.SENT, remote_id="r")
    client.force_login(carol)
    response = client.post(reverse("invoices:add_attachment", args=[sent.pk]), {"file": pdf()})
    assert response.status_code == 302 and not Attachment.objects.exists()
    assert "Attach file" not in text(client.get(reverse("invoices:detail", args=[sent.pk])))


@pytest.mark.django_db(transaction=True)
def test_a_pdf_attachment_reaches_the_buyer_and_downloads_there(
    client, seller, buyer, carol, bob, sandbox
):
    client.force_login(carol)
    body = editor_post([line()], action="save", invoice_id="INV-ATT-E2E")
    assert client.post(reverse("invoices:new_invoice"), body).status_code == 302
    draft = Document.objects.get(tenant=seller.tenant, invoice_id="INV-ATT-E2E")
    # As after a send that stopped after the create: a draft there, without the file.
    outbound.ensure_remote(draft)
    first_remote = draft.remote_id

    add = reverse("invoices:add_attachment", args=[draft.pk])
    assert client.post(add, {"file": pdf("Timesheet.pdf")}).status_code == 302
    draft.refresh_from_db()
    assert draft.remote_id == first_remote  # nothing asked of e-invoice.be until the send

    assert client.post(reverse("invoices:send", args=[draft.pk])).status_code == 302
    draft.refresh_from_db()
    assert draft.remote_id != first_remote  # the draft there was replaced by one with the file
    sandbox.wait_for_state(seller.key, draft.remote_id, "SENT")
    with sandbox.tenant_client(seller.key) as api:
        assert api.get(f"/api/documents/{first_remote}").status_code == 404
        assert api.get("/api/drafts/", params={"search": "INV-ATT-E2E"}).json()["items"] == []

    # Bob's inbox has it, with the file; he downloads exactly what Carol attached.
    client.force_login(bob)
    client.get(reverse("invoices:inbox"), {"refresh": "1"})
    received = Document.objects.get(tenant=buyer.tenant, invoice_id="INV-ATT-E2E")
    # Beside Carol's file, the portal's PDF of the invoice (INVOICES_ATTACH_PDF).
    names = sorted(received.attachments.values_list("file_name", flat=True))
    assert names == ["Timesheet.pdf", "invoice-INV-ATT-E2E.pdf"]
    file = received.attachments.get(file_name="Timesheet.pdf")
    assert file.content is None
    page = text(client.get(reverse("invoices:detail", args=[received.pk])))
    assert "Timesheet.pdf" in page and "Attach file" not in page
    download = client.get(reverse("invoices:attachment", args=[received.pk, file.pk]))
    assert download.status_code == 200 and download.content == PDF
    # And it is inside the UBL the buyer got (BIS 3.0: an embedded binary object).
    ubl = client.get(reverse("invoices:ubl", args=[received.pk])).content.decode()
    assert 'filename="Timesheet.pdf"' in ubl and "EmbeddedDocumentBinaryObject" in ubl

    # Another tenant's file, or a file under another document's URL: 404, nothing asked.
    client.force_login(carol)
    assert (
        client.get(reverse("invoices:attachment", args=[received.pk, file.pk])).status_code == 404
    )
    assert client.get(reverse("invoices:attachment", args=[draft.pk, file.pk])).status_code == 404
