"""Check the audit log's hash chain (and its signed checkpoints); exit 1 at the first problem."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core import checkpoint
from core.audit import verify_chain


class Command(BaseCommand):
    help = (
        "Recompute the audit log's keyed hash chain, hold it against the signed checkpoints "
        "(AUDIT_CHECKPOINT_FILE and any --checkpoint files) and report the first broken link."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--checkpoint",
            action="append",
            default=[],
            help="a checkpoint downloaded from the audit page (JSON), or a checkpoint file; "
            "may be given several times",
        )

    def handle(self, *args, **options) -> None:
        points = checkpoint.read()
        for name in options["checkpoint"]:
            path = Path(name)
            if not path.exists():
                raise CommandError(f"No such checkpoint file: {name}")
            points.extend(checkpoint.parse(path.read_text(encoding="utf-8").splitlines()))
        report = verify_chain(checkpoints=points)
        if not report.ok:
            raise CommandError(
                f"Audit log chain broken at entry #{report.broken_at}: {report.problem} "
                f"({report.checked} entries before it are intact)."
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Audit log intact: {report.checked} entries, {len(points)} signed checkpoints."
            )
        )
