"""Each person chooses how they hear: staff per event (at once, daily digest, not at all),
customers about their own documents (at once or not at all). The digest gathers a day's
events into one email."""

from __future__ import annotations

from django.core import mail
from django.urls import reverse

from core.models import AuditEntry
from notifications import digest, emit, preferences
from notifications.models import DigestItem
from tests.notifications.conftest import drive


def failed(document_pk: int, tenant, number: str = "INV-1") -> None:
    emit.emit(
        "document.failed",
        f"document.failed:{document_pk}",
        tenant=tenant,
        data={
            "document": {"number": number, "buyer": "Globex", "failure_reason": "not on Peppol"},
            "path": "/staff/",
            "customer_path": "/invoices/",
        },
    )


def test_it_respects_a_customer_who_turned_failed_documents_off(client, carol, acme):
    client.force_login(carol)
    page = client.get(reverse("notifications:customer_settings")).content.decode()
    assert "A document could not be delivered" in page and "A background job failed" not in page
    client.post(
        reverse("notifications:customer_settings"),
        {"document.failed": "off", "document.received": "immediate"},
    )
    failed(1, acme)
    drive()
    assert carol.email not in [m.to[0] for m in mail.outbox]
    entry = AuditEntry.objects.get(action="notifications.settings")
    assert entry.changes == {"document.failed": ["immediate", "off"]}


def test_it_emails_the_customer_at_once_by_default(carol, acme):
    failed(1, acme)
    drive()
    [message] = [m for m in mail.outbox if m.to == [carol.email]]
    assert "INV-1" in message.body and "not on Peppol" in message.body
    assert reverse("notifications:customer_settings") in message.body


def test_it_tells_customers_only_about_their_own_tenant(carol, bob, globex):
    failed(1, globex)
    drive()
    assert [m.to for m in mail.outbox] == [[bob.email]]


def test_it_lets_no_customer_choose_staff_events(client, carol):
    client.force_login(carol)
    client.post(
        reverse("notifications:customer_settings"),
        {"document.failed": "digest", "job.failed": "immediate"},
    )
    assert preferences.mode_for(carol, "document.failed") == "immediate"  # refused: unchanged
    assert preferences.mode_for(carol, "job.failed") == "off"
    assert client.get(reverse("notifications:settings")).status_code == 403


def test_it_gathers_a_staff_users_events_into_one_daily_email(client, otto, acme, globex):
    client.force_login(otto)
    client.post(
        reverse("notifications:settings"),
        {**{k.code: "off" for k in preferences.kinds_for(otto)}, "document.failed": "digest"},
    )
    failed(1, acme, "INV-A")
    failed(2, globex, "INV-B")
    failed(3, acme, "INV-C")
    drive()
    assert not mail.outbox  # nothing at once
    assert digest.send_due() == 1
    [message] = mail.outbox
    assert message.to == [otto.email] and "3 events" in message.subject
    for number in ("INV-A", "INV-B", "INV-C"):
        assert number in message.body
    assert digest.send_due() == 0  # the lines went once
    assert not DigestItem.objects.filter(sent_at__isnull=True).exists()


def test_it_keeps_the_digest_lines_when_the_email_fails(otto, acme, monkeypatch):
    preferences.save(otto, {"document.failed": "digest"})
    failed(1, acme)
    drive()

    def down(*args, **kwargs):
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr("core.mail.send_mail", down)
    assert digest.send_due() == 0
    monkeypatch.undo()
    assert digest.send_due() == 1 and "INV-1" in mail.outbox[0].body


def test_it_writes_a_dutch_digest_for_a_dutch_user(otto, acme):
    otto.language = "nl"
    otto.save()
    preferences.save(otto, {"document.failed": "digest"})
    failed(1, acme)
    drive()
    digest.send_due()
    assert "Dagelijks overzicht" in mail.outbox[0].subject
    assert "kon niet worden afgeleverd" in mail.outbox[0].body
