"""Small template helpers of the invoice screens."""

from decimal import Decimal, InvalidOperation

from django import template

register = template.Library()


@register.filter
def get(mapping, key):
    """{{ mapping|get:key }}: a dict lookup with a variable key (None when absent)."""
    if isinstance(mapping, dict):
        return mapping.get(key)
    return None


@register.filter
def amount(value) -> str:
    """1234.5 → "1,234.50": two decimals and thousands separators, for money columns."""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return ""
    if not number.is_finite():
        return ""
    return f"{number.quantize(Decimal('0.01')):,.2f}"


@register.filter
def rate(value) -> str:
    """21.00 → "21", 5.50 → "5.5": a VAT rate without trailing zeros."""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return str(value or "")
    if not number.is_finite():
        return ""
    text = format(number.normalize(), "f")
    return text
