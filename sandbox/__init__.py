"""Sandbox: an in-memory emulator of the e-invoice.be Admin API and tenant API.

It runs as its own process (``python -m sandbox --port 8765``) and never touches the portal's
code or database. See ``sandbox/README.md``.
"""
