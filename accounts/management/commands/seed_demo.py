"""Demo logins (admin, operator, two customers), demo tenants created through the API, the
demo customers' documents in every state (invoices.demo) and the demo tenants' usage history,
collected (usage.demo)."""

from django.core.management.base import BaseCommand

from accounts.models import Role, User

DEMO_STAFF = [
    ("admin", "demo-admin-pass", Role.ADMIN),
    ("operator", "demo-operator-pass", Role.OPERATOR),
]
# Customer logins, one per demo tenant that can send and receive on the sandbox network.
DEMO_CUSTOMERS = [
    ("customer", "demo-customer-pass"),
    ("customer2", "demo-customer2-pass"),
]


class Command(BaseCommand):
    help = "Create demo logins and demo tenants (idempotent). Prints the credentials."

    def handle(self, *args, **options) -> None:
        for username, password, role in DEMO_STAFF:
            self._ensure_user(username, password, role)

        from tenants.demo import seed_demo_tenants

        try:
            tenants = seed_demo_tenants()
        except Exception as e:  # the sandbox may be down; staff logins still work
            self.stderr.write(self.style.WARNING(f"Demo tenants not created: {e}"))
            tenants = []
        customers = [t for t in tenants if not t.test_mode][: len(DEMO_CUSTOMERS)]
        logins = [(u, p, r.label) for u, p, r in DEMO_STAFF]
        customer_logins = []
        for (username, password), tenant in zip(DEMO_CUSTOMERS, customers, strict=False):
            user = self._ensure_user(username, password, Role.CUSTOMER, tenant)
            customer_logins.append((user, tenant))
            logins.append((username, password, f"{Role.CUSTOMER.label} of {tenant.name}"))

        from invoices.demo import seed_demo_documents

        try:
            seed_demo_documents(customer_logins)
        except Exception as e:  # the sandbox may be down; the logins still work
            self.stderr.write(self.style.WARNING(f"Demo documents not created: {e}"))

        from usage.demo import seed_demo_usage

        try:
            # After the documents: today's figures then count them too.
            seed_demo_usage(tenants)
        except Exception as e:  # the sandbox may be down; the logins still work
            self.stderr.write(self.style.WARNING(f"Demo usage not collected: {e}"))

        self.stdout.write(self.style.SUCCESS("Demo logins:"))
        for username, password, label in logins:
            self.stdout.write(f"  {username:<10} {password:<22} {label}")

    def _ensure_user(self, username: str, password: str, role: str, tenant=None) -> User:
        user, created = User.objects.get_or_create(
            username=username, defaults={"role": role, "tenant": tenant}
        )
        if created:
            user.email = f"{username}@example.com"
            user.set_password(password)
            user.save()
        return user
