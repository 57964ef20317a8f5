"""Key rotation: every phase against the sandbox, the one-time reveal link, the planner, and
R3: a customer sending invoices in a loop sees no failure while the key rotates."""

from __future__ import annotations

import re
import threading
import time
from datetime import date, timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from jobs.models import JobState
from tenants import rotation
from tenants.models import ApiKey, Tenant
from tenants.models.jobs import KeyRevealLink, KeyRotation, RotationPhase
from tests.conftest import make_user
from tests.tenants.jobs.conftest import customer, key_works, remote_keys, run_until_finished, start

pytestmark = pytest.mark.django_db


@pytest.fixture
def onboarded(on_sandbox):
    """A tenant onboarded by the portal (so it holds the key), with a customer login."""
    job = run_until_finished(start(customer(1)))
    tenant = Tenant.objects.get(pk=job.tenant_id)
    make_user("dora", Role.CUSTOMER, tenant)
    return tenant


def drive(rot: KeyRotation, until: str) -> KeyRotation:
    for _ in range(10):
        rotation.run(rot.pk)
        rot.refresh_from_db()
        if rot.phase == until or rot.state in (JobState.SUCCEEDED, JobState.FAILED):
            return rot
        KeyRotation.objects.filter(pk=rot.pk, state=JobState.WAITING).update(
            next_attempt_at=timezone.now()
        )
    return rot


def test_it_rotates_without_ever_leaving_the_tenant_without_a_working_key(
    onboarded, on_sandbox, settings
):
    settings.KEY_ROTATION_GRACE_HOURS = 24
    old = onboarded.current_key()
    old_value = old.reveal_value()
    rot = rotation.start(onboarded, reason=KeyRotation.REASON_MANUAL)

    rot = drive(rot, RotationPhase.GRACE)

    # Switched at once; the old key keeps working for the grace period.
    new = onboarded.current_key()
    assert rot.state == JobState.WAITING and rot.phase == RotationPhase.GRACE
    assert new.pk == rot.new_key_id != old.pk
    assert key_works(on_sandbox, new.reveal_value()) and key_works(on_sandbox, old.reveal_value())
    assert abs((rot.next_attempt_at - rot.grace_until).total_seconds()) < 1
    assert rot.grace_until - timezone.now() > timedelta(hours=23)
    # Not due: a worker that gets the message early does nothing.
    assert rotation.run(rot.pk) is None

    KeyRotation.objects.filter(pk=rot.pk).update(
        grace_until=timezone.now(), next_attempt_at=timezone.now()
    )
    rot = drive(rot, RotationPhase.OLD_REVOKED)

    assert rot.state == JobState.SUCCEEDED and rot.phase == RotationPhase.OLD_REVOKED
    old.refresh_from_db()
    assert old.is_revoked and not old.is_held and not key_works(on_sandbox, old_value)
    live = [k for k in remote_keys(on_sandbox, onboarded.remote_id) if not k["is_deleted"]]
    assert [k["id"] for k in live] == [new.remote_id]
    assert key_works(on_sandbox, ApiKey.objects.get(pk=new.pk).reveal_value())


def test_it_mails_a_one_time_link_and_never_the_key(onboarded, on_sandbox, client, settings):
    settings.PORTAL_BASE_URL = "https://portal.example.com"
    rot = drive(rotation.start(onboarded, reason="manual"), RotationPhase.GRACE)
    value = ApiKey.objects.get(pk=rot.new_key_id).reveal_value()

    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["dora@example.com"]
    body = mail.outbox[0].body
    assert value not in body and "einv_" not in body
    # A customer page (not under /staff/), on the portal's public address.
    link = re.search(r"https?://\S+", body).group(0)
    assert link.startswith(settings.PORTAL_BASE_URL + "/keys/reveal/")
    path = link.removeprefix(settings.PORTAL_BASE_URL)
    # Dates with their zone: the reader may be elsewhere.
    assert re.search(r"before \d{4}-\d\d-\d\d \d\d:\d\d [A-Z]{3,4},", body)

    client.force_login(onboarded.users.get())
    first = client.get(path)
    second = client.get(path)

    assert first.status_code == 200 and value in first.content.decode()
    assert "no-store" in first["Cache-Control"] or "no-cache" in first["Cache-Control"]
    assert second.status_code == 410 and value not in second.content.decode()
    assert "This link was already used on" in second.content.decode()
    assert "by dora" in second.content.decode()


def test_it_opens_the_link_only_for_a_customer_of_that_tenant(onboarded, on_sandbox, client, bob):
    rot = drive(rotation.start(onboarded, reason="manual"), RotationPhase.GRACE)
    path = re.search(r"https?://[^/\s]+(/\S+)", mail.outbox[0].body).group(1)
    value = ApiKey.objects.get(pk=rot.new_key_id).reveal_value()

    client.force_login(bob)  # a customer of another tenant
    assert client.get(path).status_code == 404
    client.logout()
    assert client.get(path).status_code == 302  # to the login page
    assert KeyRevealLink.objects.get().used_at is None

    link = KeyRevealLink.objects.get()
    KeyRevealLink.objects.filter(pk=link.pk).update(expires_at=timezone.now())
    client.force_login(onboarded.users.get())
    response = client.get(path)
    assert response.status_code == 410 and value not in response.content.decode()


def test_it_resumes_a_rotation_whose_new_key_answer_was_lost(onboarded, on_sandbox):
    on_sandbox.set_faults(
        rules=[
            {
                "method": "POST",
                "path": "/api/admin/tenants/*/api-keys",
                "action": "drop_after_write",
            }
        ]
    )
    rot = drive(rotation.start(onboarded, reason="manual"), RotationPhase.GRACE)

    assert rot.orphans_revoked == 1 and rot.phase == RotationPhase.GRACE
    live = [k for k in remote_keys(on_sandbox, onboarded.remote_id) if not k["is_deleted"]]
    held = set(ApiKey.objects.exclude(encrypted_value="").values_list("remote_id", flat=True))
    assert {k["id"] for k in live} == held and len(held) == 2  # the old and the new key


def test_it_plans_a_rotation_when_the_key_reaches_its_age(onboarded, settings):
    onboarded.rotation_days = 30
    onboarded.save()
    assert rotation.plan_due() == 0
    ApiKey.objects.filter(tenant=onboarded).update(
        remote_created_at=timezone.now() - timedelta(days=31)
    )

    assert rotation.plan_due() == 1
    assert rotation.plan_due() == 0  # one rotation at a time
    assert KeyRotation.objects.get().reason == KeyRotation.REASON_SCHEDULE


def test_it_lets_only_admins_rotate_now(client, alice, otto, onboarded):
    url = reverse("tenants:rotate_now", args=[onboarded.pk])
    client.force_login(otto)
    assert client.post(url).status_code == 403
    client.force_login(alice)
    response = client.post(url)
    assert response.status_code == 302 and KeyRotation.objects.count() == 1
    client.post(url)  # a second click while one runs is refused, not duplicated
    assert KeyRotation.objects.count() == 1


# --- R3 -------------------------------------------------------------------------------------
def _invoice(n: int) -> dict:
    from tests.invoices.conftest import BUYER, SELLER

    return {
        "document_type": "INVOICE",
        "invoice_id": f"R3-{n:04d}",
        "invoice_date": date.today().isoformat(),
        "vendor_name": SELLER["company_name"],
        "vendor_tax_id": SELLER["company_tax_id"],
        "customer_name": BUYER["company_name"],
        "customer_tax_id": BUYER["company_tax_id"],
        "payment_term": "Net 30",
        "items": [
            {"description": "Bread", "quantity": "1", "unit_price": "2.00", "tax_rate": "6.00"}
        ],
    }


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_it_rotates_while_the_customer_sends_invoices_without_a_failed_send(
    portal_on_sandbox, acme, globex, settings
):
    from einvoice.tenant import TenantApi
    from tests.invoices.conftest import BUYER, SELLER, on_sandbox

    sandbox = portal_on_sandbox
    seller = on_sandbox(sandbox, acme, SELLER)
    on_sandbox(sandbox, globex, BUYER)
    # The invoice fixtures mirror the key under a made-up id; use the real one, so that the
    # revocation at the end of the grace period really happens.
    real_id = remote_keys(sandbox, seller.remote["id"])[0]["id"]
    ApiKey.objects.filter(tenant=acme).update(remote_id=real_id)
    settings.KEY_ROTATION_GRACE_HOURS = 1 / 3600  # 1 s
    sends: list[tuple[float, str]] = []
    failures: list[str] = []
    stop = threading.Event()

    def customer_loop() -> None:
        from django.db import connection

        if connection.vendor == "sqlite":
            # The suite's SQLite test database is in memory with a shared cache, where a
            # reader takes table locks that fail at once instead of waiting; a real file
            # database (WAL) or PostgreSQL has no such locks. Read without them.
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA read_uncommitted = 1")
        n = 0
        try:
            while not stop.is_set():
                n += 1
                try:
                    api = TenantApi(Tenant.objects.get(pk=seller.tenant.pk))
                    doc = api.create_document(_invoice(n))
                    api.send_document(doc.id)
                    sends.append((time.monotonic(), doc.id))
                except Exception as e:  # every failure counts
                    failures.append(f"{type(e).__name__}: {e}")
        finally:
            connection.close()

    def sent_since(moment: float) -> int:
        return sum(1 for t, _ in sends if t >= moment)

    def wait_for(condition, seconds: float = 15.0) -> None:
        # Waits on what the customer did, not on a guess of how fast a loaded machine is.
        deadline = time.monotonic() + seconds
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.02)

    thread = threading.Thread(target=customer_loop)
    thread.start()
    try:
        wait_for(lambda: len(sends) >= 2)
        started = time.monotonic()
        rot = rotation.start(acme, reason="manual")
        rot = drive(rot, RotationPhase.GRACE)
        switched = time.monotonic()
        wait_for(lambda: sent_since(switched) >= 2)  # the second one began after the switch
        while rot.state != JobState.SUCCEEDED and time.monotonic() < started + 20:
            time.sleep(0.1)
            rotation.run(rot.pk)
            rot.refresh_from_db()
        revoked = time.monotonic()
        wait_for(lambda: sent_since(revoked) >= 3 and len(sends) >= 10)  # new key only
    finally:
        stop.set()
        thread.join(30)

    assert rot.state == JobState.SUCCEEDED and rot.phase == RotationPhase.OLD_REVOKED
    assert failures == []
    times = [t for t, _ in sends]
    assert any(t < started for t in times)  # before
    assert any(switched <= t < revoked for t in times)  # during the grace period
    assert any(t > revoked for t in times)  # after the old key was revoked
    assert ApiKey.objects.get(pk=rot.old_key_id).is_revoked
    assert not key_works(sandbox, seller.key)  # the old key really stopped working
    assert len(sends) >= 10


def test_it_shows_the_grace_period_as_planned_and_who_was_told(onboarded, client, alice):
    rot = drive(rotation.start(onboarded, reason="manual"), RotationPhase.GRACE)
    url = reverse("tenants:tenant_rotation", args=[onboarded.pk])
    client.force_login(alice)

    page = client.get(url).content.decode()

    assert rot.state == JobState.WAITING
    assert "waiting for the grace period" in page and "waiting to retry" not in page
    assert "1 sent, 0 opened" in page
    assert "no customer login with an email address" not in page
    assert "hx-trigger" not in page  # nothing to follow for a day


def test_it_warns_that_nobody_is_told_when_the_tenant_has_no_customer_login(client, alice, acme):
    client.force_login(alice)
    page = client.get(reverse("tenants:tenant_rotation", args=[acme.pk])).content.decode()
    assert "no customer login with an email address" in page


def test_it_mails_the_rotation_notice_in_the_customers_language(onboarded, on_sandbox):
    onboarded.users.update(language="nl")
    drive(rotation.start(onboarded, reason="manual"), RotationPhase.GRACE)
    (message,) = mail.outbox
    assert message.subject == "Uw API-sleutel voor e-invoice.be werd vernieuwd"
    assert "The API key of" not in message.body and "e-invoice.be" in message.body
