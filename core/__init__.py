"""Generic machinery every app uses: encryption at rest (crypto), secret masking in logs
(logfilter) and the append-only, hash-chained audit log (models, audit)."""
