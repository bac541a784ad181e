"""bugsift: self-hosted bug-report triage."""

__version__ = "0.9.0"
