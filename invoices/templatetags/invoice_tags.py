"""Small template helpers of the invoice screens."""

from decimal import Decimal, InvalidOperation

from django import template
from django.utils.formats import number_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
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


def _issue_html(issues, where: str) -> str:
    parts = []
    for m in issues or []:
        warning = (
            format_html('<span class="badge warn">{}</span> ', _("Warning"))
            if m.severity == "warning"
            else ""
        )
        detail = format_html(' <small class="muted">{}</small>', m.detail) if m.detail else ""
        parts.append(
            format_html(
                '<p class="error issue {}" data-issue="{}">{}{}{}</p>',
                m.severity,
                where,
                warning,
                m.text,
                detail,
            )
        )
    return mark_safe("".join(parts))  # noqa: S308 - every part built with format_html


def _error_html(errors, name: str) -> str:
    return format_html_join(
        "", '<p class="error" data-error="{}">{}</p>', ((name, e) for e in errors)
    )


@register.simple_tag(takes_context=True)
def row_cells(context, form, number: int) -> str:
    """The cells of one line (or discount) row: each input with a hidden label, its errors and
    the API's issues for it. In Python for the same reason as `field`: per row and per input,
    the template version was most of the editor's render time."""
    show_errors = context.get("show_errors")
    api = getattr(form, "api", None) or {}
    cells = []
    for bound in form.visible_fields():
        errors = bound.errors if show_errors else []
        issues = api.get(bound.name)
        cells.append(
            format_html(
                '<td class="{}">\n  <label class="visually-hidden" for="{}">{} {}</label>\n'
                "  {}\n  {}{}\n</td>",
                "has-error" if errors or issues else "",
                bound.id_for_label,
                bound.label,
                number,
                bound,
                _error_html(errors, bound.html_name),
                _issue_html(issues, bound.html_name),
            )
        )
    return mark_safe("".join(cells))  # noqa: S308 - every cell built with format_html


@register.simple_tag(takes_context=True)
def field(context, bound, issues=None) -> str:
    """A labelled input with its own errors and the API's issues for it (rendered in Python:
    the editor has twenty of these and templates made them its slowest part)."""
    show_errors = context.get("show_errors")
    errors = bound.errors if show_errors else []
    name = bound.html_name
    required = mark_safe(' <span aria-hidden="true">*</span>') if bound.field.required else ""
    help_text = (
        format_html('<small class="help">{}</small>', bound.help_text) if bound.help_text else ""
    )
    error_html = _error_html(errors, name)
    return format_html(
        '<div class="field{}" id="field-{}">\n  <label for="{}">{}{}</label>\n  {}\n  {}{}{}\n</div>',
        " has-error" if errors or issues else "",
        name,
        bound.id_for_label,
        bound.label,
        required,
        bound,
        help_text,
        error_html,
        _issue_html(issues, name),
    )
