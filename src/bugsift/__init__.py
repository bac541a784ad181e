"""bugsift: self-hosted bug-report triage."""

__version__ = "0.8.0"
