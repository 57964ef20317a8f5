"""Customer accounts by invitation, forgot password, the demo mailbox, SMTP delivery."""

import re
from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts import invitations
from accounts.models import User
from core.models import AuditEntry
from tests.conftest import PASSWORD

NEW_PASSWORD = "a fresh and long pass phrase"  # noqa: S105 - test password


def link_path(message) -> str:
    return re.search(r"https?://[^/\s]+(/\S+)", message.body).group(1)


def accept(client, path: str, password: str = NEW_PASSWORD):
    form = client.get(path, follow=True)
    return form, client.post(
        form.redirect_chain[-1][0] if form.redirect_chain else path,
        {"new_password1": password, "new_password2": password},
        follow=True,
    )


def logs_in(client, username: str, password: str) -> bool:
    client.logout()
    response = client.post(reverse("login"), {"username": username, "password": password})
    return response.status_code == 302


def invite(client, alice, acme, email="dora@example.com", language="en"):
    client.force_login(alice)
    response = client.post(
        reverse("user_invite", args=[acme.pk]), {"email": email, "language": language}
    )
    assert response.status_code == 302, response.content.decode()
    client.logout()
    return User.objects.get(email=email)


def test_it_accepts_an_invitation_and_lands_on_the_own_tenant_only(client, alice, acme, globex):
    dora = invite(client, alice, acme)
    assert dora.tenant == acme and not dora.has_usable_password()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["dora@example.com"]
    _, done = accept(client, link_path(mail.outbox[0]))
    assert done.redirect_chain[-1][0] == reverse("invoices:documents")
    assert done.wsgi_request.user == dora
    assert logs_in(client, "dora@example.com", NEW_PASSWORD)
    assert client.get(reverse("tenants:dashboard")).status_code == 403
    actions = list(AuditEntry.objects.values_list("action", flat=True))
    assert "user.invite" in actions and "user.invitation_accept" in actions


def test_it_says_a_reused_invitation_link_was_used(client, alice, acme):
    invite(client, alice, acme)
    path = link_path(mail.outbox[0])
    accept(client, path)
    client.logout()
    page, _ = accept(client, path, "another long pass phrase")
    assert "already used" in page.content.decode()
    assert User.objects.get(email="dora@example.com").check_password(NEW_PASSWORD)


def test_it_says_an_expired_invitation_link_has_expired(client, alice, acme, settings):
    invite(client, alice, acme)
    path = link_path(mail.outbox[0])
    later = timezone.now() + timedelta(hours=settings.INVITATION_LINK_HOURS + 48)
    with mock.patch.object(
        invitations.ExpiringTokens, "_now", return_value=later.replace(tzinfo=None)
    ):
        page, done = accept(client, path)
    assert "This link has expired." in page.content.decode()
    assert not User.objects.get(email="dora@example.com").has_usable_password()


def test_it_voids_the_first_link_when_the_invitation_is_resent(client, alice, acme):
    dora = invite(client, alice, acme)
    client.force_login(alice)
    client.post(reverse("user_resend", args=[acme.pk, dora.pk]))
    client.logout()
    assert len(mail.outbox) == 2
    page, _ = accept(client, link_path(mail.outbox[0]))
    assert "already used, or a newer one replaced it" in page.content.decode()
    _, done = accept(client, link_path(mail.outbox[1]))
    assert done.wsgi_request.user.pk == dora.pk


def test_it_gives_the_same_answer_for_unknown_addresses(client, carol):
    known = client.post(reverse("password_reset"), {"email": carol.email}, follow=True)
    unknown = client.post(reverse("password_reset"), {"email": "nobody@example.com"}, follow=True)
    assert known.redirect_chain == unknown.redirect_chain
    main = re.compile(r"<main.*</main>", re.S)
    assert main.search(known.content.decode())[0] == main.search(unknown.content.decode())[0]
    assert [m.to for m in mail.outbox] == [[carol.email]]


def test_it_does_the_same_work_for_a_known_and_an_unknown_address(
    client, carol, password_resets_sent_inline
):
    """No answer time can tell them apart: the request runs the same queries for both and
    only queues the address; the worker looks it up and sends the link."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    password_resets_sent_inline.side_effect = None  # queued only, as on a real broker
    work = {}
    for label, address in (("known", carol.email), ("unknown", "nobody@example.com")):
        client.get(reverse("password_reset"))  # the session and CSRF cookie, as a browser has
        with CaptureQueriesContext(connection) as queries:
            response = client.post(reverse("password_reset"), {"email": address})
        assert response.status_code == 302
        work[label] = [q["sql"].replace(address, "?") for q in queries.captured_queries]
    assert work["known"] == work["unknown"]
    assert not mail.outbox
    assert [c.args[0] for c in password_resets_sent_inline.call_args_list] == [
        carol.email,
        "nobody@example.com",
    ]
    # The worker's part: a link for the account, nothing for the stranger.
    from accounts import tasks

    assert tasks.send_password_reset(carol.email, "127.0.0.1") == 1
    assert tasks.send_password_reset("nobody@example.com", "127.0.0.1") == 0
    assert [m.to for m in mail.outbox] == [[carol.email]]
    entry = AuditEntry.objects.get(action="user.password_reset_request")
    assert entry.target == "carol" and entry.ip == "127.0.0.1"


def test_it_resets_a_password_through_the_emailed_link(client, carol):
    client.post(reverse("password_reset"), {"email": carol.email})
    _, done = accept(client, link_path(mail.outbox[0]))
    assert done.redirect_chain[-1][0] == reverse("password_reset_complete")
    assert logs_in(client, "carol", NEW_PASSWORD)
    assert not logs_in(client, "carol", PASSWORD)
    assert AuditEntry.objects.filter(action="user.password_reset", target="carol").exists()


def test_it_deactivates_and_reactivates_a_customer(client, alice, acme, carol):
    client.force_login(alice)
    client.post(reverse("user_deactivate", args=[acme.pk, carol.pk]))
    carol.refresh_from_db()
    assert not carol.is_active
    assert not logs_in(client, "carol", PASSWORD)
    client.force_login(alice)
    client.post(reverse("user_reactivate", args=[acme.pk, carol.pk]))
    assert logs_in(client, "carol", PASSWORD)


def test_it_lets_no_operator_deactivate(client, otto, acme, carol):
    client.force_login(otto)
    assert client.post(reverse("user_deactivate", args=[acme.pk, carol.pk])).status_code == 403


def test_it_lists_the_tenants_users_with_their_actions(client, alice, acme, carol):
    invite(client, alice, acme)
    client.force_login(alice)
    page = client.get(reverse("tenants:tenant_detail", args=[acme.pk])).content.decode()
    assert "dora@example.com" in page and "carol" in page
    assert "Resend invitation" in page and "Deactivate" in page


def test_it_mails_a_dutch_user_in_dutch(client, alice, acme):
    client.force_login(alice)  # the admin's page is in English
    invite(client, alice, acme, email="daan@example.com", language="nl")
    message = mail.outbox[0]
    assert "Uw login" in message.subject, message.subject
    assert "wachtwoord" in message.body


@pytest.fixture
def file_mail(settings, tmp_path):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")
    settings.DEBUG = True
    return tmp_path / "mail"


def test_it_writes_emails_to_files_and_shows_them_to_staff(client, alice, acme, file_mail):
    invite(client, alice, acme)
    assert len(list(file_mail.glob("*.log"))) == 1
    client.force_login(alice)
    listing = client.get(reverse("mailbox")).content.decode()
    ref = re.search(r'href="\?ref=([^"]+)"', listing).group(1)
    shown = client.get(reverse("mailbox") + "?ref=" + ref).content.decode()
    assert "/accounts/invitation/" in shown and "dora@example.com" in shown


def test_it_hides_the_mailbox_outside_the_demo(client, alice, file_mail, settings):
    client.force_login(alice)
    settings.DEBUG = False
    assert client.get(reverse("mailbox")).status_code == 404


def test_it_delivers_through_a_real_smtp_server(settings, carol, unused_tcp_port):
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink

    class Keep(Sink):
        def __init__(self):
            self.envelopes = []

        async def handle_DATA(self, server, session, envelope):
            self.envelopes.append(envelope)
            return "250 OK"

    handler = Keep()
    controller = Controller(handler, hostname="127.0.0.1", port=unused_tcp_port)
    controller.start()
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", unused_tcp_port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        invitations.send_reset(carol)
    finally:
        controller.stop()
    [envelope] = handler.envelopes
    assert envelope.rcpt_tos == [carol.email]
    assert b"/accounts/password/reset/" in envelope.content


@pytest.fixture
def unused_tcp_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_it_reads_email_settings_from_one_url():
    import environ

    config = environ.Env.email_url_config("smtp://user:pass@mx.example.com:587/?tls=True")
    assert config["EMAIL_HOST"] == "mx.example.com" and config["EMAIL_PORT"] == 587
