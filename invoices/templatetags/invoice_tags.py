"""Small template helpers of the invoice screens."""

from decimal import Decimal, InvalidOperation

from django import template
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _

from invoices.forms import UNIT_CHOICES

register = template.Library()
UNIT_NAMES = dict(UNIT_CHOICES)


@register.filter
def get(mapping, key):
    """{{ mapping|get:key }}: a dict lookup with a variable key (None when absent)."""
    if isinstance(mapping, dict):
        return mapping.get(key)
    return None


@register.filter
def sentence(text) -> str:
    """{{ text|sentence }}: words from elsewhere (e-invoice.be's), ended with a full stop when
    they have none, so that the page's next sentence does not run on from them."""
    text = str(text or "").rstrip()
    return text if not text or text[-1] in ".!?…" else f"{text}."


def _decimal(value) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None
    return number if number.is_finite() else None


def _local(number: Decimal, places: int) -> str:
    """In the reader's language: 1,234.50 in English, 1.234,50 in Dutch, 1 234,50 in French."""
    return number_format(number, decimal_pos=places, use_l10n=True, force_grouping=True)


@register.filter
def amount(value) -> str:
    """1234.5 → "1,234.50": two decimals and thousands separators, for money columns."""
    number = _decimal(value)
    return "" if number is None else _local(number.quantize(Decimal("0.01")), 2)


@register.filter
def price(value) -> str:
    """A unit price: two decimals at least, up to four when it has them (0.3333, 1,250.50)."""
    number = _decimal(value)
    if number is None:
        return ""
    places = max(2, -min(0, number.normalize().as_tuple().exponent))
    return _local(number, min(places, 4))


@register.filter
def quantity(value) -> str:
    """8 → "8", 1.5000 → "1.5", 1000 → "1,000": no trailing zeros."""
    number = _decimal(value)
    if number is None:
        return ""
    places = max(0, -number.normalize().as_tuple().exponent)
    return _local(number, places)


@register.filter
def rate(value) -> str:
    """21.00 → "21", 5.50 → "5.5": a VAT rate without trailing zeros."""
    number = _decimal(value)
    if number is None:
        return "" if isinstance(value, Decimal | float) else str(value or "")
    return _local(number, max(0, -number.normalize().as_tuple().exponent))


@register.filter
def unit_name(code) -> str:
    """A UN/ECE unit code in words: HUR → "hour (HUR)"; unknown codes stay as they are."""
    return str(UNIT_NAMES.get(str(code), code))


@register.filter
def iban(value) -> str:
    """BE68539007547034 → "BE68 5390 0754 7034", as printed on bank statements."""
    compact = "".join(str(value or "").split())
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


TIMELINE_EVENTS = {
    "email_received": _("Received by email"),
    "email_processed": _("Email processed"),
    "document_created": _("Created"),
    "send_attempted": _("Sending via Peppol"),
    "send_failed": _("Delivery failed"),
    "send_success": _("Delivered"),
    "receive_success": _("Received via Peppol"),
    "mlr_received": _("Message level response received"),
    "imr_received": _("Invoice response received"),
}


@register.filter
def event_label(event_type) -> str:
    """A timeline event type of the API in words."""
    return str(TIMELINE_EVENTS.get(str(event_type), event_type))


def _shown_errors(context, bound) -> list[str]:
    """A field's own errors, once the customer asked to check or save (not while typing); the
    input is marked invalid only then (`EditorBoundField`)."""
    bound.errors_shown = bool(context.get("show_errors")) or bound.name in context.get(
        "shown_fields", ()
    )
    return bound.errors if bound.errors_shown else []


@register.inclusion_tag("invoices/_row_cells.html", takes_context=True)
def row_cells(context, form, number: int) -> dict:
    """The cells of one line (or discount) row: each input with a hidden label, its errors and
    the API's issues for it."""
    api = getattr(form, "api", None) or {}
    cells = [
        {"bound": bound, "errors": _shown_errors(context, bound), "issues": api.get(bound.name)}
        for bound in form.visible_fields()
    ]
    return {"cells": cells, "number": number}


@register.inclusion_tag("invoices/_field.html", takes_context=True)
def field(context, bound, issues=None) -> dict:
    """A labelled input with its own errors and the API's issues for it."""
    return {"bound": bound, "errors": _shown_errors(context, bound), "issues": issues}
