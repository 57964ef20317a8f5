"""Models of the tenants app: the mirror (mirror.py) and the jobs that change it
(jobs.py: onboarding, rotation, reveal links, reconciliation)."""

from tenants.models.bulk import BulkAction, BulkItem, BulkKind
from tenants.models.handover import HandoverJob
from tenants.models.jobs import *  # noqa: F403
from tenants.models.mirror import ApiKey, PeppolRegistration, PeppolState, Tenant
from tenants.models.watch import PeppolWatch, WatchOutcome

__all__ = [
    "BulkAction",
    "BulkItem",
    "BulkKind",
    "ApiKey",
    "HandoverJob",
    "PeppolRegistration",
    "PeppolState",
    "PeppolWatch",
    "Tenant",
    "WatchOutcome",
]
