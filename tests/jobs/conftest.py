"""The worker fixtures of tests/tenants/jobs (fast retries, no broker, a sandbox) apply here too:
the generic machinery is exercised through the onboarding jobs that use it."""

from tests.tenants.jobs.conftest import fast_jobs, no_broker, on_sandbox  # noqa: F401
