"""An audit entry's error raised with a Coded text is kept as its code and parameters, worded
in each reader's language; the hash chains them, and entries written before codes existed
hash and verify exactly as they did."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC

import pytest
from django.db import connection
from django.utils import translation

from core import audit, texts, triggers
from core.models import chain_key
from einvoice import messages
from tenants import peppol
from tenants.errors import PeppolUnavailable
from tests.core.test_audit import _tamper

IN_TEST_MODE = {
    "en": "Peppol registration is not available for a tenant in test mode.",
    "nl": "Peppol-registratie is niet mogelijk voor een tenant in testmodus.",
}


@pytest.fixture
def refused(alice, acme):
    """A registration refused while alice reads Dutch."""
    acme.test_mode = True
    acme.save()
    with translation.override("nl"), pytest.raises(PeppolUnavailable):
        peppol.register_peppol(acme, alice)
    return audit.AuditEntry.objects.get(action="peppol.register")


def _hash_as_before_codes(entry) -> str:
    """The hash as core.models computed it before error codes existed (its row, verbatim)."""
    row = {
        "sequence": entry.sequence,
        "created_at": entry.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor": entry.actor,
        "user_id": entry.user_id,
        "action": entry.action,
        "tenant_id": entry.tenant_id,
        "target": entry.target,
        "outcome": entry.outcome,
        "error": entry.error,
        "changes": entry.changes,
        "ip": entry.ip,
        "user_agent": entry.user_agent,
    }
    canonical = json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    message = (entry.prev_hash + canonical).encode()
    return hmac.new(chain_key(), message, hashlib.sha256).hexdigest()


def test_it_keeps_a_coded_error_as_its_code_and_parameters(refused):
    assert refused.outcome == "error"
    assert refused.error_code == peppol.NOT_IN_TEST_MODE
    assert refused.error == IN_TEST_MODE["nl"]  # the words of the one who acted


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_it_words_the_error_for_each_reader(refused, lang):
    with translation.override(lang):
        assert refused.error_text == IN_TEST_MODE[lang]


def test_it_keeps_the_parameters_of_a_coded_error(alice):
    coded = texts.Coded(messages.REGISTERED_BY_OUR_TENANT, id="0208:0403170701", other="acme")
    entry = audit.record("peppol.register", user=alice, outcome="error", error=coded)
    assert entry.error_params == {"id": "0208:0403170701", "other": "acme"}
    with translation.override("nl"):
        assert "0208:0403170701" in entry.error_text and "acme" in entry.error_text
        assert entry.error_text.startswith("Peppol-ID")


def test_it_hashes_an_entry_without_a_code_as_before(alice):
    entry = audit.record("tenant.delete", user=alice, outcome="error", error="plain words")
    entry.refresh_from_db()
    assert entry.error_code == ""
    assert entry.hash == _hash_as_before_codes(entry)


def test_the_chain_verifies_across_entries_before_and_after_codes(alice, refused):
    audit.record("tenant.update", user=alice, error="written the old way")
    assert audit.verify_chain().ok
    assert audit.verify_chain().checked == 2


def test_it_finds_an_error_code_or_parameters_changed_afterwards(alice, refused):
    audit.record("tenant.update", user=alice)
    _tamper(
        "UPDATE tenants_auditentry SET error_params = %s WHERE id = %s",
        ['{"forged": 1}', refused.pk],
    )
    triggers.ensure(connection)
    report = audit.verify_chain()
    assert (report.ok, report.broken_at) == (False, refused.sequence)


def test_it_finds_a_code_added_to_an_entry_written_without_one(alice):
    entry = audit.record("tenant.delete", user=alice, outcome="error", error="plain words")
    _tamper(
        "UPDATE tenants_auditentry SET error_code = %s WHERE id = %s",
        [peppol.NO_PEPPOL_ID, entry.pk],
    )
    triggers.ensure(connection)
    assert audit.verify_chain().broken_at == entry.sequence
