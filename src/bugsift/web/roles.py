"""Roles and API token scopes: plain data, importable without the database layer (the CLI's choices)."""

ROLES = ("viewer", "triager", "admin")
"""Each role can do what the ones before it can: viewers look, triagers correct, admins queue jobs."""
SCOPES = ("predict", "read", "label", "jobs")
"""What an API token may do: call the predict endpoints, read reports, models and jobs, add human labels,
queue jobs (the last only for tokens of admins)."""
