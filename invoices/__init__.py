"""The customer side: the invoice/credit-note editor, sending and mirroring documents, the inbox.

payload (JSON) → outbound / inbound (API calls, local mirror) ← views, editor, tasks, webhooks.
"""
