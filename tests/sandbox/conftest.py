"""Sandbox test fixtures.

The sandbox fixtures come from ``sandbox.pytest_plugin`` (the root conftest registers it); it is
registered here too so that ``pytest tests/sandbox -p no:django --confcutdir=tests/sandbox`` runs
the sandbox suite without the Django project.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin("sandbox.pytest_plugin"):
        config.pluginmanager.import_plugin("sandbox.pytest_plugin")


# The invoice of the invoice guide's curl examples (vendor E-INVOICE BV, customer OpenPeppol).
GUIDE_INVOICE: dict[str, Any] = {
    "document_type": "INVOICE",
    "invoice_id": "INV-2024-001",
    "invoice_date": "2024-10-24",
    "due_date": "2024-11-24",
    "currency": "EUR",
    "purchase_order": "PO-12345",
    "vendor_name": "E-INVOICE BV",
    "vendor_tax_id": "BE1018265814",
    "vendor_address": "Brusselsesteenweg 119/A, 1980 Zemst, Belgium",
    "vendor_email": "info@e-invoice.be",
    "customer_name": "OpenPeppol VZW",
    "customer_tax_id": "BE0848934496",
    "customer_address": "Robert Schumainplein 6 bus 5, 1040 Brussel, Belgium",
    "items": [
        {
            "description": "Professional Services",
            "quantity": 10,
            "unit": "C62",
            "unit_price": 100.00,
            "amount": 1000.00,
            "tax_rate": "21.00",
        }
    ],
    "payment_term": "Payment due within 30 days",
    "payment_details": [
        {"iban": "BE68539007547034", "swift": "GEBABEBB", "payment_reference": "INV-2024-001"}
    ],
}

# The keys of the spec's ValidationIssue.
ISSUE_KEYS = {"message", "type", "location", "rule_id", "flag", "test", "schematron"}

VENDOR_PEPPOL_ID = "0208:1018265814"  # E-INVOICE BV, in the fake KBO
CUSTOMER_PEPPOL_ID = "0208:0706165839"  # Bakkerij Van Damme BV, in the fake KBO


def _changed(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = {**copy.deepcopy(base), **changes}
    return {k: v for k, v in merged.items() if v is not None}


def invoice(**changes: Any) -> dict[str, Any]:
    """A fresh copy of the guide's invoice with some fields changed (None leaves one out)."""
    return _changed(GUIDE_INVOICE, changes)


def line(**changes: Any) -> dict[str, Any]:
    """A fresh copy of the guide invoice's line with some fields changed (None leaves one out)."""
    return _changed(GUIDE_INVOICE["items"][0], changes)


def credit_note(**changes: Any) -> dict[str, Any]:
    """The guide's invoice as a credit note correcting INV-2024-001."""
    fields = {"document_type": "CREDIT_NOTE", "billing_reference": "INV-2024-001",
              "invoice_id": "CN-2024-001"}  # fmt: skip
    return invoice(**{**fields, **changes})


def two_rate_invoice() -> dict[str, Any]:
    """Lines at 21% and 6%, with an invoice-level allowance and charge at 21%."""
    return invoice(
        items=[line(), line(description="Books", quantity=2, unit_price=100, amount=200,
                            tax_rate="6.00")],
        allowances=[{"amount": 50, "reason": "Discount", "tax_code": "S", "tax_rate": "21.00"}],
        charges=[{"amount": 25, "reason": "Shipping", "tax_code": "S", "tax_rate": "21.00"}],
    )  # fmt: skip


@pytest.fixture
def vendor(sandbox: Any) -> tuple[dict[str, Any], str]:
    """A production tenant registered on Peppol as E-INVOICE BV, with its API key."""
    tenant, key = sandbox.create_tenant_with_key(
        "e-invoice-bv",
        company_number="1018265814",
        company_tax_id="BE1018265814",
        peppol_ids=[VENDOR_PEPPOL_ID],
    )
    sandbox.register(tenant["id"], VENDOR_PEPPOL_ID)
    return tenant, key


@dataclass
class WebhookReceiver:
    """A local HTTP endpoint that records webhook deliveries and answers scripted statuses."""

    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answered in order, then 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        with self.lock:
            return list(self.received)


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with receiver.lock:
                receiver.received.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                status = receiver.statuses.pop(0) if receiver.statuses else 200
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", receiver.url + "/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
