"""The audit log: who did what, append-only, hash-chained, verifiable."""

import threading

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test import RequestFactory

from tenants import audit
from tenants.models import ApiKey, AuditEntry
from tenants.models.audit import GENESIS_HASH, AppendOnlyError

KEY = "einv_live_canary_audit_0000111122223333"


def _request(user, ip="203.0.113.7"):
    request = RequestFactory().post("/staff/x", REMOTE_ADDR=ip, HTTP_USER_AGENT="Firefox/140")
    request.user = user
    return request


def test_it_records_a_person_with_ip_and_user_agent(alice, acme):
    entry = audit.record(
        "tenant.update",
        tenant=acme,
        request=_request(alice),
        changes={"description": ("Acme", "Acme BV")},
    )
    entry = AuditEntry.objects.get(pk=entry.pk)
    assert (entry.actor, entry.user_id, entry.action, entry.target) == (
        "alice",
        alice.pk,
        "tenant.update",
        "acme",
    )
    assert (entry.ip, entry.user_agent, entry.outcome) == ("203.0.113.7", "Firefox/140", "success")
    assert entry.changes == {"description": ["Acme", "Acme BV"]}


def test_it_records_a_job_without_person_details(acme):
    entry = audit.record(
        "key.create",
        tenant=acme,
        actor_label="job:onboarding#12",
        outcome="error",
        error="HTTP 503",
    )
    assert (entry.actor, entry.user_id, entry.ip, entry.user_agent) == (
        "job:onboarding#12",
        None,
        None,
        "",
    )
    assert entry.error == "HTTP 503"


def test_it_never_stores_a_secret(alice, acme):
    entry = audit.record(
        "key.create",
        tenant=acme,
        user=alice,
        target=f"key {KEY}",
        error=f"failed with {KEY}",
        changes={"key": (None, KEY), "password": ("a", "b"), "note": (None, f"x {KEY}")},
    )
    stored = AuditEntry.objects.get(pk=entry.pk)
    assert KEY not in stored.canonical()
    assert stored.changes["key"] == ["[redacted]", "[redacted]"]
    assert stored.changes["password"] == ["[redacted]", "[redacted]"]


def test_each_entry_chains_onto_the_previous(alice, acme):
    first = audit.record("tenant.create", tenant=acme, user=alice)
    second = audit.record("tenant.update", tenant=acme, user=alice)
    assert (first.sequence, second.sequence) == (1, 2)
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash
    assert AuditEntry.objects.get(pk=second.pk).compute_hash() == second.hash
    assert audit.verify_chain().ok


def test_the_app_refuses_to_change_or_delete_entries(alice):
    entry = audit.record("tenant.create", user=alice)
    entry.action = "nothing.happened"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.filter(pk=entry.pk).update(action="x")
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.get(pk=entry.pk).action == "tenant.create"


def _raw(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.mark.skipif(connection.vendor == "postgresql", reason="the trigger refuses the tampering")
def test_verify_finds_the_first_edited_entry(alice, acme, capsys):
    for i in range(5):
        audit.record("tenant.update", tenant=acme, user=alice, changes={"n": (i, i + 1)})
    target = AuditEntry.objects.get(sequence=3)
    _raw("UPDATE tenants_auditentry SET actor = %s WHERE id = %s", ["mallory", target.pk])
    report = audit.verify_chain()
    assert (report.ok, report.broken_at, report.checked) == (False, 3, 2)
    with pytest.raises(CommandError, match="broken at entry #3"):
        call_command("verify_audit_log")


@pytest.mark.skipif(connection.vendor == "postgresql", reason="the trigger refuses the tampering")
def test_verify_finds_a_removed_entry(alice):
    for _ in range(4):
        audit.record("tenant.update", user=alice)
    _raw("DELETE FROM tenants_auditentry WHERE sequence = 2")
    report = audit.verify_chain()
    assert report.broken_at == 2 and "missing" in report.problem
    _raw("DELETE FROM tenants_auditentry WHERE sequence >= 2")
    assert "removed" in audit.verify_chain().problem  # a truncated tail is caught by the head


def test_verify_command_reports_an_intact_log(alice, capsys):
    audit.record("tenant.create", user=alice)
    call_command("verify_audit_log")
    assert "intact: 1 entries" in capsys.readouterr().out


@pytest.mark.skipif(connection.vendor != "postgresql", reason="trigger exists on PostgreSQL only")
def test_postgresql_refuses_update_and_delete(alice):
    from django.db import DatabaseError

    entry = audit.record("tenant.create", user=alice)
    for sql in [
        "UPDATE tenants_auditentry SET actor = 'x' WHERE id = %s",
        "DELETE FROM tenants_auditentry WHERE id = %s",
    ]:
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            _raw(sql, [entry.pk])


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_never_fork_the_chain():
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip("shared-cache in-memory SQLite has table locks; runs on a file or PostgreSQL")

    def worker(n):
        try:
            for i in range(8):
                audit.record("job.step", actor_label=f"job:test#{n}", changes={"i": (None, i)})
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert AuditEntry.objects.count() == 32
    assert list(AuditEntry.objects.order_by("sequence").values_list("sequence", flat=True)) == list(
        range(1, 33)
    )
    report = audit.verify_chain()
    assert report.ok and report.checked == 32


def test_reencrypt_secrets_moves_every_key_to_the_newest_key(settings, acme):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    key = ApiKey(tenant=acme, remote_id="key_1", name="k")
    key.set_value(KEY)
    key.save()
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    call_command("reencrypt_secrets")
    settings.FIELD_ENCRYPTION_KEYS = [new]  # the old key is gone: the value must still read
    assert ApiKey.objects.get(pk=key.pk).reveal_value() == KEY
    assert AuditEntry.objects.filter(action="secrets.reencrypt", outcome="success").exists()


def test_reencrypt_secrets_names_keys_it_cannot_read(settings, acme):
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    key = ApiKey(tenant=acme, remote_id="key_1", name="k")
    key.set_value(KEY)
    key.save()
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(CommandError, match="could not be decrypted"):
        call_command("reencrypt_secrets")
