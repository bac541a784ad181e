"""bugsift: self-hosted bug-report triage."""

__version__ = "0.16.0"
