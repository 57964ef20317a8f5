"""Request bodies. Tenant API models mirror tenant-api-openapi.json (copied to sandbox/data/)."""

from __future__ import annotations

import json
import math
import re
from datetime import date
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, PlainValidator, field_validator
from pydantic_core import PydanticCustomError

SPEC_PATH = Path(__file__).parent / "data" / "tenant-api-openapi.json"


@cache
def spec() -> dict[str, Any]:
    return json.loads(SPEC_PATH.read_text(encoding="utf-8"))


def spec_enum(name: str) -> tuple[str, ...]:
    return tuple(spec()["components"]["schemas"][name]["enum"])


def _literal(name: str) -> Any:
    # Literal built from the spec's enum, so the sandbox accepts exactly what the real API does.
    return Literal.__getitem__(spec_enum(name))


DocumentTypeL = _literal("DocumentType")
DocumentStateL = _literal("DocumentState")
DocumentDirectionL = _literal("DocumentDirection")
CurrencyL = _literal("CurrencyCode")
TaxCategoryL = _literal("TaxCategoryCode")
VatexL = _literal("VATExemptionCode")
UnitL = _literal("UnitOfMeasureCode")
AllowanceReasonL = _literal("AllowanceReasonCode")
ChargeReasonL = _literal("ChargeReasonCode")


def _not_a_number() -> PydanticCustomError:
    return PydanticCustomError("type_error.decimal", "value is not a valid decimal")


def _number(value: Any) -> Any:
    """The spec's anyOf[number, string, null]: kept as sent.

    Any string passes this schema level, as on the real service: whether "21%" is a usable
    amount or rate is for the EN 16931 checks to say (the guide's validation example).
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _not_a_number()
    return value


def _rate(value: Any) -> Any:
    """A VAT rate: like _number, and a JSON number must lie in 0..100 (as in the spec)."""
    value = _number(value)
    if isinstance(value, int | float):
        if value < 0:
            raise PydanticCustomError(
                "value_error.number.not_ge", "ensure this value is greater than or equal to 0"
            )
        if value > 100:
            raise PydanticCustomError(
                "value_error.number.not_le", "ensure this value is less than or equal to 100"
            )
    return value


Number = Annotated[Any, PlainValidator(_number)]
Rate = Annotated[Any, PlainValidator(_rate)]


class AllowanceIn(BaseModel):
    reason: str | None = None
    reason_code: AllowanceReasonL | None = None
    multiplier_factor: Number = None
    amount: Number = None
    base_amount: Number = None
    tax_rate: Rate = 21.0
    tax_code: TaxCategoryL = "S"


class ChargeIn(BaseModel):
    reason: str | None = None
    reason_code: ChargeReasonL | None = None
    multiplier_factor: Number = None
    amount: Number = None
    base_amount: Number = None
    tax_rate: Rate = 21.0
    tax_code: TaxCategoryL | None = "S"


class ItemAttributeIn(BaseModel):
    name: str
    value: str | None = None


class LineItemIn(BaseModel):
    amount: Number = None
    date: None = None
    description: str | None = None
    quantity: Number = None
    product_code: str | None = None
    tax: Number = None
    tax_rate: Rate = 0.0
    unit: UnitL | None = None
    unit_price: Number = None
    allowances: list[AllowanceIn] | None = None
    charges: list[ChargeIn] | None = None
    item_attributes: list[ItemAttributeIn] | None = None


class PaymentDetailIn(BaseModel):
    iban: str | None = None
    swift: str | None = None
    bank_account_number: str | None = None
    payment_reference: str | None = None


class TaxDetailIn(BaseModel):
    amount: Number = None
    rate: str | None = None


class AttachmentIn(BaseModel):
    file_name: str
    file_type: str = "application/pdf"
    file_size: int = 0
    file_data: str | None = None


class DocumentCreate(BaseModel):
    """POST /api/documents/ and POST /api/validate/json (schema DocumentCreate)."""

    # Fields beyond the spec ride along to the EN 16931 checks: the guide's credit-note example
    # sends billing_reference, which BR-55 needs.
    model_config = ConfigDict(extra="allow")

    document_type: DocumentTypeL = "INVOICE"
    state: DocumentStateL = "DRAFT"
    direction: DocumentDirectionL = "OUTBOUND"
    customer_name: str | None = None
    customer_id: str | None = None
    customer_email: str | None = None
    purchase_order: str | None = None
    invoice_id: str | None = None
    invoice_date: date | None = None
    due_date: date | None = None
    note: str | None = None
    vendor_name: str | None = None
    vendor_email: str | None = None
    vendor_address: str | None = None
    vendor_address_recipient: str | None = None
    customer_address: str | None = None
    customer_address_recipient: str | None = None
    billing_address: str | None = None
    billing_address_recipient: str | None = None
    shipping_address: str | None = None
    shipping_address_recipient: str | None = None
    currency: CurrencyL = "EUR"
    tax_code: TaxCategoryL = "S"
    vatex: VatexL | None = None
    vatex_note: str | None = None
    subtotal: Number = None
    total_discount: Number = None
    total_tax: Number = None
    invoice_total: Number = None
    amount_due: Number = None
    previous_unpaid_balance: Number = None
    remittance_address: str | None = None
    remittance_address_recipient: str | None = None
    service_address: str | None = None
    service_address_recipient: str | None = None
    service_start_date: date | None = None
    service_end_date: date | None = None
    vendor_tax_id: str | None = None
    vendor_company_id: str | None = None
    customer_tax_id: str | None = None
    customer_company_id: str | None = None
    customer_peppol_id: str | None = None
    payment_term: str | None = None
    payment_details: list[PaymentDetailIn] | None = None
    tax_details: list[TaxDetailIn] | None = None
    # Not in the spec's "required" list, but at least one line when given (minItems 1). A
    # missing list reaches the EN 16931 checks (BR-16), as on the real service.
    items: list[LineItemIn] = Field(default_factory=list, min_length=1)
    attachments: list[AttachmentIn] | None = None
    allowances: list[AllowanceIn] | None = None
    charges: list[ChargeIn] | None = None

    def payload(self) -> dict[str, Any]:
        """The JSON the EN 16931 checks see: defaults filled in, nulls left out."""
        return self.model_dump(mode="json", exclude_none=True)


# --- Admin API -------------------------------------------------------------------------------

TENANT_NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,98}[a-z0-9])?$")
PEPPOL_ID_FORMAT = re.compile(r"^\d{4}:[A-Za-z0-9][A-Za-z0-9._\-]*$")


def _check_tenant_name(value: str) -> str:
    if not TENANT_NAME_RE.match(value):
        raise ValueError(
            "name must be lowercase without spaces: letters a-z, digits, '-', '_' or '.' "
            "(e.g. customer-company-bvba)"
        )
    return value


def _check_peppol_ids(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    if len(value) > 1:
        raise ValueError("only a single Peppol ID per tenant is supported")
    for peppol_id in value:
        if not PEPPOL_ID_FORMAT.match(peppol_id):
            raise ValueError(
                f"invalid Peppol ID {peppol_id!r}: expected <scheme>:<id>, e.g. 0208:0123456789"
            )
    return value


class TenantCreate(BaseModel):
    name: str
    description: str | None = None
    company_number: str | None = None
    company_tax_id: str | None = None
    peppol_ids: list[str] | None = None
    test_mode: bool | None = None  # None: the sandbox's test_mode_default

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _check_tenant_name(value)

    @field_validator("peppol_ids")
    @classmethod
    def _peppol(cls, value: list[str] | None) -> list[str] | None:
        return _check_peppol_ids(value)


class TenantUpdate(BaseModel):
    name: str | None = None
    description: str | None = None
    company_number: str | None = None
    company_tax_id: str | None = None
    peppol_ids: list[str] | None = None
    test_mode: bool | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return None if value is None else _check_tenant_name(value)

    @field_validator("peppol_ids")
    @classmethod
    def _peppol(cls, value: list[str] | None) -> list[str] | None:
        return _check_peppol_ids(value)


class ApiKeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    description: str | None = None


class ApiKeyUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = None


class PeppolRegister(BaseModel):
    peppol_id: str | None = None
    company_name: str | None = None

    @field_validator("peppol_id")
    @classmethod
    def _format(cls, value: str | None) -> str | None:
        if value is not None and not PEPPOL_ID_FORMAT.match(value):
            raise ValueError("invalid Peppol ID: expected <scheme>:<id>, e.g. 0208:0123456789")
        return value


class BusinessCardUpdate(BaseModel):
    company_name: str = Field(min_length=1)


# --- Webhooks --------------------------------------------------------------------------------

WEBHOOK_EVENTS = ("document.sent", "document.sent.failed", "document.received")


def _check_events(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    unknown = [e for e in value if e not in WEBHOOK_EVENTS]
    if unknown:
        raise ValueError(f"unknown event type(s) {unknown}; valid: {', '.join(WEBHOOK_EVENTS)}")
    return value


class WebhookCreate(BaseModel):
    events: list[str]
    url: Annotated[AnyHttpUrl, Field(max_length=2083)]
    enabled: bool = True

    @field_validator("events")
    @classmethod
    def _events(cls, value: list[str]) -> list[str]:
        return _check_events(value) or []


class WebhookUpdate(BaseModel):
    events: list[str] | None = None
    url: Annotated[AnyHttpUrl, Field(max_length=2083)] | None = None
    enabled: bool | None = None

    @field_validator("events")
    @classmethod
    def _events(cls, value: list[str] | None) -> list[str] | None:
        return _check_events(value)


class WebhookTestRequest(BaseModel):
    event_type: str
    data: dict[str, Any]
