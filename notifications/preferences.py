"""Who wants which events, and how: each user's choices over the kinds' defaults."""

from __future__ import annotations

from django.http import HttpRequest

from core import audit
from notifications import kinds
from notifications.kinds import Mode
from notifications.models import Preference

# Customers choose between an email at once and none (their own documents only).
CUSTOMER_CHOICES = [(Mode.IMMEDIATE, Mode.IMMEDIATE.label), (Mode.OFF, Mode.OFF.label)]


def kinds_for(user) -> list[kinds.Kind]:
    return kinds.CUSTOMER_KINDS if user.is_customer else kinds.KINDS


def mode_for(user, code: str, modes: dict | None = None) -> str:
    kind = kinds.BY_CODE.get(code)
    if kind is None:
        return Mode.OFF
    default = kind.customer if user.is_customer else kind.staff
    if default is None:
        return Mode.OFF
    if modes is None:
        pref = Preference.objects.filter(user=user).first()
        modes = pref.modes if pref else {}
    allowed = [c for c, _label in CUSTOMER_CHOICES] if user.is_customer else Mode.values
    chosen = modes.get(code, default)
    return chosen if chosen in allowed else default


def save(user, chosen: dict[str, str], *, request: HttpRequest | None = None) -> None:
    pref, _created = Preference.objects.get_or_create(user=user)
    before = {k.code: mode_for(user, k.code, pref.modes) for k in kinds_for(user)}
    modes = {code: mode for code, mode in chosen.items() if code in before}
    Preference.objects.filter(pk=pref.pk).update(modes=modes)
    changes = {code: [before[code], mode] for code, mode in modes.items() if before[code] != mode}
    if changes:
        audit.record(
            "notifications.settings",
            tenant=user.tenant,
            target=user.get_username(),
            user=user,
            request=request,
            changes=changes,
        )
