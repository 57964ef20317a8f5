#!/usr/bin/env python
"""Figures for lost answers on the staff screens and double-submitted onboardings.

    .venv/bin/python bench/lost_answers.py [--n 10]

Starts its own sandbox and runs the portal in-process (test client, as staff) on a
throwaway SQLite database. Three rounds of `--n` each, through the screens only:

- "New key" whose answer is lost (the sandbox makes the key, drops the answer), then a
  Refresh of the tenant: live keys on e-invoice.be that the portal does not hold
  (target 0), and tenants left with a working current key;
- the tenant form whose answer is lost, submitted again if the screen asks to: tenants
  mirrored, and "name taken" answers (target 0);
- the onboarding form posted twice at the same moment, then every job run: onboarding
  jobs, tenants and live keys per company (target 1 each).

No quota on either side (the figures are about lost answers, not waiting for quota).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.portal_env import portal_env  # noqa: E402


def _company(i: int) -> dict:
    base = 4_000_000 + i
    number = f"0{base:07d}{97 - (base % 97):02d}"
    return {
        "name": f"lost-{i:04d}",
        "description": f"Lost Answer {i} BV",
        "country": "BE",
        "company_number": number,
        "company_tax_id": f"BE{number}",
        "peppol_id": f"0208:{number}",
    }


def _live(sandbox, tenant_id: str) -> list[dict]:
    listing = sandbox.admin("GET", f"/api/admin/tenants/{tenant_id}/api-keys").json()
    return [k for k in listing["api_keys"] if not k["is_deleted"]]


def lost_keys(client, sandbox, n: int) -> None:
    from django.urls import reverse

    from tenants import mirror
    from tenants.models import ApiKey

    unheld = usable = 0
    for i in range(n):
        tenant = mirror.create_tenant(_company(1000 + i), "bench")
        sandbox.set_faults(
            rules=[
                {
                    "method": "POST",
                    "path": "/api/admin/tenants/*/api-keys",
                    "action": "drop_after_write",
                }
            ]
        )
        client.post(reverse("tenants:key_create", args=[tenant.pk]), {"name": "production"})
        sandbox.clear_faults()
        client.post(reverse("tenants:tenant_refresh", args=[tenant.pk]))
        held = set(
            ApiKey.objects.filter(tenant=tenant, revoked_at__isnull=True)
            .exclude(encrypted_value="")
            .values_list("remote_id", flat=True)
        )
        unheld += sum(k["id"] not in held for k in _live(sandbox, tenant.remote_id))
        usable += tenant.current_key() is not None
    print(
        f"New key, answer lost ×{n}: live keys nobody holds {unheld}, tenants with a usable key {usable}"
    )


def lost_tenants(client, sandbox, n: int) -> None:
    from django.urls import reverse

    from tenants.models import Tenant

    taken = 0
    for i in range(n):
        data = _company(2000 + i)
        sandbox.set_faults(
            rules=[{"method": "POST", "path": "/api/admin/tenants", "action": "drop_after_write"}]
        )
        response = client.post(reverse("tenants:tenant_create"), data)
        sandbox.clear_faults()
        if response.status_code == 200:  # the screen asks to check and try again
            response = client.post(reverse("tenants:tenant_create"), data)
            taken += response.status_code == 200 and "already used" in response.content.decode()

    mirrored = Tenant.objects.filter(name__startswith="lost-2").count()
    print(f"Tenant form, answer lost ×{n}: tenants mirrored {mirrored}, 'name taken' {taken}")


def double_submits(user, sandbox, n: int) -> None:
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from tenants.models import OnboardingJob, Tenant
    from tenants.onboarding import steps

    for i in range(n):
        data = {**_company(3000 + i), "register_peppol": ""}
        barrier = threading.Barrier(2)

        def submit(data=data, barrier=barrier):
            try:
                browser = Client()
                browser.force_login(user)
                barrier.wait()
                browser.post(reverse("tenants:onboard"), data)
            finally:
                connection.close()

        tabs = [threading.Thread(target=submit) for _ in range(2)]
        for t in tabs:
            t.start()
        for t in tabs:
            t.join()
    jobs = OnboardingJob.objects.filter(name__startswith="lost-3")
    # Two workers at once, as when both jobs were dispatched together.
    pairs: dict[str, list[int]] = {}
    for job in jobs:
        pairs.setdefault(job.name, []).append(job.pk)
    for pks in pairs.values():
        barrier = threading.Barrier(len(pks))

        def work(pk, barrier=barrier):
            try:
                barrier.wait()
                for _ in range(10):
                    steps.run(pk)
                    job = OnboardingJob.objects.get(pk=pk)
                    if job.state in ("succeeded", "failed"):
                        break
                    OnboardingJob.objects.filter(pk=pk).update(next_attempt_at=job.created_at)
            finally:
                connection.close()

        workers = [threading.Thread(target=work, args=(pk,)) for pk in pks]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    tenants = Tenant.objects.filter(name__startswith="lost-3")
    keys = sum(len(_live(sandbox, t.remote_id)) for t in tenants)
    print(
        f"Onboarding posted twice at once ×{n}: jobs {jobs.count()}, tenants {tenants.count()}, "
        f"live keys {keys}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10)
    args = parser.parse_args()

    from sandbox.testing import SandboxProcess

    # No quota on either side: the figures are about lost answers, not about waiting.
    unlimited = {"SANDBOX_RATE_PER_MINUTE": "0", "SANDBOX_RATE_PER_HOUR": "0"}
    with (
        tempfile.TemporaryDirectory(prefix="bench-lost-") as tmp,
        SandboxProcess(env=unlimited) as sandbox,
    ):
        os.environ.update(portal_env(Path(tmp), sandbox))
        os.environ.update(
            EINVOICE_RETRY_BACKOFF_SECONDS="0",
            EINVOICE_RATE_PER_MINUTE="100000",
            EINVOICE_RATE_PER_HOUR="1000000",
        )
        import django

        django.setup()
        from django.core.management import call_command
        from django.test import Client
        from django.test.utils import setup_test_environment

        setup_test_environment()
        call_command("migrate", verbosity=0, interactive=False)
        from accounts.models import Role, User

        user = User.objects.create_user("bench", role=Role.ADMIN, password="x" * 20)
        client = Client()
        client.force_login(user)
        lost_keys(client, sandbox, args.n)
        lost_tenants(client, sandbox, args.n)
        double_submits(user, sandbox, args.n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
