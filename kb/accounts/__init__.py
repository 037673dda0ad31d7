"""Who may use kb: staff accounts with passwords, roles and sign-in throttling; accounts from the
company directory (LDAP / Active Directory) and from a trusted sign-in proxy; the sign-in log;
API tokens for machine clients."""
