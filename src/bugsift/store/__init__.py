"""Persistence: SQLAlchemy models, sessions, migrations and the report/label/model repositories."""
