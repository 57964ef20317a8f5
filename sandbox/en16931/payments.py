"""Payment details: IBAN (ISO 13616), BIC (ISO 9362) and structured payment references (ISO 11649
RF creditor references, Belgian OGM-VCS), checked with python-stdnum.
"""

from __future__ import annotations

import re

import stdnum.be.ogm_vcs
import stdnum.bic
import stdnum.iban
import stdnum.iso11649

from .fields import Reader
from .model import Document, Payment
from .values import is_valid, show

_OGM_VCS_RE = re.compile(r"(\+\+\+|\*\*\*)?[0-9]{3}/?[0-9]{4}/?[0-9]{5}(\+\+\+|\*\*\*)?")


def read_payments(reader: Reader, doc: Document) -> None:
    for i, entry in reader.list_of_dicts("payment_details", "payment_details"):
        doc.payments.append(_read_payment(reader, entry, f"payment_details[{i}]."))


def _read_payment(reader: Reader, entry: dict, at: str) -> Payment:
    payment = Payment()
    where, iban = reader.text(entry, at, "iban")
    if iban:
        payment.iban = _read_iban(reader, iban, where)
    where, bic = reader.text(entry, at, "swift", "bic")
    if bic:
        payment.bic = _read_bic(reader, bic, where, payment.iban)
    _, payment.account_number = reader.text(entry, at, "bank_account_number")
    where, reference = reader.text(entry, at, "payment_reference")
    payment.reference = reference
    if reference:
        check_payment_reference(reader, reference, where)
    return payment


def _read_iban(reader: Reader, iban: str, where: str) -> str:
    try:
        return stdnum.iban.validate(iban, check_country=False)
    except Exception:  # ValidationError, or worse on odd input
        reader.error(
            f"The IBAN {show(iban)} is not valid: its length or check digits are "
            "wrong. Please copy it again from a bank statement.",
            where,
            "JSON-IBAN",
            "ISO 13616 IBAN check digits (mod 97)",
        )
        return re.sub(r"\s", "", iban).upper()


def _read_bic(reader: Reader, bic: str, where: str, iban: str | None) -> str | None:
    try:
        valid = stdnum.bic.validate(bic)
    except Exception:  # ValidationError, or worse on odd input
        reader.error(
            f"The BIC/SWIFT code {show(bic)} is not valid: it has 8 or 11 characters, "
            'such as "GEBABEBB".',
            where,
            "JSON-BIC",
            "ISO 9362 BIC format",
        )
        return None
    if iban and valid[4:6] != iban[:2]:
        reader.warning(
            f"The BIC {valid} belongs to a bank in {valid[4:6]} but "
            f"the IBAN is from {iban[:2]}; check both.",
            where,
            "JSON-BIC-COUNTRY",
            "BIC country = IBAN country",
        )
    return valid


def check_payment_reference(reader: Reader, reference: str, where: str) -> None:
    """Structured references are checked, free text is not."""
    compact = reference.replace(" ", "")
    if compact.upper().startswith("RF") and compact[2:4].isdigit():
        if not is_valid(stdnum.iso11649, compact):
            reader.error(
                f"The structured reference {show(reference)} (RF…) has wrong check digits.",
                where,
                "JSON-PAYMENT-REFERENCE",
                "ISO 11649 creditor reference",
            )
    elif _OGM_VCS_RE.fullmatch(compact):
        if not is_valid(stdnum.be.ogm_vcs, compact):
            reader.error(
                f"The structured communication {show(reference)} has wrong check digits "
                "(the last two digits are the first ten modulo 97).",
                where,
                "JSON-PAYMENT-REFERENCE",
                "Belgian OGM-VCS check digits",
            )
