"""bugsift: self-hosted bug-report triage."""

__version__ = "0.10.0"
