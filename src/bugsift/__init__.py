"""bugsift: self-hosted bug-report triage."""

__version__ = "0.14.0"
