from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate

from core import triggers


def _ensure_audit_triggers(using: str, **kwargs) -> None:
    triggers.ensure(connections[using])


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        post_migrate.connect(_ensure_audit_triggers, sender=self)
