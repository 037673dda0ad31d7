"""Customers' requests from the help center, handed to the helpdesk the team already runs.

``form.py`` what a customer may send and how each field is checked; ``records.py`` storing a
request in one transaction (with its screenshots, its deliveries and its ticket), the help
center's events (started, deflected, submitted) and reading requests back; ``suggest.py`` the
articles shown while the customer describes the problem; ``payload.py`` what the helpdesk
receives (the webhook's JSON and the mail's plain text, the same content); ``webhook.py`` the
signed webhook; ``mail.py`` the mail through SMTP; ``delivery.py`` one delivery attempt under a
lease in the database, retries with growing back-off; ``deliverer.py`` the thread inside every
`kb serve` worker; ``figures.py`` the counts for health, /metrics and the monthly report;
``ratelimit.py`` Flask-Limiter's counters in kb's database, shared by every worker and node.
"""
