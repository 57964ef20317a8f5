"""One live onboarding per company: a double submit, a colleague's second try, a CSV row of
a company already on its way, all show the job that runs instead of starting another
(which would adopt the first one's tenant and make a second live key)."""

from __future__ import annotations

import threading

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.urls import reverse

from jobs.models import JobState
from tenants.models import ApiKey, Tenant
from tenants.models.jobs import BulkOnboarding, OnboardingJob
from tenants.onboarding import bulk
from tenants.onboarding import steps as onboarding
from tests.tenants.jobs.conftest import customer, remote_keys, run_until_finished, start

pytestmark = pytest.mark.django_db


def form_data(i: int) -> dict:
    return {**customer(i), "register_peppol": "on"}


def _live_keys(sandbox) -> int:
    tenants = sandbox.admin("GET", "/api/admin/tenants").json()["tenants"]
    return sum(not k["is_deleted"] for t in tenants for k in remote_keys(sandbox, t["id"]))


def test_a_second_submit_shows_the_job_already_running(client, otto):
    client.force_login(otto)
    first = client.post(reverse("tenants:onboard"), form_data(1))

    second = client.post(reverse("tenants:onboard"), form_data(1))

    job = OnboardingJob.objects.get()
    assert first.url == second.url == reverse("tenants:job", args=[job.pk])
    said = [str(m) for m in get_messages(second.wsgi_request)]
    assert "customer-0001 is already being onboarded: this is that onboarding." in said


@pytest.mark.parametrize(
    "other",
    [
        {"name": "Customer-0001"},  # the same name as e-invoice.be compares names
        {"name": "customer-0001-b"},  # the same company under another name
    ],
)
def test_the_database_refuses_a_second_live_job_for_the_company(other):
    data = customer(1)
    start(data)
    with pytest.raises(IntegrityError), transaction.atomic():
        OnboardingJob.objects.create(**{**data, **other})


def test_a_finished_onboarding_does_not_block_a_new_one():
    first = start(customer(1))
    OnboardingJob.objects.filter(pk=first.pk).update(state=JobState.FAILED)

    again = start(customer(1))

    assert again.pk != first.pk


def test_two_submits_at_the_same_moment_make_one_tenant_and_one_key(
    transactional_db, on_sandbox, otto
):
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip("shared-cache in-memory SQLite has table locks; runs on a file or PostgreSQL")
    barrier = threading.Barrier(2)
    locations = []

    def submit():
        try:
            browser = Client()
            browser.force_login(otto)
            barrier.wait()
            locations.append(browser.post(reverse("tenants:onboard"), form_data(2)).url)
        finally:
            connection.close()

    tabs = [threading.Thread(target=submit) for _ in range(2)]
    for t in tabs:
        t.start()
    for t in tabs:
        t.join()

    job = OnboardingJob.objects.get()
    assert locations == [reverse("tenants:job", args=[job.pk])] * 2
    assert run_until_finished(job).state == JobState.SUCCEEDED
    assert Tenant.objects.count() == 1 and ApiKey.objects.count() == 1
    assert _live_keys(on_sandbox) == 1


def test_the_constraint_decides_when_both_checks_passed_at_once(monkeypatch):
    first = start(customer(3))
    # The other request checked before this one's row was there.
    calls = []
    real = onboarding.mirror.live_onboarding

    def checked_too_early(*args, **kwargs):
        calls.append(args)
        return None if len(calls) == 1 else real(*args, **kwargs)

    monkeypatch.setattr(onboarding.mirror, "live_onboarding", checked_too_early)

    with pytest.raises(onboarding.AlreadyOnboarding) as refused:
        start(customer(3))

    assert refused.value.job == first and OnboardingJob.objects.count() == 1


def test_a_retry_while_another_job_onboards_the_company_shows_that_job(client, otto):
    failed = start(customer(4))
    OnboardingJob.objects.filter(pk=failed.pk).update(state=JobState.FAILED)
    running = start(customer(4))
    client.force_login(otto)

    response = client.post(reverse("tenants:job_retry", args=[failed.pk]))

    assert response.url == reverse("tenants:job", args=[running.pk])
    failed.refresh_from_db()
    assert failed.state == JobState.FAILED


def _csv(*rows: dict) -> SimpleUploadedFile:
    lines = ["company_name,name,country,company_number,vat_number,peppol_id"]
    for r in rows:
        lines.append(
            f"{r['description']},{r['name']},BE,{r['company_number']},{r['company_tax_id']},"
            f"{r['peppol_id']}"
        )
    return SimpleUploadedFile("batch.csv", "\n".join(lines).encode(), content_type="text/csv")


def test_a_csv_row_of_a_company_being_onboarded_is_not_sent_again(client, otto, on_sandbox):
    client.force_login(otto)
    single = start(customer(5))
    client.post(
        reverse("tenants:bulk_upload"),
        {"file": _csv(customer(5), customer(6), customer(7)), "register_peppol": "on"},
    )
    batch = BulkOnboarding.objects.get()

    response = client.post(reverse("tenants:bulk_start", args=[batch.pk]))

    said = [str(m) for m in get_messages(response.wsgi_request)]
    assert "2 onboardings were queued." in said
    assert any("1 row is already being onboarded by another job" in m for m in said)
    assert sorted(batch.jobs.values_list("name", flat=True)) == ["customer-0006", "customer-0007"]
    page = client.get(reverse("tenants:bulk", args=[batch.pk])).content.decode()
    assert f"Already being onboarded by job #{single.pk}: not sent again." in page
    results = bulk.results_csv(BulkOnboarding.objects.get())
    assert f"already onboarding,,,,,already being onboarded by job #{single.pk}" in results

    for job in [single, *batch.jobs.all()]:
        assert run_until_finished(job).state == JobState.SUCCEEDED
    assert Tenant.objects.count() == 3 and _live_keys(on_sandbox) == 3


def test_a_job_does_not_adopt_the_tenant_another_live_job_is_creating(on_sandbox):
    data = customer(8)
    first = start(data)
    # A double submit from before the constraints (the migration leaves it running)...
    OnboardingJob.objects.filter(pk=first.pk).update(name_key="", company_key="")
    second = OnboardingJob.objects.create(**data)
    # ...and the first one's create went through, its answer still on the way.
    on_sandbox.admin(
        "POST",
        "/api/admin/tenants",
        json={
            "name": data["name"],
            "company_number": data["company_number"],
            "company_tax_id": data["company_tax_id"],
        },
    )

    second = run_until_finished(second)

    assert second.state == JobState.FAILED
    assert f"already being onboarded by job #{first.pk}" in second.last_error
    assert not Tenant.objects.exists() and _live_keys(on_sandbox) == 0


@pytest.fixture
def latest_schema():
    """Whatever a migration test leaves, the next tests get every migration applied (a test
    stopping at 0010 left later columns missing for every transactional test after it)."""
    yield
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_running_double_submits_and_adds_the_constraints(latest_schema):
    from django.db.migrations.executor import MigrationExecutor

    before = [("tenants", "0009_tenant_search_trigram")]
    after = [("tenants", "0010_one_live_onboarding_per_company")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps.get_model("tenants", "OnboardingJob")
    data = customer(9)
    for state in ("running", "queued", "failed"):  # a double submit in flight, an old one
        old.objects.create(**{**data, "name": data["name"].upper()}, state=state)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)

    jobs = list(OnboardingJob.objects.order_by("pk").values_list("state", "name_key"))
    assert jobs == [("running", "customer0009"), ("queued", ""), ("failed", "customer0009")]
    # The model as 0010 left it (the current one has columns later migrations add); without
    # the model's save(), the key it derives is given.
    migrated = executor.loader.project_state(after).apps.get_model("tenants", "OnboardingJob")
    with pytest.raises(IntegrityError), transaction.atomic():
        migrated.objects.create(**data, name_key=jobs[0][1])
