"""What stops a tenant operation before any call to e-invoice.be (our own checks).

einvoice.messages.explain() turns these, and every Admin API error, into what staff read.
"""

from __future__ import annotations


class InvalidFields(Exception):
    """Input refused by our own checks before any remote call: {field: [messages]}."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{f}: {' '.join(m)}" for f, m in errors.items()))
        self.errors = errors


class PeppolUnavailable(Exception):
    """Registration cannot be attempted (reason: "test_mode" or "no_peppol_id")."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class HeldElsewhere(Exception):
    """The Peppol ID is registered with another access point (the preflight's verdict,
    tenants.checks.PeppolVerdict, says by whom); registering now would only get a 409."""

    def __init__(self, verdict) -> None:
        super().__init__(verdict.text)
        self.verdict = verdict
