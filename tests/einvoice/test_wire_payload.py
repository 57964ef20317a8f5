"""The portal's payloads go out through the SDK's raw `post` (einvoice.tenant): each must be
exactly what the SDK's typed method would have sent for it, or a field would change on the
wire without anyone noticing."""

import pytest
from e_invoice_api._utils import maybe_transform
from e_invoice_api.types import document_create_params, validate_validate_json_params

from invoices import editor
from invoices.models import Document, DocumentType, State
from invoices.payload import build_payload, totals_for
from tests.invoices.conftest import editor_post, line

TYPED_BODIES = [
    document_create_params.DocumentCreateParams,
    validate_validate_json_params.ValidateValidateJsonParams,
]


def _payload(tenant, document_type: str, body: dict) -> dict:
    page = editor.Editor(tenant, document_type, body)
    assert page.is_valid(), page.form.errors
    data = page.cleaned()
    return build_payload(data, totals_for(data))[0]


def _every_field(tenant) -> list[dict]:
    adjustments = [
        {"kind": "allowance", "reason": "Loyal customer", "amount": "4.55", "tax_rate": "6"},
        {"kind": "charge", "reason": "Delivery", "amount": "7.50", "tax_rate": "21"},
    ]
    invoice = editor_post(
        [line(), line("Birthday cake", "1", "35", "21"), line("Water", "3", "1.10", "0")],
        adjustments,
        due_date="2031-01-31",
        payment_reference="+++090/9337/55493+++",
        note="Thank you",
        customer_peppol_id="0208:1998121608",
    )
    sent = Document.objects.create(
        tenant=tenant, invoice_id="INV-2025-000", state=State.SENT, remote_id="doc_sent"
    )
    credit_note = editor_post([line()], invoice_id="CN-1", corrects=str(sent.pk))
    return [
        _payload(tenant, DocumentType.INVOICE, invoice),
        _payload(tenant, DocumentType.CREDIT_NOTE, credit_note),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("typed", TYPED_BODIES, ids=lambda t: t.__name__)
def test_it_sends_what_the_typed_sdk_method_would_send(acme, typed):
    payloads = _every_field(acme)
    assert payloads[0]["allowances"] and payloads[0]["charges"] and payloads[0]["due_date"]
    assert payloads[1]["billing_reference"]  # not modelled by the SDK: passed through as is
    attachment = {"file_name": "a.pdf", "file_type": "application/pdf", "file_data": "JVBERi0="}
    for payload in payloads:
        payload = {**payload, "attachments": [attachment]}
        assert maybe_transform(payload, typed) == payload
