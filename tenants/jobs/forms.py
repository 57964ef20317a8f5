"""Forms of the job screens: one onboarding, a CSV upload, a rotation policy."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from tenants.identifiers import COUNTRIES, clean_tenant_fields
from tenants.models import Tenant

MAX_CSV_BYTES = 2 * 1024 * 1024


class OnboardForm(forms.Form):
    description = forms.CharField(
        label=_("Company name"),
        max_length=200,
        help_text=_("The customer's legal name, e.g. Customer Company BVBA."),
    )
    name = forms.CharField(
        label=_("Tenant name"),
        max_length=100,
        required=False,
        help_text=_("Lowercase, no spaces. Leave empty to derive it from the company name."),
    )
    country = forms.ChoiceField(label=_("Country"), choices=[("", "—"), *COUNTRIES], required=False)
    company_number = forms.CharField(
        label=_("Company number"),
        max_length=32,
        required=False,
        help_text=_("CBE/KBO (Belgium), KvK (Netherlands) or RCS (Luxembourg)."),
    )
    company_tax_id = forms.CharField(
        label=_("VAT number"), max_length=32, required=False, help_text=_("e.g. BE0403170701")
    )
    peppol_id = forms.CharField(
        label=_("Peppol ID"),
        max_length=64,
        required=False,
        help_text=_("Leave empty for Belgian companies: 0208:<company number>."),
    )
    test_mode = forms.BooleanField(
        label=_("Test mode"),
        required=False,
        help_text=_("A test-mode tenant cannot be registered on Peppol."),
    )
    register_peppol = forms.BooleanField(
        label=_("Register on Peppol"), required=False, initial=True
    )

    def clean(self) -> dict:
        data = super().clean()
        cleaned, errors = clean_tenant_fields(data)
        for field, messages in errors.items():
            for message in messages:
                self.add_error(field if field in self.fields else None, message)
        if cleaned.get("name") and "name" not in errors:
            if Tenant.objects.filter(name__iexact=cleaned["name"]).exists():
                self.add_error(
                    "name", _("A tenant with this name already exists. Choose another name.")
                )
        data.update(cleaned)
        return data


class BulkUploadForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_("UTF-8, comma or semicolon separated, with the header row of the template."),
    )
    register_peppol = forms.BooleanField(
        label=_("Register the customers on Peppol"), required=False, initial=True
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith(".csv"):
            raise forms.ValidationError(_("Upload a .csv file."))
        if upload.size > MAX_CSV_BYTES:
            raise forms.ValidationError(_("The file is larger than 2 MB; split it."))
        return upload


class RotationPolicyForm(forms.Form):
    rotation_days = forms.IntegerField(
        label=_("Rotate the key every (days)"),
        required=False,
        min_value=1,
        max_value=3650,
        help_text=_("Leave empty for the default policy."),
    )
