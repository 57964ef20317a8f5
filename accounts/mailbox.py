"""The demo's mailbox: the emails the file backend wrote under var/mail/, for staff to read.

Only when DEBUG is on and email goes to files (the embedded default); anywhere else the
page does not exist (404).
"""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.access import staff_required

FILE_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
# The file backend separates the messages of one connection with a line of 79 dashes.
SEPARATOR = b"\n" + b"-" * 79 + b"\n"
MAX_SHOWN = 200


@dataclass
class StoredEmail:
    ref: str  # "<file name>:<index in the file>"
    sender: str
    to: str
    subject: str
    date: datetime | None
    body: str


def enabled() -> bool:
    return settings.DEBUG and settings.EMAIL_BACKEND == FILE_BACKEND


def _parse(ref: str, raw: bytes) -> StoredEmail:
    message = email.message_from_bytes(raw.strip(b"\n"), policy=email.policy.default)
    part = message.get_body(preferencelist=("plain",)) if message.is_multipart() else message
    date = message["Date"]
    return StoredEmail(
        ref=ref,
        sender=str(message["From"] or ""),
        to=str(message["To"] or ""),
        subject=str(message["Subject"] or ""),
        date=date.datetime if date is not None and hasattr(date, "datetime") else None,
        body=part.get_content() if part is not None else "",
    )


def stored_emails() -> list[StoredEmail]:
    """Newest first, at most MAX_SHOWN."""
    folder = Path(settings.EMAIL_FILE_PATH)
    if not folder.is_dir():
        return []
    found: list[StoredEmail] = []
    for path in sorted(folder.glob("*.log"), key=lambda p: p.stat().st_mtime, reverse=True):
        chunks = [c for c in path.read_bytes().split(SEPARATOR) if c.strip()]
        for index, raw in reversed(list(enumerate(chunks))):
            found.append(_parse(f"{path.name}:{index}", raw))
        if len(found) >= MAX_SHOWN:
            break
    return found[:MAX_SHOWN]


@staff_required
def mailbox(request: HttpRequest) -> HttpResponse:
    if not enabled():
        raise Http404
    emails = stored_emails()
    shown = next((e for e in emails if e.ref == request.GET.get("ref")), None)
    ctx = {"emails": emails, "shown": shown, "folder": settings.EMAIL_FILE_PATH}
    return render(request, "accounts/mailbox.html", ctx)
