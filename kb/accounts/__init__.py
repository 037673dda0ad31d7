"""Who may use kb: staff accounts with passwords, roles and sign-in throttling; API tokens
for machine clients."""
