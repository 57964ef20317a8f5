"""Forms of the job screens: one onboarding, a CSV upload, a rotation policy."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from tenants.forms import TenantForm

MAX_CSV_BYTES = 2 * 1024 * 1024


class OnboardForm(TenantForm):
    """The new-tenant form (same checks, live hints and warnings) plus the Peppol choice.

    The company name is required: a customer is onboarded under its legal name."""

    description = forms.CharField(
        label=_("Company name"),
        max_length=200,
        help_text=_("The customer's legal name, e.g. Customer Company BVBA."),
    )
    register_peppol = forms.BooleanField(
        label=_("Register on Peppol"),
        required=False,
        initial=True,
        help_text=_("Skipped, with the reason, for a tenant in test mode."),
    )


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
