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
from jobs import local
from tenants.models import HandoverJob
from tenants.models.jobs import BulkOnboarding, OnboardingJob
from tenants.onboarding import bulk
from tenants.onboarding import handover as batch_handover
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


def send_queued() -> None:
    """Run the queued "Invite all" / "Send key links to all" jobs, as a worker does."""
    for pk in local.due(HandoverJob, sent_too=True):
        batch_handover.run(pk)


def _outcome(client, batch, action: str = "invite") -> str:
    """What the batch page says the last hand-over did."""
    page = client.get(reverse("tenants:bulk", args=[batch.pk])).content.decode()
    found = re.search(rf'<p class="handover" data-action="{action}"[^>]*>(.*?)</p>', page, re.S)
    return re.sub(r"\s+", " ", found.group(1)) if found else ""


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
    assert "Sending in the background" in _flash(done) and not mail.outbox
    send_queued()
    assert sorted(m.to[0] for m in mail.outbox) == ["dora@example.com", "erik@example.com"]
    assert "2 invited, 1 skipped: no email, 1 skipped: login exists already" in _outcome(
        client, batch
    )
    dora = User.objects.get(username="dora@example.com")
    assert dora.tenant == OnboardingJob.objects.get(row_number=2).tenant
    assert dora.language == "nl" and not dora.has_usable_password()

    client.post(url, {"language": "nl"})  # a second click
    send_queued()
    assert len(mail.outbox) == 2
    assert "0 invited" in _outcome(client, batch) and "2 sent before" in _outcome(client, batch)
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

    client.post(url, {"language": "en"})
    assert client.post(url, {"language": "en"}).status_code == 302  # a double click
    assert HandoverJob.objects.count() == 1  # the second found the first one live
    send_queued()
    assert "2 key links sent, 1 skipped: no email" in _outcome(client, batch, "key_link")
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
    assert bulk.row_errors(batch.rows[0]) == {"email": ["Not a valid email address."]}
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

    client.post(reverse("tenants:bulk_invite", args=[batch.pk]), {"language": "en"})
    with mock.patch.object(core_mail, "send_mail", flaky):
        send_queued()
    assert [m.to for m in mail.outbox] == [["erik@example.com"]]
    assert "1 email could not be sent" in _outcome(client, batch)
    assert [r["invite"] for r in _results(client, batch)] == ["failed: email not sent", "invited"]


def test_it_resumes_a_row_whose_worker_died_while_sending(client, alice, on_sandbox):
    """The worker made Dora's login, then died before the email: the next run sends her one
    working invitation, and no row is left `sending`."""
    from datetime import timedelta

    from django.utils import timezone

    from jobs import runner

    client.force_login(alice)
    batch = _onboarded_batch(client, ["dora@example.com", "erik@example.com"])
    client.post(reverse("tenants:bulk_invite", args=[batch.pk]), {"language": "en"})
    job = runner.claim(HandoverJob, HandoverJob.objects.get().pk)
    row, tenant, resumed = batch_handover._pick(job)
    assert row["data"]["email"] == "dora@example.com" and not resumed
    with mock.patch.object(core_mail, "send_mail", side_effect=SystemExit("worker killed")):
        try:
            batch_handover._send(job, tenant, "dora@example.com")
        except SystemExit:
            pass
    assert User.objects.filter(username="dora@example.com").exists() and not mail.outbox
    assert [r["invite"]["status"] for r in BulkOnboarding.objects.get().rows[:1]] == ["sending"]
    HandoverJob.objects.filter(pk=job.pk).update(lease_until=timezone.now() - timedelta(seconds=1))

    send_queued()  # the sweep finds the dead run's job and resumes it
    assert sorted(m.to[0] for m in mail.outbox) == ["dora@example.com", "erik@example.com"]
    rows = BulkOnboarding.objects.get().rows
    assert [r["invite"]["status"] for r in rows] == ["done", "done"]
    assert HandoverJob.objects.get().state == "succeeded"
    client.logout()
    [to_dora] = [m for m in mail.outbox if m.to == ["dora@example.com"]]
    path = re.search(r"https?://[^/\s]+(/\S+)", to_dora.body).group(1)
    assert "Welcome" in client.get(path, follow=True).content.decode()  # the link works


def test_it_marks_the_rows_of_a_job_that_failed_for_good(client, alice, on_sandbox):
    from jobs import runner

    client.force_login(alice)
    batch = _onboarded_batch(client, ["dora@example.com"])
    client.post(reverse("tenants:bulk_key_links", args=[batch.pk]), {"language": "en"})
    job = runner.claim(HandoverJob, HandoverJob.objects.get().pk)
    batch_handover._pick(job)
    batch_handover.release_rows(job)
    assert BulkOnboarding.objects.get().rows[0]["key_link"]["status"] == "failed"
    assert [r["key_link"] for r in _results(client, batch)] == ["failed: email not sent"]


def test_a_batch_of_ten_onboards_invites_and_hands_over_keys_to_ten_customers(
    client, alice, on_sandbox
):
    """The issue's journey: 10 rows with emails → 10 tenants, 10 invitations, 10 key links;
    one invitee sets a password through the emailed link and sees only their own tenant; the
    link used again says so; each key link shows its key exactly once."""
    from tests.accounts.test_invitations import NEW_PASSWORD, accept, link_path, logs_in

    client.force_login(alice)
    emails = [f"owner{i}@example.com" for i in range(10)]
    batch = _onboarded_batch(client, emails)
    assert batch.jobs.filter(state="succeeded").count() == 10

    client.post(reverse("tenants:bulk_invite", args=[batch.pk]), {"language": "en"})
    send_queued()
    invites = {m.to[0]: m for m in mail.outbox}
    assert sorted(invites) == sorted(emails)
    mail.outbox.clear()
    client.post(reverse("tenants:bulk_key_links", args=[batch.pk]), {"language": "en"})
    send_queued()
    key_links = {m.to[0]: m for m in mail.outbox}
    assert sorted(key_links) == sorted(emails)

    client.logout()
    owner = User.objects.get(email="owner3@example.com")
    path = link_path(invites["owner3@example.com"])
    _, done = accept(client, path)
    assert done.wsgi_request.user == owner
    assert logs_in(client, "owner3@example.com", NEW_PASSWORD)
    others = OnboardingJob.objects.exclude(tenant=owner.tenant).values_list("tenant", flat=True)
    assert client.get(reverse("invoices:documents")).status_code == 200
    assert client.get(reverse("tenants:tenant_detail", args=[others[0]])).status_code == 403
    client.logout()
    again, _ = accept(client, path, "another long pass phrase")
    assert "already used" in again.content.decode()
    assert logs_in(client, "owner3@example.com", NEW_PASSWORD)  # the first password holds
    client.logout()

    for job in batch.jobs.all():
        message = key_links[emails[job.row_number - 2]]  # row 1 is the header
        link = re.search(r"https?://[^/\s]+(/\S+)", message.body).group(1)
        value = job.api_key.reveal_value()
        assert value not in message.body
        assert value in client.post(link).content.decode()
        assert value not in client.post(link).content.decode()  # once
