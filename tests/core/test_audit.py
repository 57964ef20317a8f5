"""The audit log: who did what, append-only, hash-chained, verifiable."""

import json
import threading

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test import RequestFactory

from core import audit, checkpoint, triggers
from core.models import GENESIS_HASH, AppendOnlyError, AuditEntry
from tenants.models import ApiKey

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


class _Refused(Exception):
    pass


def test_it_records_an_attempt_once_with_its_outcome(alice, acme):
    with audit.audited("tenant.update", alice, tenant=acme, changes={"n": (1, 2)}) as attempt:
        attempt.changes = {"n": (1, 3)}  # what the block learnt replaces what was wanted
    with pytest.raises(_Refused), audit.audited("tenant.delete", "job:x#1", tenant=acme):
        raise _Refused("HTTP 503")
    with pytest.raises(KeyError), audit.audited("key.create", alice, errors=_Refused):
        raise KeyError("not an outcome of the operation")
    with audit.audited("key.create", alice, target="k") as attempt:
        attempt.fail("could not store the new key")
    rows = list(AuditEntry.objects.order_by("sequence"))
    assert [(e.action, e.actor, e.outcome, e.error, e.changes) for e in rows] == [
        ("tenant.update", "alice", "success", "", {"n": [1, 3]}),
        ("tenant.delete", "job:x#1", "error", "HTTP 503", {}),
        ("key.create", "alice", "error", "could not store the new key", {}),
    ]


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


def _tamper(sql, params=()):
    """What someone with write access to the database can do: switch the append-only
    triggers off, then change rows (the test transaction rolls all of it back)."""
    if connection.vendor == "postgresql":
        _raw("ALTER TABLE tenants_auditentry DISABLE TRIGGER tenants_auditentry_append_only")
    else:
        triggers.drop(connection)
    _raw(sql, params)


def _append(n, alice, acme=None):
    # Checkpoints are written when the append commits, as in production.
    with transaction.atomic():
        entries = [
            audit.record("tenant.update", tenant=acme, user=alice, changes={"n": (i, i + 1)})
            for i in range(n)
        ]
    return entries


def test_verify_finds_the_first_edited_entry(alice, acme, capsys):
    for i in range(5):
        audit.record("tenant.update", tenant=acme, user=alice, changes={"n": (i, i + 1)})
    target = AuditEntry.objects.get(sequence=3)
    _tamper("UPDATE tenants_auditentry SET actor = %s WHERE id = %s", ["mallory", target.pk])
    report = audit.verify_chain()
    assert (report.ok, report.broken_at, report.checked) == (False, 3, 2)
    with pytest.raises(CommandError, match="broken at entry #3"):
        call_command("verify_audit_log")


def test_verify_finds_a_removed_entry(alice):
    for _ in range(4):
        audit.record("tenant.update", user=alice)
    _tamper("DELETE FROM tenants_auditentry WHERE sequence = 2")
    report = audit.verify_chain()
    assert report.broken_at == 2 and "missing" in report.problem
    _raw("DELETE FROM tenants_auditentry WHERE sequence >= 2")
    assert "removed" in audit.verify_chain().problem  # a truncated tail is caught by the head


def test_it_refuses_update_and_delete_in_the_database(alice):
    from django.db import DatabaseError

    entry = audit.record("tenant.create", user=alice)
    for sql in [
        "UPDATE tenants_auditentry SET actor = 'x' WHERE id = %s",
        "DELETE FROM tenants_auditentry WHERE id = %s",
    ]:
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            _raw(sql, [entry.pk])
    assert AuditEntry.objects.get(pk=entry.pk).actor == "alice"


def test_it_reports_a_rechained_log_at_the_row_edited(
    alice, acme, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _append(5, alice, acme)
    # Mallory edits #3 and re-chains #3..#5 with plain SHA-256 (she has no AUDIT_CHAIN_KEY).
    prev = AuditEntry.objects.get(sequence=2).hash
    for entry in AuditEntry.objects.filter(sequence__gte=3).order_by("sequence"):
        entry.actor = "mallory" if entry.sequence == 3 else entry.actor
        entry.prev_hash, entry.keyed = prev, False
        entry.hash = entry.compute_hash()
        _tamper(
            "UPDATE tenants_auditentry SET actor=%s, prev_hash=%s, hash=%s, keyed=%s WHERE id=%s",
            [entry.actor, entry.prev_hash, entry.hash, False, entry.pk],
        )
        prev = entry.hash
    _raw("UPDATE tenants_audithead SET hash = %s WHERE id = 1", [prev])
    report = audit.verify_chain()
    assert (report.ok, report.broken_at) == (False, 3)


def test_it_reports_a_fully_rewritten_chain_at_the_row_edited(
    alice, acme, django_capture_on_commit_callbacks
):
    """Even re-hashing every row (unkeyed from the first) shows: the signed checkpoints
    outside the database hold the original hashes."""
    with django_capture_on_commit_callbacks(execute=True):
        _append(4, alice, acme)
    prev = GENESIS_HASH
    for entry in AuditEntry.objects.order_by("sequence"):
        entry.prev_hash, entry.keyed = prev, False
        entry.hash = entry.compute_hash()
        _tamper(
            "UPDATE tenants_auditentry SET prev_hash=%s, hash=%s, keyed=%s WHERE id=%s",
            [entry.prev_hash, entry.hash, False, entry.pk],
        )
        prev = entry.hash
    _raw("UPDATE tenants_audithead SET hash = %s WHERE id = 1", [prev])
    report = audit.verify_chain()
    assert (report.ok, report.broken_at) == (False, 1)
    assert "checkpoint" in report.problem


def test_it_catches_a_truncated_tail_with_the_head_moved_back(
    alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _append(5, alice)
    third = AuditEntry.objects.get(sequence=3)
    _tamper("DELETE FROM tenants_auditentry WHERE sequence > 3")
    _raw("UPDATE tenants_audithead SET sequence = 3, hash = %s WHERE id = 1", [third.hash])
    report = audit.verify_chain()
    assert (report.ok, report.broken_at) == (False, 4)
    assert "#4..#5 were removed" in report.problem
    with pytest.raises(CommandError, match="broken at entry #4"):
        call_command("verify_audit_log")


def test_it_checks_a_downloaded_checkpoint(alice, tmp_path, settings):
    audit.record("tenant.create", user=alice)
    audit.record("tenant.update", user=alice)
    downloaded = tmp_path / "checkpoint.json"
    downloaded.write_text(json.dumps(audit.head_checkpoint().as_dict()))
    settings.AUDIT_CHECKPOINT_FILE = ""  # only the downloaded one
    call_command("verify_audit_log", checkpoint=[str(downloaded)])
    second = AuditEntry.objects.get(sequence=2)
    _tamper("DELETE FROM tenants_auditentry WHERE sequence = 2")
    _raw("UPDATE tenants_audithead SET sequence = 1, hash = %s WHERE id = 1", [second.prev_hash])
    with pytest.raises(CommandError, match="#2..#2 were removed"):
        call_command("verify_audit_log", checkpoint=[str(downloaded)])


def test_it_refuses_a_forged_checkpoint(alice, tmp_path):
    audit.record("tenant.create", user=alice)
    forged = audit.head_checkpoint().as_dict() | {"sequence": 9}
    path = tmp_path / "forged.json"
    path.write_text(json.dumps(forged))
    with pytest.raises(CommandError, match="not signed with this portal's key"):
        call_command("verify_audit_log", checkpoint=[str(path)])


def test_it_writes_a_checkpoint_per_committed_append_and_none_for_a_rollback(
    alice, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        entry = audit.record("tenant.create", user=alice)
    with pytest.raises(RuntimeError), django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            audit.record("tenant.update", user=alice)
            raise RuntimeError("rolled back")
    points = checkpoint.read()
    assert [(p.sequence, p.hash) for p in points] == [(1, entry.hash)]
    assert all(p.is_authentic for p in points)


def test_legacy_unkeyed_rows_still_verify(alice):
    legacy = audit.record("tenant.create", user=alice)
    legacy.keyed = False
    _tamper(
        "UPDATE tenants_auditentry SET keyed=%s, hash=%s WHERE id=%s",
        [False, legacy.compute_hash(), legacy.pk],
    )
    _raw("UPDATE tenants_audithead SET hash = %s WHERE id = 1", [legacy.compute_hash()])
    triggers.ensure(connection)
    audit.record("tenant.update", user=alice)  # keyed, chained onto the legacy row
    assert audit.verify_chain().ok


def test_verify_command_reports_an_intact_log(alice, capsys):
    audit.record("tenant.create", user=alice)
    call_command("verify_audit_log")
    assert "intact: 1 entries" in capsys.readouterr().out


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
    from notifications.models import WebhookEndpoint

    hook = WebhookEndpoint(url="https://erp.example/hooks")
    hook.set_secret("whsec_erp")
    hook.save()
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    call_command("reencrypt_secrets")
    settings.FIELD_ENCRYPTION_KEYS = [new]  # the old key is gone: the value must still read
    assert ApiKey.objects.get(pk=key.pk).reveal_value() == KEY
    assert WebhookEndpoint.objects.get().reveal_secret() == "whsec_erp"
    assert AuditEntry.objects.filter(action="secrets.reencrypt", outcome="success").exists()


def test_reencrypt_secrets_names_keys_it_cannot_read(settings, acme):
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    key = ApiKey(tenant=acme, remote_id="key_1", name="k")
    key.set_value(KEY)
    key.save()
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(CommandError, match="could not be decrypted"):
        call_command("reencrypt_secrets")
