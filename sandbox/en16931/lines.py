"""Invoice lines: description, quantity and unit (UN/ECE Rec 20), price, VAT category and rate,
line allowances and charges, and the line amount against quantity × price (Peppol R120).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .charges import read_line_charges
from .codelists import UNIT_CODES
from .fields import Reader
from .model import Document, Line
from .values import CENT, LINE_SLACK, ZERO, fmt, round2, show

_R120_TEST = (
    "u:slack(cbc:LineExtensionAmount, (cbc:InvoicedQuantity * (cac:Price/cbc:PriceAmount"
    " div $baseQuantity)) + $chargesTotal - $allowancesTotal, 0.02)"
)


def read_lines(reader: Reader, doc: Document, doc_code: str | None) -> None:
    """The lines that can be read into ``doc.lines``; ``doc_code`` is the document's VAT
    category, which lines take (the API has no category per line)."""
    raw_items = reader.payload.get("items")
    if not isinstance(raw_items, list) or not raw_items:
        message = "An invoice needs at least one line (items)."
        if raw_items is not None and not isinstance(raw_items, list):
            message = "items must be a list of invoice lines."
        reader.error(
            message, "items", "BR-16", "exists(cac:InvoiceLine) or exists(cac:CreditNoteLine)"
        )
        return
    for i, item in enumerate(raw_items):
        where = f"items[{i}]"
        if not isinstance(item, dict):
            reader.error("Each invoice line must be an object.", where, "BR-16", "object")
            continue
        line = _read_line(reader, doc, i, item, doc_code)
        if line is not None:
            doc.lines.append(line)


def _read_line(
    reader: Reader, doc: Document, i: int, item: dict, doc_code: str | None
) -> Line | None:
    at = f"items[{i}]."
    _, description = reader.text(item, at, "description")
    _, product_code = reader.text(item, at, "product_code")
    name = description or product_code
    if not name:
        reader.error(
            f"Line {i + 1} needs a description of what was sold.",
            at + "description",
            "BR-25",
            "normalize-space(cac:Item/cbc:Name) != ''",
        )
    quantity, quantity_ok = _read_quantity(reader, item, at)
    unit = _read_unit(reader, item.get("unit"), at)
    price, price_ok = _read_price(reader, item, at)
    allowances = read_line_charges(reader, item, at, is_charge=False)
    charges = read_line_charges(reader, item, at, is_charge=True)
    code, rate = _line_category(reader, i, item, at, doc_code)
    given_tax = reader.amount(item.get("tax"), at + "tax", "line VAT amount", "BR-DEC-20")
    given = reader.amount(item.get("amount"), at + "amount", "line amount", "BR-DEC-23")
    amount_ok = given is not None or item.get("amount") is None
    net_adjust = sum((c.amount for c in charges), ZERO) - sum((a.amount for a in allowances), ZERO)
    if price is None and price_ok and given is not None:
        # Only the line total was sent: the price follows from it.
        price = (given - net_adjust) / quantity if quantity else given - net_adjust
        price = price.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
    if price is None:
        if price_ok and amount_ok:
            reader.error(
                f"Line {i + 1} needs a unit price.",
                at + "unit_price",
                "BR-26",
                "exists(cac:Price/cbc:PriceAmount)",
            )
        return None
    if not quantity_ok:
        return None
    expected = quantity * price + net_adjust
    if given is None:
        amount = round2(expected)
    else:
        amount = given
        adjusted = bool(allowances or charges)
        _check_line_amount(reader, i, at, given, expected, quantity, price, adjusted)
    _check_line_sign_and_tax(reader, doc, i, at, quantity, amount, code, rate, given_tax)
    return Line(
        number=i + 1,
        name=(name or "")[:500],
        description=description,
        quantity=quantity,
        unit=unit,
        price=price,
        amount=amount,
        tax_code=code,
        tax_rate=rate,
        product_code=product_code,
        allowances=allowances,
        charges=charges,
    )


def _read_quantity(reader: Reader, item: dict, at: str) -> tuple[Decimal, bool]:
    """The quantity (1, the API's default, when left out) and whether it could be read."""
    quantity = reader.number(item.get("quantity"), at + "quantity", "quantity")
    quantity_ok = quantity is not None or item.get("quantity") is None
    return (Decimal(1) if quantity is None else quantity), quantity_ok


def _read_unit(reader: Reader, raw_unit: Any, at: str) -> str:
    if raw_unit is None:
        return "C62"  # "one" / piece: what the API uses when no unit is given
    code = raw_unit.strip() if isinstance(raw_unit, str) else None
    if code in UNIT_CODES:
        return code
    reader.error(
        f"The unit {show(raw_unit)} is not a UN/ECE unit code: use for example C62 "
        "(pieces), HUR (hours), DAY (days), KGM (kilograms) or MTR (metres).",
        at + "unit",
        "BR-CL-23",
        "@unitCode is in UN/ECE Recommendation 20/21",
    )
    return "C62"


def _read_price(reader: Reader, item: dict, at: str) -> tuple[Decimal | None, bool]:
    """The unit price, if given, and whether what was given could be read."""
    price = reader.number(item.get("unit_price"), at + "unit_price", "unit price")
    price_ok = price is not None or item.get("unit_price") is None
    if price is not None and price < 0:
        reader.error(
            "The unit price cannot be negative: to give money back, use a credit note "
            "or a negative quantity.",
            at + "unit_price",
            "BR-27",
            "(cac:Price/cbc:PriceAmount) >= 0",
        )
    return price, price_ok


def _line_category(
    reader: Reader, i: int, item: dict, at: str, doc_code: str | None
) -> tuple[str, Decimal]:
    """The line's VAT category and rate. Lines have no category in the API: they take the
    document's tax_code, and a 0% line on a standard-rated invoice is zero rated."""
    own_code = reader.tax_code(item.get("tax_code"), at + "tax_code")
    rate = reader.rate(item.get("tax_rate"), at + "tax_rate")
    code = own_code or doc_code or "S"
    if rate is None:
        rate = ZERO
    if code == "S" and rate == 0 and own_code is None:
        code = "Z"
    reader.check_category_rate(code, rate, at + "tax_rate", f"Line {i + 1}", "line")
    return code, rate


def _check_line_amount(
    reader: Reader,
    i: int,
    at: str,
    given: Decimal,
    expected: Decimal,
    quantity: Decimal,
    price: Decimal,
    adjusted: bool,
) -> None:
    """PEPPOL-EN16931-R120: the amount sent is quantity × price (± line allowances and
    charges), within Peppol's 0.02 slack; a difference of a cent only earns a warning."""
    difference = abs(given - expected)
    if difference > LINE_SLACK:
        reader.error(
            f"Line {i + 1}: the amount {fmt(given)} does not match quantity × unit price"
            f"{' minus allowances plus charges' if adjusted else ''} "
            f"({fmt(quantity)} × {fmt(price)} = {fmt(round2(expected))}).",
            at + "amount",
            "PEPPOL-EN16931-R120",
            _R120_TEST,
        )
    elif difference > Decimal("0.005"):
        reader.warning(
            f"Line {i + 1}: the amount {fmt(given)} differs by a cent from quantity × "
            f"unit price ({fmt(round2(expected))}); Peppol tolerates this.",
            at + "amount",
            "PEPPOL-EN16931-R120",
            _R120_TEST,
        )


def _check_line_sign_and_tax(
    reader: Reader,
    doc: Document,
    i: int,
    at: str,
    quantity: Decimal,
    amount: Decimal,
    code: str,
    rate: Decimal,
    given_tax: Decimal | None,
) -> None:
    if quantity < 0 and doc.is_credit_note:
        reader.warning(
            f"Line {i + 1} has a negative quantity. A credit note lists what is credited "
            "with positive quantities; a negative line here charges the customer again.",
            at + "quantity",
            "JSON-CREDIT-NOTE-QUANTITY",
            "credit note quantities are positive",
        )
    if given_tax is not None and code != "O":
        exact = round2(amount * rate / 100)
        if abs(given_tax - exact) > CENT:
            reader.warning(
                f"Line {i + 1}: its VAT {fmt(given_tax)} is not {fmt(rate)}% of "
                f"{fmt(amount)} ({fmt(exact)}). The VAT of the invoice is computed per "
                "rate on the totals, so this figure is not used.",
                at + "tax",
                "JSON-LINE-TAX",
                "tax = amount × tax_rate / 100",
            )
