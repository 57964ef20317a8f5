"""The digest survives a worker that dies while sending it: its lines are resent (at most
once more), never lost."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from core import mail as core_mail
from notifications import digest, preferences, tasks
from tests.notifications.conftest import drive
from tests.notifications.test_preferences import failed


class WorkerKilled(BaseException):
    """The process dies (SIGKILL, out of memory): no `except Exception` runs."""


@pytest.fixture
def queued(otto, acme, globex):
    preferences.save(otto, {"document.failed": "digest"})
    failed(1, acme, "INV-A")
    failed(2, globex, "INV-B")
    drive()
    return otto


def _later(monkeypatch, minutes: int) -> None:
    moment = timezone.now() + timedelta(minutes=minutes)
    monkeypatch.setattr(timezone, "now", lambda: moment)


def _die_while_sending(monkeypatch, after_the_email_went: bool) -> None:
    real = core_mail.send_mail

    def send_mail(*args, **kwargs):
        if after_the_email_went:
            real(*args, **kwargs)
        raise WorkerKilled

    monkeypatch.setattr(core_mail, "send_mail", send_mail)


def test_it_resends_the_lines_of_a_digest_whose_worker_died_before_the_email_went(
    queued, monkeypatch
):
    with monkeypatch.context() as m:
        _die_while_sending(m, after_the_email_went=False)
        with pytest.raises(WorkerKilled):
            digest.send_due()
    assert not mail.outbox
    # The dead run's claim still stands for a while: a run now would race a slow send.
    assert digest.send_due() == 0
    _later(monkeypatch, minutes=digest.CLAIM_MINUTES + 1)
    assert tasks.resume_digests() == 1  # on beat, well before the next day's digest
    [message] = mail.outbox
    assert "INV-A" in message.body and "INV-B" in message.body
    assert digest.send_due() == 0 and tasks.resume_digests() == 0


def test_it_resends_a_digest_at_most_once_when_the_worker_died_after_the_email_went(
    queued, monkeypatch
):
    with monkeypatch.context() as m:
        _die_while_sending(m, after_the_email_went=True)
        with pytest.raises(WorkerKilled):
            digest.send_due()
    assert len(mail.outbox) == 1
    _later(monkeypatch, minutes=digest.CLAIM_MINUTES + 1)
    assert tasks.resume_digests() == 1
    assert len(mail.outbox) == 2 and mail.outbox[0].body == mail.outbox[1].body
    _later(monkeypatch, minutes=3 * digest.CLAIM_MINUTES)
    assert digest.send_due() == 0 and tasks.resume_digests() == 0
    assert len(mail.outbox) == 2


def test_it_leaves_unclaimed_lines_to_the_daily_digest(queued):
    assert tasks.resume_digests() == 0  # resuming is for dead runs only
    assert not mail.outbox
    assert digest.send_due() == 1
