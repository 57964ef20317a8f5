"""The document editor's forms: the header, the lines and the allowances/charges formsets.

Field names are the API's JSON keys where one exists, so that a validation issue located at
`customer_tax_id` or `items[2].tax_rate` lands on the input it concerns.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.forms import BaseFormSet, BoundField, formset_factory
from django.forms.renderers import TemplatesSetting
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.functional import lazy
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from stdnum import bic as stdnum_bic
from stdnum import iban as stdnum_iban
from stdnum.exceptions import ValidationError as StdnumError

from invoices import checks
from invoices.models import AllowanceCharge, Direction, Document, DocumentType, State
from invoices.totals import number_text
from tenants.identifiers import validate_company_tax_id

MAX_LINES = 200
MAX_ADJUSTMENTS = 20

# Unit codes (UN/ECE Rec 20) a small business uses; the API accepts these for Peppol BIS 3.0.
UNIT_CHOICES = [
    ("C62", gettext_lazy("piece (C62)")),
    ("H87", gettext_lazy("item (H87)")),
    ("HUR", gettext_lazy("hour (HUR)")),
    ("MIN", gettext_lazy("minute (MIN)")),
    ("DAY", gettext_lazy("day (DAY)")),
    ("MON", gettext_lazy("month (MON)")),
    ("ANN", gettext_lazy("year (ANN)")),
    ("KGM", gettext_lazy("kilogram (KGM)")),
    ("TNE", gettext_lazy("tonne (TNE)")),
    ("MTR", gettext_lazy("metre (MTR)")),
    ("KMT", gettext_lazy("kilometre (KMT)")),
    ("MTK", gettext_lazy("square metre (MTK)")),
    ("MTQ", gettext_lazy("cubic metre (MTQ)")),
    ("LTR", gettext_lazy("litre (LTR)")),
    ("XPP", gettext_lazy("package (XPP)")),
]
CURRENCY_CHOICES = [
    (c, c)
    for c in ("EUR", "USD", "GBP", "CHF", "SEK", "NOK", "DKK", "JPY", "CAD", "AUD", "NZD")
    + ("CNY", "INR", "SGD", "HKD")
]
# Offered in a <datalist>; any rate from 0 to 100 with 2 decimals is accepted.
COMMON_VAT_RATES = ["21", "12", "6", "0", "9", "17", "14", "8", "3", "19", "20"]


# --- Widgets ---------------------------------------------------------------------------------
# Rendered by the project's template engine from templates/invoices/widgets/ (Django's own
# form engine sees only app templates). The select writes its <option>s in one loop instead of
# one template per option: the editor has up to 200 lines with a unit select each.
RENDERER = TemplatesSetting()


class TextInput(forms.TextInput):
    template_name = "invoices/widgets/input.html"


class EmailInput(forms.EmailInput):
    template_name = "invoices/widgets/input.html"


class DateInput(forms.DateInput):
    template_name = "invoices/widgets/input.html"


class Textarea(forms.Textarea):
    template_name = "invoices/widgets/textarea.html"


class Select(forms.Select):
    template_name = "invoices/widgets/select.html"

    def get_context(self, name: str, value: Any, attrs: dict | None) -> dict[str, Any]:
        # Widget's context, not ChoiceWidget's: its optgroups are what the loop replaces.
        context = forms.Widget.get_context(self, name, value, attrs)
        selected = set(context["widget"]["value"])
        context["widget"]["options"] = [
            (str(v), label, str(v) in selected) for v, label in self.choices
        ]
        return context


class EditorBoundField(BoundField):
    """An input marked invalid (aria-invalid, described by its errors) only while its errors
    are on the page: a line just added is blank, hence invalid, before anything was checked.
    The template tags set `errors_shown`."""

    errors_shown = True

    def build_widget_attrs(self, attrs: dict, widget: Any = None) -> dict:
        attrs = super().build_widget_attrs(attrs, widget)
        if not self.errors_shown:
            attrs.pop("aria-invalid", None)
        return attrs

    @property
    def aria_describedby(self) -> str | None:
        described = super().aria_describedby
        if described and not self.errors_shown:
            described = " ".join(i for i in described.split() if i != f"{self.auto_id}_error")
        return described


class EditorForm(forms.Form):
    default_renderer = RENDERER
    bound_field_class = EditorBoundField


INVOICE_NUMBER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._/\-#]{0,63}$")
PEPPOL_ID_RE = re.compile(r"^\d{4}:[A-Za-z0-9][A-Za-z0-9._\-]{0,59}$")


def _text(
    label: str, max_length: int, *, required_message: Any = None, **kw: Any
) -> forms.CharField:
    """A text input; required when `required_message` says what to do when it is left empty."""
    kw.setdefault("widget", TextInput)
    required = required_message is not None
    kw["error_messages"] = {"max_length": too_long(max_length)}
    if required:
        kw["error_messages"]["required"] = required_message
    return forms.CharField(label=label, max_length=max_length, required=required, **kw)


def too_long(limit: int) -> Any:
    return format_lazy(gettext_lazy("Too long: at most {limit} characters."), limit=limit)


CHOOSE_FROM_LIST = gettext_lazy("Choose one of the list.")
WRITE_AN_EMAIL = gettext_lazy("Write an email address, e.g. invoices@example.be.")
WRITE_A_DATE = gettext_lazy("Write a date, e.g. 31/01/2026.")


def _choice(label: str, choices: Any, **kw: Any) -> forms.ChoiceField:
    return forms.ChoiceField(
        label=label,
        choices=choices,
        widget=Select,
        error_messages={"invalid_choice": CHOOSE_FROM_LIST, "required": CHOOSE_FROM_LIST},
        **kw,
    )


class DocumentForm(EditorForm):
    """The document header: numbers and dates, seller, buyer, payment."""

    invoice_id = _text(
        gettext_lazy("Number"),
        64,
        required_message=gettext_lazy("Give the document a number."),
        help_text=gettext_lazy("Unique within your documents, e.g. INV-2025-001."),
    )
    invoice_date = forms.DateField(
        label=gettext_lazy("Date"),
        widget=DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={
            "required": gettext_lazy("Give the document's date."),
            "invalid": WRITE_A_DATE,
        },
    )
    due_date = forms.DateField(
        label=gettext_lazy("Due date"),
        required=False,
        widget=DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": WRITE_A_DATE},
    )
    currency = _choice(gettext_lazy("Currency"), CURRENCY_CHOICES)
    purchase_order = _text(gettext_lazy("Purchase order"), 100)
    corrects = forms.ModelChoiceField(
        label=gettext_lazy("Corrected invoice"),
        queryset=Document.objects.none(),
        required=False,
        widget=Select,
        help_text=gettext_lazy("The sent invoice this credit note corrects."),
        error_messages={
            "invalid_choice": gettext_lazy("Choose one of your sent invoices from the list."),
            "required": gettext_lazy("Choose the invoice this credit note corrects."),
        },
    )

    vendor_name = _text(
        gettext_lazy("Seller name"),
        200,
        required_message=gettext_lazy("Give your company's name."),
    )
    vendor_tax_id = _text(
        gettext_lazy("Seller VAT number"),
        32,
        required_message=gettext_lazy("Give your VAT number, e.g. BE0403170701."),
    )
    vendor_company_id = _text(gettext_lazy("Seller company number"), 32)
    vendor_address = _text(gettext_lazy("Seller address"), 500, widget=Textarea(attrs={"rows": 2}))
    vendor_email = forms.EmailField(
        label=gettext_lazy("Seller email"),
        required=False,
        widget=EmailInput,
        error_messages={"invalid": WRITE_AN_EMAIL},
    )

    customer_name = _text(
        gettext_lazy("Buyer name"),
        200,
        required_message=gettext_lazy("Give the buyer's name."),
    )
    customer_tax_id = _text(
        gettext_lazy("Buyer VAT number"),
        32,
        help_text=gettext_lazy("With its country code, e.g. BE0403170701."),
    )
    customer_address = _text(gettext_lazy("Buyer address"), 500, widget=Textarea(attrs={"rows": 2}))
    customer_email = forms.EmailField(
        label=gettext_lazy("Buyer email"),
        required=False,
        widget=EmailInput,
        error_messages={"invalid": WRITE_AN_EMAIL},
    )
    customer_peppol_id = _text(
        gettext_lazy("Buyer Peppol ID"),
        64,
        help_text=gettext_lazy("Leave empty to derive it from the VAT number."),
    )

    payment_term = _text(gettext_lazy("Payment terms"), 200)
    iban = _text(gettext_lazy("IBAN"), 42)
    bic = _text(gettext_lazy("BIC"), 14)
    payment_reference = _text(gettext_lazy("Payment reference"), 100)
    note = _text(gettext_lazy("Note"), 2000, widget=Textarea(attrs={"rows": 2}))

    def __init__(
        self,
        *args: Any,
        tenant=None,
        document_type: str = DocumentType.INVOICE,
        document: Document | None = None,
        **kw: Any,
    ):
        super().__init__(*args, **kw)
        self.tenant = tenant
        self.document = document  # the draft being edited: its own number is not a duplicate
        self.document_type = document_type
        if document_type == DocumentType.CREDIT_NOTE:
            self.fields["invoice_id"].help_text = _(
                "Unique within your documents, e.g. CN-2025-001."
            )
        if document_type == DocumentType.CREDIT_NOTE and tenant is not None:
            self.fields["corrects"].queryset = Document.objects.filter(
                tenant=tenant,
                direction=Direction.OUTBOUND,
                document_type=DocumentType.INVOICE,
                state__in=(State.TRANSIT, State.SENT),
            ).order_by("-invoice_date", "-id")
            self.fields["corrects"].required = True
            self.fields["corrects"].label_from_instance = lambda d: (
                f"{d.invoice_id} · {d.customer_name} · "
                f"{number_format(d.total, 2, use_l10n=True, force_grouping=True)} {d.currency}"
            )
        else:
            del self.fields["corrects"]

    def clean_invoice_id(self) -> str:
        value = self.cleaned_data["invoice_id"].strip()
        if not INVOICE_NUMBER_RE.match(value):
            raise ValidationError(
                _("Use letters, digits, spaces and . _ / - # only (up to 64 characters).")
            )
        # Refused before any call: the number must be new for this tenant.
        others = Document.objects.filter(
            tenant=self.tenant, direction=Direction.OUTBOUND, invoice_id=value
        )
        if self.document is not None:
            others = others.exclude(pk=self.document.pk)
        if self.tenant is not None and others.exists():
            raise ValidationError(
                _("You already have a document with number %(number)s. Use a new number.")
                % {"number": value}
            )
        return value

    def _vat(self, name: str) -> str:
        value = (self.cleaned_data.get(name) or "").strip()
        if not value:
            return ""
        try:
            return validate_company_tax_id(value)
        except ValidationError as exc:
            raise ValidationError(exc.messages) from None

    def clean_vendor_tax_id(self) -> str:
        return self._vat("vendor_tax_id")

    def clean_customer_tax_id(self) -> str:
        return self._vat("customer_tax_id")

    def clean_customer_peppol_id(self) -> str:
        value = (self.cleaned_data.get("customer_peppol_id") or "").strip()
        if value and not PEPPOL_ID_RE.match(value):
            raise ValidationError(_("Write it as scheme:identifier, e.g. 0208:0403170701."))
        return value

    def clean_iban(self) -> str:
        value = (self.cleaned_data.get("iban") or "").strip()
        if not value:
            return ""
        try:
            # The country's bank-code tables are incomplete in stdnum: check digits and length.
            return stdnum_iban.validate(value, check_country=False)
        except StdnumError:
            raise ValidationError(
                _("This IBAN is not valid (check the digits), e.g. BE68 5390 0754 7034.")
            ) from None

    def clean_bic(self) -> str:
        value = (self.cleaned_data.get("bic") or "").strip()
        if not value:
            return ""
        try:
            return stdnum_bic.validate(value)
        except StdnumError:
            raise ValidationError(
                _("A BIC has 8 or 11 letters and digits, e.g. GEBABEBB.")
            ) from None

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        issued, due = data.get("invoice_date"), data.get("due_date")
        # A credit note keeps the due date of the invoice it corrects, which may be earlier.
        if issued and due and due < issued and self.document_type != DocumentType.CREDIT_NOTE:
            self.add_error("due_date", _("The due date cannot be before the document date."))
        if data.get("bic") and not data.get("iban") and "iban" not in self.errors:
            self.add_error("iban", _("Give the IBAN that goes with this BIC."))
        if (
            not self.errors.get("customer_tax_id")
            and not data.get("customer_tax_id")
            and not data.get("customer_peppol_id")
        ):
            self.add_error(
                "customer_tax_id",
                _("Give the buyer's VAT number or Peppol ID: Peppol needs one to deliver."),
            )
        return data


class AmountField(forms.DecimalField):
    """A decimal written the way bookkeepers do: "1 250,5", "1.250,50"; a rate also as "21%"."""

    def __init__(self, *args: Any, percent: bool = False, **kw: Any) -> None:
        self.percent = percent
        super().__init__(*args, **kw)

    def to_python(self, value: Any) -> Decimal | None:
        if isinstance(value, str):
            value = number_text(value, percent=self.percent)
        number = super().to_python(value)
        if number is not None and not number.is_finite():
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return number


def _decimal_field(
    label: str,
    *,
    places: int,
    min_value: Decimal | None,
    required_message: str,
    min_message: Any = None,
    **kw: Any,
):
    """A number typed as bookkeepers do, refused in our words (never Django's)."""
    validators = [MaxValueValidator(checks.MAX_NUMBER, message=TOO_LARGE)]
    if min_value is not None:
        validators.append(MinValueValidator(min_value, message=min_message))
    percent = kw.pop("percent", False)
    invalid = (
        gettext_lazy("Write the VAT rate as a number, e.g. 21 or 6.")
        if percent
        else gettext_lazy("Write a number, e.g. 1250,50.")
    )
    return AmountField(
        label=label,
        max_digits=16,
        decimal_places=places,
        validators=validators,
        localize=False,
        percent=percent,
        widget=TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
        error_messages={
            "required": required_message,
            "invalid": invalid,
            "max_digits": TOO_LARGE,
            "max_whole_digits": TOO_LARGE,
            "max_decimal_places": format_lazy(
                gettext_lazy("Use at most {places} decimals."), places=places
            ),
        },
        **kw,
    )


TOO_LARGE = lazy(checks.too_large_number, str)()


# Validators format their message with %: the percent sign is doubled there.
RATE_RANGE = lazy(lambda: checks.rate_out_of_range().replace("%", "%%"), str)()


def _vat_rate_field() -> AmountField:
    """A VAT rate from 0 to 100 (two decimals), typed as "21" or "21%", offered from the
    editor's list of common rates."""
    rate = _decimal_field(
        gettext_lazy("VAT %"),
        places=2,
        min_value=Decimal("0"),
        min_message=RATE_RANGE,
        initial=Decimal("21"),
        percent=True,
        required_message=gettext_lazy("Give the VAT rate, e.g. 21."),
    )
    rate.validators.append(MaxValueValidator(Decimal("100"), message=RATE_RANGE))
    rate.widget.attrs["list"] = "vat-rates"
    return rate


class LineForm(EditorForm):
    description = _text(
        gettext_lazy("Description"),
        500,
        required_message=gettext_lazy("Say what this line is for."),
    )
    # Negative for a return or a correction (EN 16931 allows it; `invoices.checks` warns).
    quantity = _decimal_field(
        gettext_lazy("Quantity"),
        places=4,
        min_value=None,
        required_message=gettext_lazy("Give a quantity."),
    )
    unit = _choice(gettext_lazy("Unit"), UNIT_CHOICES, initial="C62")
    unit_price = _decimal_field(
        gettext_lazy("Unit price"),
        places=4,
        min_value=Decimal("0"),
        min_message=lazy(checks.negative_price, str)(),
        required_message=gettext_lazy("Give a price per unit (without VAT)."),
    )
    tax_rate = _vat_rate_field()

    def clean_quantity(self) -> Decimal:
        quantity = self.cleaned_data["quantity"]
        if quantity == 0:
            raise ValidationError(
                _("A quantity of 0 adds nothing: give a quantity, or remove the line.")
            )
        return quantity

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        quantity, price = data.get("quantity"), data.get("unit_price")
        if quantity is not None and price is not None and abs(quantity * price) > checks.MAX_AMOUNT:
            raise ValidationError(checks.too_large_line())
        return data


class AdjustmentForm(EditorForm):
    """A document-level allowance (discount) or charge (surcharge)."""

    kind = _choice(gettext_lazy("Kind"), AllowanceCharge.Kind.choices)
    reason = _text(
        gettext_lazy("Reason"),
        200,
        required_message=gettext_lazy("Say why, e.g. loyalty discount."),
    )
    amount = _decimal_field(
        gettext_lazy("Amount"),
        places=2,
        min_value=Decimal("0.01"),
        min_message=lazy(checks.adjustment_amount, str)(),
        required_message=gettext_lazy("Give the amount (without VAT)."),
    )
    tax_rate = _vat_rate_field()


class RowFormSet(BaseFormSet):
    """Every posted row is validated: a half-filled or empty row gets its errors, never skipped."""

    default_error_messages = {
        "too_few_forms": gettext_lazy("Add at least one line."),
        "too_many_forms": gettext_lazy("Too many rows: split the document."),
        "missing_management_form": gettext_lazy(
            "The page was incomplete when it was sent: reload it and try again."
        ),
    }

    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        kwargs = super().get_form_kwargs(index)
        if index is not None and self.is_bound:
            kwargs["empty_permitted"] = False
        return kwargs


LineFormSet = formset_factory(
    LineForm,
    formset=RowFormSet,
    extra=0,
    min_num=1,
    validate_min=True,
    max_num=MAX_LINES,
    validate_max=True,
    absolute_max=MAX_LINES,
    renderer=RENDERER,
)
AdjustmentFormSet = formset_factory(
    AdjustmentForm,
    formset=RowFormSet,
    extra=0,
    max_num=MAX_ADJUSTMENTS,
    validate_max=True,
    absolute_max=MAX_ADJUSTMENTS,
    renderer=RENDERER,
)

LINES_PREFIX = "lines"
ADJUSTMENTS_PREFIX = "adjustments"


def initial_header(tenant, profile: dict[str, Any] | None = None) -> dict[str, Any]:
    """Seller fields from the tenant (and the API's company profile when known)."""
    profile = profile or {}
    address = ", ".join(
        part
        for part in (
            profile.get("company_address"),
            " ".join(p for p in (profile.get("company_zip"), profile.get("company_city")) if p),
            profile.get("company_country"),
        )
        if part
    )
    return {
        "invoice_date": timezone.localdate(),
        "currency": "EUR",
        "vendor_name": profile.get("company_name") or tenant.description or tenant.name,
        "vendor_tax_id": tenant.company_tax_id or profile.get("company_tax_id") or "",
        "vendor_company_id": tenant.company_number or profile.get("company_number") or "",
        "vendor_address": address,
        "vendor_email": profile.get("company_email") or "",
    }
