"""Telling people what happened: staff by email (at once or in a daily digest, per their
settings), customers about their own documents (unless they turn it off), and the
reseller's own systems by signed webhooks with retries.

kinds (the events and their defaults), emit (the hooks the other apps call), fanout (an
event's run: emails, digest lines, deliveries), webhooks (signing, delivering, backoff),
digest (the daily email), receivers (events from the job runner), views (settings pages,
endpoints, delivery log, "Send test").
"""
