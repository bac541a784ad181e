"""The web face of bugsift: report form, triage queue, dashboard and the JSON API (/api/v1).

Importing this package stays cheap (no Flask): `create_app` imports the app module on first call. Its
tables (users, tokens, sessions, audit, webhook deliveries) belong to the store: `bugsift.store.web_tables`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

    from bugsift.settings import Settings


def create_app(settings: Settings | None = None, **overrides: Any) -> Flask:
    """The Flask app; see `bugsift.web.app.create_app`."""
    from bugsift.web.app import create_app as _create_app

    return _create_app(settings, **overrides)


__all__ = ["create_app"]
