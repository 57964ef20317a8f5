"""Portal users and their roles."""

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMIN = "admin", _("Reseller admin")
    OPERATOR = "operator", _("Reseller operator")
    CUSTOMER = "customer", _("Customer user")


class User(AbstractUser):
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.OPERATOR)
    # A customer user belongs to exactly one tenant; staff to none.
    tenant = models.ForeignKey(
        "tenants.Tenant",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
        verbose_name=_("tenant"),
    )
    # The language of the emails this user gets (invitations, resets, notices).
    language = models.CharField(
        _("language"), max_length=8, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(role="customer", tenant__isnull=False)
                    | (~models.Q(role="customer") & models.Q(tenant__isnull=True))
                ),
                name="customer_has_exactly_one_tenant",
            )
        ]

    @property
    def is_reseller_staff(self) -> bool:
        return self.role in (Role.ADMIN, Role.OPERATOR)

    @property
    def is_reseller_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def is_customer(self) -> bool:
        return self.role == Role.CUSTOMER

    def clean(self) -> None:
        super().clean()
        if self.role == Role.CUSTOMER and not self.tenant_id:
            raise ValidationError({"tenant": _("A customer user must belong to a tenant.")})
        if self.role != Role.CUSTOMER and self.tenant_id:
            raise ValidationError({"tenant": _("Only customer users belong to a tenant.")})
