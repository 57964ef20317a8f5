"""A Peppol ID another access point holds: onboarding finishes without it, a watch checks on
a backing-off schedule and registers the ID the moment it is released, then emails staff
(issue 12). Against the sandbox, whose directory holds 0208:0443055814 for an outside
access point ("Noordzee Access Point BV")."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEntry
from jobs.models import JobState
from tenants import watch
from tenants.models import PeppolState, PeppolWatch, Tenant, WatchOutcome
from tenants.models.jobs import PeppolOutcome
from tests.tenants.jobs.conftest import admin_calls, run_until_finished, start

HELD = "0208:0443055814"
HOLDER_AP = "Noordzee Access Point BV"


@pytest.fixture
def watch_settings(settings):
    settings.PEPPOL_WATCH_FIRST_CHECK_SECONDS = 60
    settings.PEPPOL_WATCH_MAX_INTERVAL_SECONDS = 600
    settings.PEPPOL_WATCH_GIVE_UP_DAYS = 1


def _zwarte_kat() -> dict:
    return {
        "name": "zwarte-kat",
        "description": "Brouwerij De Zwarte Kat NV",
        "company_number": "0443055814",
        "company_tax_id": "BE0443055814",
        "peppol_id": HELD,
    }


def _run_watch_now(w: PeppolWatch) -> PeppolWatch:
    PeppolWatch.objects.filter(pk=w.pk).update(next_attempt_at=timezone.now())
    watch.run(w.pk)
    w.refresh_from_db()
    return w


def _onboard_held(on_sandbox, otto) -> tuple[Tenant, PeppolWatch]:
    job = start(_zwarte_kat())
    job.created_by = otto
    job.save(update_fields=["created_by"])
    job = run_until_finished(job)
    assert job.state == JobState.SUCCEEDED
    assert job.peppol_outcome == PeppolOutcome.HELD_ELSEWHERE
    return job.tenant, PeppolWatch.objects.get(tenant=job.tenant)


def test_it_finishes_onboarding_and_watches_an_id_held_elsewhere(on_sandbox, otto, watch_settings):
    tenant, w = _onboard_held(on_sandbox, otto)
    # Tenant and key are there; no registration was attempted (nothing the API would refuse).
    assert tenant.current_key() is not None
    assert not [c for c in admin_calls(on_sandbox) if c["path"].endswith("/peppol/register")]
    assert (w.state, w.outcome, w.peppol_id) == (JobState.WAITING, WatchOutcome.WATCHING, HELD)
    assert w.holder["access_point"] == HOLDER_AP
    reg = tenant.peppol
    assert reg.state == PeppolState.HELD_ELSEWHERE and HOLDER_AP in reg.state_reason
    assert w.next_attempt_at > timezone.now() + timedelta(seconds=50)  # not hammering


def test_it_backs_off_while_the_id_stays_held(on_sandbox, otto, watch_settings):
    _tenant, w = _onboard_held(on_sandbox, otto)
    waits = []
    for _ in range(5):
        before = timezone.now()
        w = _run_watch_now(w)
        assert w.state == JobState.WAITING and HOLDER_AP in w.last_error
        waits.append((w.next_attempt_at - before).total_seconds())
    assert w.checks == 5
    assert [round(s / 60) for s in waits] == [2, 4, 8, 10, 10]  # doubling up to the cap


def test_it_registers_the_moment_the_id_is_released_and_tells_staff(
    on_sandbox, otto, alice, watch_settings
):
    tenant, w = _onboard_held(on_sandbox, otto)
    w = _run_watch_now(w)
    assert w.state == JobState.WAITING
    on_sandbox.release_participant(HELD)
    w = _run_watch_now(w)
    assert (w.state, w.outcome) == (JobState.SUCCEEDED, WatchOutcome.REGISTERED)
    tenant.peppol.refresh_from_db()
    assert tenant.peppol.registered and tenant.peppol.state == PeppolState.REGISTERED
    registers = [c for c in admin_calls(on_sandbox) if c["path"].endswith("/peppol/register")]
    assert len(registers) == 1 and tenant.peppol.peppol_id == HELD
    # Admins and the one who started it hear of it, each once.
    assert sorted(m.to[0] for m in mail.outbox) == sorted([alice.email, otto.email])
    assert all("registered on Peppol" in m.subject for m in mail.outbox)
    states = [
        e.changes["state"][1]
        for e in AuditEntry.objects.filter(tenant=tenant, action="peppol.state").order_by(
            "sequence"
        )
    ]
    # The states it settled in; the passing ones (checking, registering) are not logged.
    assert states[0] == PeppolState.HELD_ELSEWHERE and states[-1] == PeppolState.REGISTERED
    assert not {PeppolState.CHECKING, PeppolState.REGISTERING} & set(states)


def test_it_gives_up_after_the_policy_limit(on_sandbox, otto, watch_settings):
    tenant, w = _onboard_held(on_sandbox, otto)
    PeppolWatch.objects.filter(pk=w.pk).update(give_up_at=timezone.now() - timedelta(seconds=1))
    w = _run_watch_now(w)
    assert (w.state, w.outcome) == (JobState.SUCCEEDED, WatchOutcome.GAVE_UP)
    tenant.peppol.refresh_from_db()
    assert tenant.peppol.state == PeppolState.FAILED and not tenant.peppol.registered
    assert any("still held elsewhere" in m.subject for m in mail.outbox)


def test_it_keeps_one_watch_per_tenant(on_sandbox, otto, watch_settings):
    tenant, w = _onboard_held(on_sandbox, otto)
    from tenants import checks

    again = watch.start(tenant, checks.preflight(HELD, exclude=tenant), "test")
    assert again.pk == w.pk and PeppolWatch.objects.count() == 1


# --- the staff screens ------------------------------------------------------------------------
def test_it_shows_the_holder_before_registering_and_watches_on_request(
    on_sandbox, otto, client, alice, watch_settings
):
    # Onboarded without registering: the register page does the preflight.
    job = run_until_finished(start(_zwarte_kat(), register_peppol=False))
    tenant = job.tenant
    client.force_login(alice)
    page = client.get(reverse("tenants:peppol_register", args=[tenant.pk])).content.decode()
    assert 'data-verdict="elsewhere"' in page and HOLDER_AP in page
    assert "migration key" in page  # what to ask the current provider
    assert "Register as soon as it is free" in page

    client.post(reverse("tenants:peppol_watch", args=[tenant.pk]))
    w = PeppolWatch.objects.get(tenant=tenant)
    assert w.state == JobState.WAITING and w.created_by == alice
    detail = client.get(reverse("tenants:tenant_detail", args=[tenant.pk])).content.decode()
    assert 'data-watch="watching"' in detail and "Stop watching" in detail
    listed = client.get(reverse("tenants:tenant_list"), {"peppol": PeppolState.HELD_ELSEWHERE})
    assert [t.name for t in listed.context["page"].object_list] == ["zwarte-kat"]

    client.post(reverse("tenants:peppol_watch_cancel", args=[tenant.pk]))
    w.refresh_from_db()
    assert w.outcome == WatchOutcome.CANCELLED and w.state == JobState.SUCCEEDED
    assert (
        'data-watch="cancelled"'
        in client.get(reverse("tenants:tenant_detail", args=[tenant.pk])).content.decode()
    )


def test_it_refuses_to_post_a_registration_the_preflight_knows_would_fail(
    on_sandbox, otto, client, alice, watch_settings
):
    job = run_until_finished(start(_zwarte_kat(), register_peppol=False))
    client.force_login(alice)
    calls = len(admin_calls(on_sandbox))
    response = client.post(
        reverse("tenants:peppol_register", args=[job.tenant.pk]),
        {"peppol_id": HELD, "company_name": ""},
    )
    assert response.status_code == 200
    assert HOLDER_AP in response.content.decode()
    assert len(admin_calls(on_sandbox)) == calls  # nothing sent


# --- the journey: a CSV of 20 with 3 IDs held elsewhere -----------------------------
def test_it_onboards_a_csv_of_20_and_watches_the_3_held_ids(on_sandbox, alice, watch_settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tenants.onboarding import bulk
    from tests.tenants.jobs.conftest import customer

    rows = [customer(i) for i in range(20)]
    held = [rows[3], rows[9], rows[15]]
    for c in held:
        on_sandbox.add_participant(
            c["peppol_id"],
            c["description"],
            access_point="Andere AP NV",
            smp_host="smp.andere.example",
        )
    # The look-ups need a key the portal holds: an onboarded customer's.
    first = run_until_finished(start(customer(100), register_peppol=False))
    assert first.state == JobState.SUCCEEDED
    text = "company_name,name,country,company_number,vat_number,peppol_id\n" + "".join(
        f"{c['description']},{c['name']},BE,{c['company_number']},{c['company_tax_id']},"
        f"{c['peppol_id']}\n"
        for c in rows
    )
    batch = bulk.create_batch(
        SimpleUploadedFile("customers.csv", text.encode()), register_peppol=True, user=alice
    )
    # The dry run names the holder of the 3, before anything is sent.
    verdicts = {r["data"]["peppol_id"]: r["peppol"] for r in batch.rows}
    assert sorted(p for p, v in verdicts.items() if v["kind"] == "elsewhere") == sorted(
        c["peppol_id"] for c in held
    )
    assert all("Andere AP NV" in verdicts[c["peppol_id"]]["text"] for c in held)
    assert not batch.jobs.exists()

    calls_before = len(admin_calls(on_sandbox))
    assert bulk.start(batch, user=alice) == 20
    for job in batch.jobs.all():
        assert run_until_finished(job).state == JobState.SUCCEEDED
    outcomes = sorted(batch.jobs.values_list("peppol_outcome", flat=True))
    assert outcomes.count(PeppolOutcome.HELD_ELSEWHERE) == 3
    assert outcomes.count(PeppolOutcome.REGISTERED) == 17
    # 3 calls per free row, 2 per held one: nothing sent that e-invoice.be would refuse.
    assert len(admin_calls(on_sandbox)) - calls_before == 17 * 3 + 3 * 2
    watches = PeppolWatch.objects.filter(state=JobState.WAITING)
    assert watches.count() == 3
    assert Tenant.objects.filter(peppol__state=PeppolState.HELD_ELSEWHERE).count() == 3

    # One is released: the next check (one interval later) registers it and tells staff.
    on_sandbox.release_participant(held[1]["peppol_id"])
    for w in watches:
        _run_watch_now(w)
    done = PeppolWatch.objects.get(outcome=WatchOutcome.REGISTERED)
    assert done.peppol_id == held[1]["peppol_id"]
    assert PeppolWatch.objects.filter(state=JobState.WAITING).count() == 2
    assert [m.to for m in mail.outbox] == [[alice.email]]
    assert 429 not in {c["status"] for c in admin_calls(on_sandbox)}
