"""Forms of the staff screens (tenants, keys, Peppol, logins, filters) and of the job screens
(one onboarding, a CSV upload, a rotation policy). Checks live in tenants.identifiers; the
forms put their messages (and the API's) on the right field."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import password_validators_help_texts
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from core import audit_display
from einvoice.errors import ApiError, Invalid
from tenants import checks as tenant_checks
from tenants.identifiers import COUNTRIES, clean_tenant_fields, peppol_warnings
from tenants.models import PeppolState, Tenant
from tenants.models.bulk import ADMIN_KINDS, BulkKind


class ApiErrorsMixin:
    """Put an Admin API error on the field it is about."""

    # API field name (after admin_api.FIELD_ALIASES) → form field
    api_fields: dict[str, str] = {}

    def add_field_errors(self, errors: Mapping[str, Iterable[str]]) -> None:
        """{field: [messages]} from our checks or the API: each message on its field (API
        names through `api_fields`), above the form when the form has no such field."""
        for name, messages in errors.items():
            field = self.api_fields.get(name, name)
            target = field if field in self.fields else None
            for message in messages:
                self.add_error(target, message)

    def add_api_error(self, error: Invalid) -> None:
        self.add_field_errors(error.field_errors)
        if not error.field_errors:
            self.add_error(None, str(error))


class TenantForm(ApiErrorsMixin, forms.Form):
    description = forms.CharField(
        label=gettext_lazy("Company name"),
        max_length=200,
        required=False,
        help_text=gettext_lazy("Shown as the tenant's description on e-invoice.be."),
    )
    name = forms.CharField(
        label=gettext_lazy("Tenant name"),
        max_length=100,
        required=False,
        help_text=gettext_lazy(
            "Unique on e-invoice.be: lowercase, no spaces. Left empty, it is made from the "
            "company name."
        ),
    )
    country = forms.ChoiceField(
        label=gettext_lazy("Country of the company register"),
        choices=[("", gettext_lazy("From the VAT number"))] + COUNTRIES,
        required=False,
    )
    company_number = forms.CharField(
        label=gettext_lazy("Company number"),
        max_length=32,
        required=False,
        help_text=gettext_lazy("CBE/KBO (Belgium), KvK (Netherlands) or RCS (Luxembourg)."),
    )
    company_tax_id = forms.CharField(
        label=gettext_lazy("VAT number"),
        max_length=32,
        required=False,
        help_text=gettext_lazy("With the country prefix, e.g. BE0403170701."),
    )
    peppol_id = forms.CharField(
        label=gettext_lazy("Peppol ID"),
        max_length=64,
        required=False,
        help_text=gettext_lazy(
            "scheme:identifier, e.g. 0208:0403170701 for a Belgian company. Left empty, it is "
            "made from a Belgian company number."
        ),
    )
    test_mode = forms.BooleanField(
        label=gettext_lazy("Test mode (cannot be registered on Peppol)"), required=False
    )

    api_fields = {"peppol_ids": "peppol_id"}

    def __init__(self, *args, tenant: Tenant | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.tenant = tenant  # the tenant being edited; None on create
        # Worth a second look, not errors. `warnings` shows on this form; `flash_warnings`
        # (the ones the tenant page does not repeat) go along to the tenant page.
        self.warnings: list[str] = []
        self.flash_warnings: list[str] = []

    def clean(self) -> dict:
        data = super().clean()
        cleaned, errors = clean_tenant_fields(data, suggest=True)
        if self.tenant is not None and (data.get("name") or "").strip() == self.tenant.name:
            # The tenant's own name: it exists on e-invoice.be, whatever our rule says.
            errors.pop("name", None)
            cleaned["name"] = self.tenant.name
        elif "name" not in errors and cleaned["name"]:
            taken = tenant_checks.name_taken(cleaned["name"], exclude=self.tenant)
            if taken:
                errors["name"] = [taken]
        registered = tenant_checks.registered_peppol_id(self.tenant) if self.tenant else ""
        if (
            registered
            and "peppol_id" not in errors
            and cleaned["peppol_id"]
            and cleaned["peppol_id"] != registered
        ):
            # The registration would stay under the old ID while the tenant shows the new one.
            errors["peppol_id"] = [
                _(
                    "This tenant is registered on Peppol as %(id)s. Unregister it first (on the "
                    "tenant page) to change its Peppol ID, then register the new one."
                )
                % {"id": registered}
            ]
        if data.get("test_mode") and self.tenant is not None:
            if registered:
                errors["test_mode"] = [
                    _(
                        "This tenant is registered on Peppol as %(id)s, and a tenant in test "
                        "mode cannot be on Peppol. Unregister it first (on the tenant page), "
                        "then switch it to test mode."
                    )
                    % {"id": registered}
                ]
        self.add_field_errors(errors)
        for field in ("name", "company_number", "company_tax_id", "peppol_id"):
            if field not in errors:
                data[field] = cleaned[field]
        if not errors:
            self.flash_warnings = tenant_checks.duplicate_warnings(data, exclude=self.tenant)
            self.warnings = peppol_warnings(data) + self.flash_warnings
        return data


class KeyForm(ApiErrorsMixin, forms.Form):
    name = forms.CharField(label=gettext_lazy("Key name"), max_length=100)
    description = forms.CharField(
        label=gettext_lazy("Description"),
        max_length=300,
        required=False,
        help_text=gettext_lazy("Where the key is used, e.g. the customer's ERP."),
    )


class PeppolRegisterForm(ApiErrorsMixin, forms.Form):
    peppol_id = forms.CharField(
        label=gettext_lazy("Peppol ID"),
        max_length=64,
        disabled=True,
        required=False,
        help_text=gettext_lazy("The tenant's Peppol ID: edit the tenant to change it."),
    )
    company_name = forms.CharField(
        label=gettext_lazy("Company name on the Peppol directory"),
        max_length=200,
        required=False,
        help_text=gettext_lazy(
            "Leave empty for a Belgian 0208 ID: e-invoice.be fetches the name from KBO."
        ),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        peppol_id = str(self.initial.get("peppol_id") or "")
        if peppol_id and not peppol_id.startswith("0208:"):
            # The KBO lookup only knows Belgian enterprise numbers (scheme 0208).
            field = self.fields["company_name"]
            field.required = True
            field.help_text = _("The name others find in the Peppol Directory.")
            field.error_messages["required"] = _(
                "Give the company name: e-invoice.be can look it up in KBO only for a Belgian "
                "0208 Peppol ID, and this one is %(id)s."
            ) % {"id": peppol_id}

    def add_register_error(self, error: ApiError) -> None:
        """The register endpoint answers 400 with a sentence; route it by what it is about."""
        text = str(error)
        if "company_name" in text or "KBO" in text:
            self.add_error("company_name", text)
        elif "Peppol ID" in text:
            self.add_error("peppol_id", text)
        else:
            self.add_error(None, text)


class BusinessCardForm(forms.Form):
    company_name = forms.CharField(
        label=gettext_lazy("Company name on the business card"), max_length=200
    )


class CustomerUserForm(forms.Form):
    username = forms.CharField(label=gettext_lazy("Username"), max_length=150)
    email = forms.EmailField(label=gettext_lazy("Email"))
    password1 = forms.CharField(label=gettext_lazy("Password"), widget=forms.PasswordInput)
    password2 = forms.CharField(label=gettext_lazy("Password again"), widget=forms.PasswordInput)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The rules the password is checked against, before the customer picks one.
        self.fields["password1"].help_text = " ".join(password_validators_help_texts())

    def clean_username(self) -> str:
        username = self.cleaned_data["username"].strip()
        if get_user_model().objects.filter(username__iexact=username).exists():
            raise forms.ValidationError(_("That username is taken."))
        return username

    def clean(self) -> dict:
        data = super().clean()
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", _("The two passwords differ."))
        return data


# Each ends with the primary key: the list pages by seeking, which needs a unique order.
SORTS = {
    "name": ("name", "pk"),
    "-name": ("-name", "-pk"),
    "created": ("remote_created_at", "name", "pk"),
    "-created": ("-remote_created_at", "name", "pk"),
    "key_age": ("current_key_created_at", "name", "pk"),
    "-key_age": ("-current_key_created_at", "name", "pk"),
}


def credit_choices() -> list[tuple[str, str]]:
    """The usage charts' buckets (0 = out of credit now), in the reader's language."""
    from usage.fleet import CREDIT_BUCKETS

    choices = [("", _("Any")), ("low", _("Credit alert"))]
    for days in CREDIT_BUCKETS:
        if days == 0:
            choices.append(("0", _("Out of credit now")))
        else:
            label = ngettext("Within %(n)s day", "Within %(n)s days", days) % {"n": days}
            choices.append((str(days), label))
    return choices


class TenantFilterForm(forms.Form):
    q = forms.CharField(label=gettext_lazy("Search"), required=False, max_length=100)
    peppol = forms.ChoiceField(
        label=gettext_lazy("Peppol"),
        required=False,
        choices=[
            ("", gettext_lazy("Any")),
            ("registered", gettext_lazy("Registered")),
            ("unregistered", gettext_lazy("Not registered")),
            (PeppolState.HELD_ELSEWHERE, gettext_lazy("Held elsewhere (watching)")),
            (PeppolState.FAILED, gettext_lazy("Registration failed")),
            (PeppolState.REGISTERING, gettext_lazy("Registering")),
        ],
    )
    deleted = forms.ChoiceField(
        label=gettext_lazy("Deleted"),
        required=False,
        choices=[
            ("", gettext_lazy("Hide deleted")),
            ("only", gettext_lazy("Only deleted")),
            ("all", gettext_lazy("Show all")),
        ],
    )
    test_mode = forms.ChoiceField(
        label=gettext_lazy("Mode"),
        required=False,
        choices=[
            ("", gettext_lazy("Any")),
            ("test", gettext_lazy("Test mode")),
            ("production", gettext_lazy("Production")),
        ],
    )
    due = forms.BooleanField(label=gettext_lazy("Key due for rotation"), required=False)
    failed = forms.BooleanField(label=gettext_lazy("Delivery failed (7 days)"), required=False)
    # Credit: "low" = out of credit within USAGE_CREDIT_ALERT_DAYS, or within a number of days.
    credit = forms.ChoiceField(label=gettext_lazy("Credit"), required=False, choices=credit_choices)
    usage = forms.ChoiceField(
        label=gettext_lazy("Usage"),
        required=False,
        choices=[("", gettext_lazy("Any")), ("key_problem", gettext_lazy("Not collected: key"))],
    )
    sort = forms.ChoiceField(
        label=gettext_lazy("Sort"),
        required=False,
        choices=[
            ("name", gettext_lazy("Name A–Z")),
            ("-name", gettext_lazy("Name Z–A")),
            ("-created", gettext_lazy("Newest")),
            ("created", gettext_lazy("Oldest")),
            ("key_age", gettext_lazy("Oldest key")),
            ("-key_age", gettext_lazy("Newest key")),
        ],
    )
    # The fleet's filters (tenants.listing): key age, activity, failures.
    key_age = forms.ChoiceField(
        label=gettext_lazy("Key age"),
        required=False,
        choices=[
            ("", gettext_lazy("Any")),
            ("none", gettext_lazy("No current key")),
            ("30", gettext_lazy("Older than 30 days")),
            ("90", gettext_lazy("Older than 90 days")),
            ("180", gettext_lazy("Older than 180 days")),
            ("365", gettext_lazy("Older than a year")),
        ],
    )
    activity = forms.ChoiceField(
        label=gettext_lazy("Activity"),
        required=False,
        choices=[
            ("", gettext_lazy("Any")),
            ("active", gettext_lazy("Documents in the last 30 days")),
            ("idle", gettext_lazy("No document in 30 days")),
            ("never", gettext_lazy("Never a document")),
        ],
    )
    failures = forms.ChoiceField(
        label=gettext_lazy("Failures (30 days)"),
        required=False,
        choices=[
            ("", gettext_lazy("Any")),
            ("any", gettext_lazy("A failed job or delivery")),
            ("jobs", gettext_lazy("A failed job")),
            ("deliveries", gettext_lazy("A failed delivery")),
        ],
    )
    # The sort last, whatever fields are added above.
    field_order = ["q", "peppol", "deleted", "test_mode", "due", "key_age", "activity", "failures"]


AUDIT_FIRST_DAY = date(2000, 1, 1)
AUDIT_LAST_DAY = date(2999, 12, 31)


class AuditFilterForm(forms.Form):
    actor = forms.CharField(label=gettext_lazy("Actor"), required=False, max_length=150)
    action = forms.ChoiceField(label=gettext_lazy("Action"), required=False)
    tenant = forms.CharField(label=gettext_lazy("Tenant"), required=False, max_length=100)
    outcome = forms.ChoiceField(
        label=gettext_lazy("Outcome"),
        required=False,
        choices=[
            ("", gettext_lazy("Any")),
            ("success", gettext_lazy("success")),
            ("error", gettext_lazy("error")),
        ],
    )
    date_from = forms.DateField(
        label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=gettext_lazy("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, actions: list[str] = (), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Worded for the reader, sorted as worded; the code stays the value (bookmarkable URLs).
        worded = sorted(((a, audit_display.action_label(a)) for a in actions), key=lambda c: c[1])
        self.fields["action"].choices = [("", _("Any")), *worded]

    def _clean_day(self, name: str):
        # Far-off dates overflow once turned into times in this time zone (year 1 or 9999).
        day = self.cleaned_data.get(name)
        if day is not None and not (AUDIT_FIRST_DAY <= day <= AUDIT_LAST_DAY):
            raise forms.ValidationError(
                _("Pick a date between %(first)s and %(last)s.")
                % {"first": AUDIT_FIRST_DAY.isoformat(), "last": AUDIT_LAST_DAY.isoformat()}
            )
        return day

    def clean_date_from(self):
        return self._clean_day("date_from")

    def clean_date_to(self):
        return self._clean_day("date_to")


# --- job screens ----------------------------------------------------------------------------
MAX_CSV_BYTES = 2 * 1024 * 1024


class OnboardForm(TenantForm):
    """The new-tenant form (same checks, live hints and warnings) plus the Peppol choice.

    The company name is required: a customer is onboarded under its legal name."""

    description = forms.CharField(
        label=gettext_lazy("Company name"),
        max_length=200,
        help_text=gettext_lazy("The customer's legal name, e.g. Customer Company BVBA."),
    )
    register_peppol = forms.BooleanField(
        label=gettext_lazy("Register on Peppol"),
        required=False,
        initial=True,
        help_text=gettext_lazy("Skipped, with the reason, for a tenant in test mode."),
    )


class BulkUploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("CSV file"),
        help_text=gettext_lazy(
            "UTF-8, comma or semicolon separated, with the header row of the template."
        ),
    )
    register_peppol = forms.BooleanField(
        label=gettext_lazy("Register the customers on Peppol"), required=False, initial=True
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith(".csv"):
            raise forms.ValidationError(gettext_lazy("Upload a .csv file."))
        if upload.size > MAX_CSV_BYTES:
            raise forms.ValidationError(gettext_lazy("The file is larger than 2 MB; split it."))
        return upload


class CorrectionUploadForm(forms.Form):
    """The corrected rows of a batch (its "rows to correct" file, fixed)."""

    file = BulkUploadForm.base_fields["file"]
    clean_file = BulkUploadForm.clean_file


class RotationPolicyForm(forms.Form):
    rotation_days = forms.IntegerField(
        label=gettext_lazy("Rotate the key every (days)"),
        required=False,
        min_value=1,
        max_value=3650,
        help_text=gettext_lazy("Leave empty for the default policy."),
    )


# --- bulk actions on the tenant list (tenants.bulk_actions) -----------------------------------
ROTATION_DAYS_MAX = 3650


class BulkActionForm(forms.Form):
    action = forms.ChoiceField(
        label=gettext_lazy("Action"),
        choices=[("", gettext_lazy("Choose an action…")), *BulkKind.choices],
    )
    tenant = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Tenants"),
        queryset=Tenant.objects.all(),
        required=False,
        widget=forms.MultipleHiddenInput,
    )
    all_matching = forms.BooleanField(label=gettext_lazy("All matching the filter"), required=False)
    query = forms.CharField(required=False, widget=forms.HiddenInput, max_length=2000)
    rotation_days = forms.IntegerField(
        label=gettext_lazy("Rotate keys every (days)"),
        required=False,
        min_value=1,
        max_value=ROTATION_DAYS_MAX,
        help_text=gettext_lazy("For “Set the rotation policy”."),
    )
    language = forms.ChoiceField(
        label=gettext_lazy("Language of the emails"),
        choices=settings.LANGUAGES,
        required=False,
        help_text=gettext_lazy("For invitations and key links."),
    )

    def __init__(self, *args, user=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean(self) -> dict:
        data = super().clean()
        kind = data.get("action")
        if not data.get("all_matching") and not data.get("tenant") and "tenant" not in self.errors:
            self.add_error(
                "tenant", _("Choose at least one tenant, or all tenants matching the filter.")
            )
        if kind == BulkKind.POLICY and data.get("rotation_days") is None:
            if "rotation_days" not in self.errors:
                self.add_error("rotation_days", _("Give the number of days between rotations."))
        if kind in ADMIN_KINDS and not getattr(self.user, "is_reseller_admin", False):
            self.add_error("action", _("Only a reseller admin can do this."))
        return data

    def bar_fields(self) -> list:
        """The fields of the bar above the list (the tenants are its checkboxes, the filter a
        hidden field of the results)."""
        return [self[name] for name in ("action", "all_matching", "rotation_days", "language")]

    def params(self) -> dict:
        kind = self.cleaned_data["action"]
        if kind == BulkKind.POLICY:
            return {"rotation_days": self.cleaned_data["rotation_days"]}
        if kind in (BulkKind.INVITE, BulkKind.KEY_LINK):
            return {"language": self.cleaned_data.get("language") or settings.LANGUAGE_CODE}
        return {}
