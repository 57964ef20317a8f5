"""A batch's customers get their access in one go: "Invite all" and "Send key links to all"
(issue 13), from the CSV's optional email column."""

from __future__ import annotations

import csv
import io
import re
from unittest import mock

from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts import invitations
from accounts.models import User
from core import mail as core_mail
from core.models import AuditEntry
from tenants.models.jobs import BulkOnboarding, OnboardingJob
from tests.tenants.jobs.conftest import customer, run_until_finished

HEADER = "company_name,name,country,company_number,vat_number,peppol_id,email"


def _row(i: int, email: str) -> str:
    c = customer(i)
    return f"{c['description']},{c['name']},BE,{c['company_number']},,,{email}"


def _onboarded_batch(client, emails: list[str]) -> BulkOnboarding:
    """Upload, start and run a batch, one row per email ("" for none)."""
    text = "\n".join([HEADER] + [_row(40 + i, e) for i, e in enumerate(emails)]) + "\n"
    client.post(
        reverse("tenants:bulk_upload"),
        {"file": SimpleUploadedFile("customers.csv", text.encode(), "text/csv")},
    )
    batch = BulkOnboarding.objects.get()
    client.post(reverse("tenants:bulk_start", args=[batch.pk]))
    for job in batch.jobs.all():
        assert run_until_finished(job).state == "succeeded"
    return batch


def _flash(response) -> str:
    return " ".join(str(m) for m in response.context["messages"])


def _results(client, batch) -> list[dict]:
    text = client.get(reverse("tenants:bulk_results", args=[batch.pk])).content.decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_it_invites_every_row_with_an_email_once(client, alice, acme, on_sandbox):
    client.force_login(alice)
    invitations.invite(acme, "carol@example.com", "en", by=alice)  # has a login already
    mail.outbox.clear()
    emails = ["dora@example.com", "", "carol@example.com", "erik@example.com"]
    batch = _onboarded_batch(client, emails)
    url = reverse("tenants:bulk_invite", args=[batch.pk])
    assert url in client.get(reverse("tenants:bulk", args=[batch.pk])).content.decode()

    confirm = client.get(url).content.decode()  # the question, without JavaScript
    assert "Invite 3 customers?" in confirm and "1 row has no email: skipped." in confirm
    assert not mail.outbox

    done = client.post(url, {"language": "nl"}, follow=True)
    assert sorted(m.to[0] for m in mail.outbox) == ["dora@example.com", "erik@example.com"]
    assert "2 invited, 1 skipped: no email, 1 skipped: login exists already" in _flash(done)
    dora = User.objects.get(username="dora@example.com")
    assert dora.tenant == OnboardingJob.objects.get(row_number=2).tenant
    assert dora.language == "nl" and not dora.has_usable_password()

    again = client.post(url, {"language": "nl"}, follow=True)  # a second click
    assert len(mail.outbox) == 2
    assert "0 invited" in _flash(again) and "2 sent before" in _flash(again)
    rows = _results(client, batch)
    assert [r["invite"] for r in rows] == [
        "invited",
        "skipped: no email",
        "skipped: login exists",
        "invited",
    ]
    assert AuditEntry.objects.filter(action="user.invite").count() == 1 + 2  # setup + batch
    assert AuditEntry.objects.filter(action="onboarding.bulk_invite").count() == 2


def test_it_sends_each_row_a_link_to_its_own_tenants_key_once(client, alice, on_sandbox):
    client.force_login(alice)
    batch = _onboarded_batch(client, ["dora@example.com", "", "erik@example.com"])
    url = reverse("tenants:bulk_key_links", args=[batch.pk])
    assert "Send 2 key links?" in client.get(url).content.decode()

    done = client.post(url, {"language": "en"}, follow=True)
    assert "2 key links sent, 1 skipped: no email" in _flash(done)
    assert client.post(url, {"language": "en"}).status_code == 302  # a second click
    assert sorted(m.to[0] for m in mail.outbox) == ["dora@example.com", "erik@example.com"]

    client.logout()
    for message, line in zip(sorted(mail.outbox, key=lambda m: m.to[0]), (2, 4), strict=True):
        key = OnboardingJob.objects.get(row_number=line).api_key
        assert key.reveal_value() not in message.body
        path = re.search(r"https?://[^/\s]+(/\S+)", message.body).group(1)
        assert key.reveal_value() in client.post(path).content.decode()
    assert AuditEntry.objects.filter(action="key.handover_send").count() == 2
    client.force_login(alice)
    assert [r["key_link"] for r in _results(client, batch)] == ["sent", "skipped: no email", "sent"]


def test_it_leaves_key_links_to_admins(client, otto, on_sandbox):
    client.force_login(otto)
    batch = _onboarded_batch(client, ["dora@example.com"])
    url = reverse("tenants:bulk_key_links", args=[batch.pk])
    assert url not in client.get(reverse("tenants:bulk", args=[batch.pk])).content.decode()
    assert client.post(url, {"language": "en"}).status_code == 403
    assert not mail.outbox


def test_it_marks_a_bad_email_on_its_cell_and_starts_nothing(client, otto, on_sandbox):
    client.force_login(otto)
    text = f"{HEADER}\n{_row(50, 'dora@example')}\n"
    client.post(
        reverse("tenants:bulk_upload"),
        {"file": SimpleUploadedFile("customers.csv", text.encode(), "text/csv")},
    )
    batch = BulkOnboarding.objects.get()
    assert batch.rows[0]["errors"] == {"email": ["Not a valid email address."]}
    page = client.get(reverse("tenants:bulk", args=[batch.pk])).content.decode()
    assert '<td class="has-error">dora@example<p class="error">Not a valid email' in page

    client.post(reverse("tenants:bulk_start", args=[batch.pk]))
    assert not OnboardingJob.objects.exists()


def test_it_writes_an_email_that_looks_like_a_formula_as_text(client, otto):
    client.force_login(otto)
    text = f"{HEADER}\n{_row(51, '=1+1@example.com')}\n"
    client.post(
        reverse("tenants:bulk_upload"),
        {"file": SimpleUploadedFile("customers.csv", text.encode(), "text/csv")},
    )
    rows = _results(client, BulkOnboarding.objects.get())
    assert rows[0]["email"] == "'=1+1@example.com"


def test_it_sends_the_other_rows_when_one_email_fails(client, alice, on_sandbox):
    client.force_login(alice)
    batch = _onboarded_batch(client, ["dora@example.com", "erik@example.com"])
    real = core_mail.send_mail

    def flaky(subject, body, sender, to):
        if to == ["dora@example.com"]:
            raise ConnectionRefusedError("the mail server is down")
        return real(subject, body, sender, to)

    with mock.patch.object(core_mail, "send_mail", flaky):
        done = client.post(reverse("tenants:bulk_invite", args=[batch.pk]), {"language": "en"})
    assert [m.to for m in mail.outbox] == [["erik@example.com"]]
    assert "1 email could not be sent" in _flash(client.get(done.url))
    assert [r["invite"] for r in _results(client, batch)] == ["failed: email not sent", "invited"]
