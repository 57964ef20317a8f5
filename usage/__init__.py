"""Fleet insight: each tenant's usage and credit as e-invoice.be reports them, collected on a
schedule (collect: /api/stats and /api/me with the tenant's own key, spread over the day),
stored as daily rows (models), summed for the whole fleet (fleet), drawn as server-rendered
SVG charts with a table behind each (charts), and what staff must look at today (alerts)."""
