"""Support tickets: the record and its validation, storing tickets and their article links,
helpdesk imports, article suggestions for a ticket, the ticket-evidence ranking boost, and the
similar-resolved-tickets query."""
