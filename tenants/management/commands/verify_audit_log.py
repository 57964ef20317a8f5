"""Check the audit log's hash chain; exit 1 at the first broken link."""

from django.core.management.base import BaseCommand, CommandError

from tenants.audit import verify_chain


class Command(BaseCommand):
    help = "Recompute the audit log's hash chain and report the first broken link."

    def handle(self, *args, **options) -> None:
        report = verify_chain()
        if not report.ok:
            raise CommandError(
                f"Audit log chain broken at entry #{report.broken_at}: {report.problem} "
                f"({report.checked} entries before it are intact)."
            )
        self.stdout.write(self.style.SUCCESS(f"Audit log intact: {report.checked} entries."))
