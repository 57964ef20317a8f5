"""Key hand-over links: one-time, expiring, shown once with how to use the key."""

import re
from datetime import timedelta

from django.core import mail
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEntry
from tenants.models import ApiKey
from tenants.models.jobs import KeyRevealLink
from tests.conftest import make_tenant


def give_key(tenant, value: str) -> ApiKey:
    key = ApiKey(tenant=tenant, remote_id=f"key-{tenant.name}", name="production", is_current=True)
    key.set_value(value)
    key.save()
    return key


def send(client, tenant, email="dev@example.com", language="en"):
    return client.post(
        reverse("tenants:handover_send", args=[tenant.pk]), {"email": email, "language": language}
    )


def path_in(message) -> str:
    return re.search(r"https?://[^/\s]+(/\S+)", message.body).group(1)


def test_it_shows_the_key_once_to_whoever_holds_the_link(client, alice, acme):
    give_key(acme, "einv_live_acme_0001")
    client.force_login(alice)
    send(client, acme)
    assert "einv_live_acme_0001" not in mail.outbox[0].body
    client.logout()
    path = path_in(mail.outbox[0])
    # Opening the link (as a mail scanner would) does not use it up.
    assert "einv_live_acme_0001" not in client.get(path).content.decode()
    first = client.post(path).content.decode()
    assert "einv_live_acme_0001" in first and "curl -s" in first and "/api/me/" in first
    again = client.post(path)
    assert again.status_code == 410 and "einv_live_acme_0001" not in again.content.decode()
    actions = list(AuditEntry.objects.values_list("action", flat=True))
    assert actions.count("key.reveal") == 1 and "key.reveal_refused" in actions


def test_it_says_an_expired_link_has_expired_and_audits_it(client, alice, acme):
    give_key(acme, "einv_live_acme_0002")
    client.force_login(alice)
    send(client, acme)
    KeyRevealLink.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    client.logout()
    response = client.post(path_in(mail.outbox[0]))
    assert response.status_code == 410 and "This link has expired." in response.content.decode()
    assert AuditEntry.objects.get(action="key.reveal_refused").error == "expired"


def test_it_withdraws_and_resends_an_unused_link(client, alice, acme):
    give_key(acme, "einv_live_acme_0003")
    client.force_login(alice)
    send(client, acme)
    link = KeyRevealLink.objects.get()
    client.post(reverse("tenants:handover_resend", args=[acme.pk]), {"link": link.pk})
    assert len(mail.outbox) == 2 and mail.outbox[1].to == ["dev@example.com"]
    client.logout()
    assert "withdrawn" in client.post(path_in(mail.outbox[0])).content.decode()
    assert "einv_live_acme_0003" in client.post(path_in(mail.outbox[1])).content.decode()
    assert AuditEntry.objects.filter(action="key.handover_revoke").count() == 1


def test_it_lets_no_operator_send_a_key_link(client, otto, acme):
    give_key(acme, "einv_live_acme_0004")
    client.force_login(otto)
    assert send(client, acme).status_code == 403
    assert not mail.outbox


def test_it_sends_bulk_reveal_links_each_showing_its_key_once(client, alice, db):
    tenants = [make_tenant(f"t{i}", f"Tenant {i}", f"04031707{i:02d}") for i in range(10)]
    for i, tenant in enumerate(tenants):
        give_key(tenant, f"einv_live_bulk_{i:04d}")
    client.force_login(alice)
    for i, tenant in enumerate(tenants):
        send(client, tenant, email=f"dev{i}@example.com")
    client.logout()
    assert len(mail.outbox) == 10
    for i, message in enumerate(mail.outbox):
        path = path_in(message)
        assert f"einv_live_bulk_{i:04d}" in client.post(path).content.decode()
        assert f"einv_live_bulk_{i:04d}" not in client.post(path).content.decode()
