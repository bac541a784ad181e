"""bugsift: self-hosted bug-report triage."""

__version__ = "0.4.0"
