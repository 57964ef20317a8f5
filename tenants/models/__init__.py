"""Models of the tenants app: the mirror (mirror.py), the audit log (audit.py) and the
background jobs (jobs.py: onboarding, rotation, reconciliation)."""

from tenants.models.audit import AuditEntry, AuditHead
from tenants.models.jobs import *  # noqa: F403
from tenants.models.mirror import ApiKey, PeppolRegistration, Tenant

__all__ = ["ApiKey", "AuditEntry", "AuditHead", "PeppolRegistration", "Tenant"]
