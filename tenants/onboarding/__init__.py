"""Onboarding customers: one job runs create tenant → create key → register on Peppol (steps);
a CSV batch checks every row first, then runs the valid ones as jobs (bulk)."""
