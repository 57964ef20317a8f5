"""Staff screens of the tenants app, one module a screen family (tenants, keys, Peppol,
logins, audit log, jobs), and the customer's one-time key reveal page (reveal)."""
