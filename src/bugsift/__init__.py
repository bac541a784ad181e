"""bugsift: self-hosted bug-report triage."""

__version__ = "0.7.0"
