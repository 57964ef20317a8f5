"""The document as it reads on paper, in the reader's language: Carol, reading in Dutch, opens
a received invoice and her own credit note."""

import re

import pytest
from django.urls import reverse

from invoices.models import Attachment
from tests.invoices.documents_fixtures import received_invoice, sent_credit_note


def text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode())).replace(
        "\u00a0", " "
    )


@pytest.fixture
def dutch(client, carol):
    client.force_login(carol)
    client.cookies["django_language"] = "nl"
    return client


def test_a_received_invoice_reads_as_an_invoice_in_dutch(dutch, acme):
    doc = received_invoice(acme)
    response = dutch.get(reverse("invoices:document", args=[doc.pk]))
    assert response.status_code == 200
    shown = text(response)
    assert "Factuur AL-2026-0042" in shown
    assert "Verkoper Atelier Lumière SRL" in shown and "Koper Bakkerij Van Damme BV" in shown
    assert "14 november 2026" in shown  # dates as a Dutch letter writes them
    assert "Éclairage façade (forfait)" in shown and "€ 1.050,00" in shown
    # The VAT per rate, the taxable amount derived from the lines less the discount.
    assert "21 % (S) € 1.000,00 € 210,00" in shown
    assert "6 % (S) € 200,00 € 24,00" in shown
    assert "Te betalen € 1.434,00" in shown
    # Payment: the IBAN in groups of four, the BIC, the OGM in its standard form.
    assert "IBAN BE68 5390 0754 7034" in shown and "BIC GEBABEBB" in shown
    assert "Gestructureerde mededeling +++010/8068/17183+++" in shown
    assert "Ontvangen via Peppol" in shown
    body = response.content.decode()
    assert f'href="{reverse("invoices:pdf", args=[doc.pk])}"' in body


def test_a_credit_note_says_so_and_what_it_corrects(dutch, acme):
    doc = sent_credit_note(acme)
    response = dutch.get(reverse("invoices:document", args=[doc.pk]))
    shown = text(response)
    assert "Creditnota CN-2026-007" in shown
    assert "Corrigeert factuur INV-2026-001" in shown
    assert "Terug te betalen € 42,35" in shown
    assert 'id="payment"' not in response.content.decode()  # it asks for no payment


def test_the_detail_page_links_to_the_document_and_its_pdf(dutch, acme):
    doc = received_invoice(acme)
    body = dutch.get(reverse("invoices:detail", args=[doc.pk])).content.decode()
    assert f'href="{reverse("invoices:document", args=[doc.pk])}"' in body
    assert f'href="{reverse("invoices:pdf", args=[doc.pk])}"' in body


def test_the_files_that_came_with_it_are_listed_for_download(dutch, acme):
    doc = received_invoice(acme)
    file = Attachment.objects.create(
        document=doc, remote_id="att-1", file_name="Leveringsbon.pdf", file_type="application/pdf"
    )
    body = dutch.get(reverse("invoices:document", args=[doc.pk])).content.decode()
    assert f'href="{reverse("invoices:attachment", args=[doc.pk, file.pk])}"' in body
    assert "Bijlagen" in body and "Leveringsbon.pdf" in body


def test_staff_read_the_document_and_its_pdf_of_the_tenant_they_open(client, alice, acme, globex):
    doc = received_invoice(acme)
    file = Attachment.objects.create(document=doc, file_name="Leveringsbon.pdf", content=b"%PDF-")
    client.force_login(alice)
    detail = client.get(reverse("invoices:staff_detail", args=[acme.pk, doc.pk])).content.decode()
    page_url = reverse("invoices:staff_document", args=[acme.pk, doc.pk])
    pdf_url = reverse("invoices:staff_pdf", args=[acme.pk, doc.pk])
    assert f'href="{page_url}"' in detail and f'href="{pdf_url}"' in detail
    page = client.get(page_url).content.decode()
    assert "AL-2026-0042" in page and f'href="{pdf_url}"' in page
    # Read-only: the files are named, not offered for download.
    assert "Leveringsbon.pdf" in page
    assert reverse("invoices:attachment", args=[doc.pk, file.pk]) not in page
    assert client.get(pdf_url).content.startswith(b"%PDF-")
    # Under another tenant's id the document is not there.
    for name in ("invoices:staff_document", "invoices:staff_pdf"):
        assert client.get(reverse(name, args=[globex.pk, doc.pk])).status_code == 404


def test_customers_cannot_use_the_staff_pages(dutch, acme):
    doc = received_invoice(acme)
    for name in ("invoices:staff_document", "invoices:staff_pdf"):
        assert dutch.get(reverse(name, args=[acme.pk, doc.pk])).status_code == 403
