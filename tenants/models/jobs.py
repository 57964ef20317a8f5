"""Background job models (issue 5)."""
