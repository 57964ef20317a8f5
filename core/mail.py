"""Outgoing email, rendered from templates in the recipient's language.

Every email is a pair of templates, `emails/<name>_subject.txt` and `emails/<name>.txt`,
rendered with the recipient's language active: a Dutch user gets Dutch text even when a
French-speaking admin or an English worker sends it.
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import translation


def language_of(user) -> str:
    return getattr(user, "language", "") or settings.LANGUAGE_CODE


def render(name: str, context: dict, language: str) -> tuple[str, str]:
    """(subject, body) of the email `name` in `language`."""
    with translation.override(language):
        subject = render_to_string(f"emails/{name}_subject.txt", context)
        body = render_to_string(f"emails/{name}.txt", context)
    # A subject is one line; a stray newline in it is a header injection error.
    return " ".join(subject.split()), body


def send(name: str, context: dict, to: str, language: str) -> None:
    subject, body = render(name, context, language)
    send_mail(subject, body, None, [to])


def send_to_user(name: str, context: dict, user) -> None:
    send(name, {"user": user, **context}, user.email, language_of(user))


def absolute(path: str) -> str:
    """An absolute URL from PORTAL_BASE_URL: a worker has no request to take the host from."""
    return settings.PORTAL_BASE_URL + path
