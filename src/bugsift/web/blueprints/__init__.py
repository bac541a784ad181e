"""One blueprint per surface, each named ``bp``: api, submit, triage, dashboard, auth."""
