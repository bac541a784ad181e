"""The app factory: settings in, a Flask app with its extensions and one blueprint per surface out."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from typing import Any

from flask import Flask, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from bugsift.learn.encoding_store import use_settings
from bugsift.settings import Settings
from bugsift.store.db import Database
from bugsift.web import auth, estimates, highlight, names
from bugsift.web.converters import IdConverter
from bugsift.web.extensions import Store, csrf, limiter
from bugsift.web.jsonbody import JSONProvider
from bugsift.web.text import display_text

log = logging.getLogger(__name__)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def secret_key(settings: Settings) -> str:
    """The configured key, else one kept in the data directory (created on first start, mode 0600)."""
    if settings.web_secret_key:
        return settings.web_secret_key
    settings.ensure_home()
    path = Path(settings.home) / "web_secret_key"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(32), encoding="utf-8")
    return path.read_text(encoding="utf-8").strip()


def create_app(settings: Settings | None = None, database: Database | None = None, **overrides: Any) -> Flask:
    """A configured app; ``overrides`` are Flask config keys (``TESTING=True``, ``MAX_CONTENT_LENGTH``...)."""
    settings = settings or Settings()
    use_settings(settings)  # encodings (when embeddings are on) persist under $BUGSIFT_HOME/cache
    app = Flask(__name__)
    app.json = JSONProvider(app)  # bodies too deep or unstorable are bad JSON (400), not a RecursionError
    app.url_map.converters["id"] = IdConverter  # <id:...>: ids that fit a signed 64-bit integer
    app.config.update(
        SECRET_KEY=secret_key(settings),
        MAX_CONTENT_LENGTH=settings.web_max_content_length,
        MAX_FORM_MEMORY_SIZE=settings.web_max_content_length,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.web_secure_cookies,
        RATELIMIT_STORAGE_URI=settings.web_rate_limit_storage,
        RATELIMIT_HEADERS_ENABLED=True,
        SUGGEST_RATE_LIMIT=settings.web_suggest_rate_limit,
        FORM_RATE_LIMIT=settings.web_form_rate_limit,
        SUBMIT_RATE_LIMIT=settings.web_submit_rate_limit,
        LOGIN_RATE_LIMIT=settings.web_login_rate_limit,
        PUBLIC_DUPLICATES=settings.web_public_duplicates,
        SUGGEST_TASKS=[t.strip() for t in settings.web_suggest_tasks.split(",") if t.strip()],
        TOP_K=settings.web_top_k,
        JSON_SORT_KEYS=False,
    )
    app.config.update(overrides)

    app.jinja_env.finalize = display_text  # every {{ value }} on a page, imported text included
    app.jinja_env.filters.update(
        model_title=names.model_title,
        value_words=names.value_words,
        version_words=names.version_words,
        label_words=names.label_words,
        task_words=names.task_words,
        heading=names.heading,
        reason_markup=names.reason_markup,
        highlight=highlight.highlight,  # {{ text | highlight(words) }}: escaped, the words in <mark>
        estimate_words=estimates.estimate_words,
    )
    app.jinja_env.globals.update(marked=highlight.marked, is_estimate=estimates.is_estimate)
    Store().init_app(app, settings, database)
    csrf.init_app(app)
    auth.init_app(app)  # before the limiter: limits that spare logged-in users need to know who asks
    limiter.init_app(app)

    from bugsift.web.blueprints import api, dashboard, submit, triage, webhooks
    from bugsift.web.blueprints import auth as auth_views

    app.register_blueprint(api.bp, url_prefix="/api/v1")
    csrf.exempt(api.bp)  # bearer tokens, never cookies: nothing for a forged cross-site request to ride on
    app.register_blueprint(submit.bp)
    app.register_blueprint(triage.bp, url_prefix="/triage")
    app.register_blueprint(dashboard.bp, url_prefix="/dashboard")
    app.register_blueprint(auth_views.bp)
    app.register_blueprint(webhooks.bp, url_prefix="/webhooks")  # HMAC-signed, CSRF-exempt

    @app.before_request
    def _limit_size() -> ResponseReturnValue | None:
        limit = app.config["MAX_CONTENT_LENGTH"]
        if limit and request.content_length and request.content_length > limit:
            return _error(413, "too_large", f"request body larger than {limit} bytes")
        return None

    @app.after_request
    def _headers(response: Any) -> Any:
        response.headers.setdefault("Content-Security-Policy", CSP)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError) -> ResponseReturnValue:
        return _error(400, "csrf", f"CSRF check failed: {error.description} Reload the page and try again.")

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> ResponseReturnValue:
        code = error.code or 500
        name = (error.name or "error").lower().replace(" ", "_")
        return _error(code, name, error.description or error.name, error.get_headers())

    @app.errorhandler(Exception)
    def _crash(error: Exception) -> ResponseReturnValue:
        log.exception("unhandled error on %s %s", request.method, request.path)
        if app.config.get("PROPAGATE_EXCEPTIONS"):
            raise error
        return _error(500, "internal_error", InternalServerError.description)

    return app


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/suggest" or request.is_json


def _error(code: int, error: str, message: str, headers: Any = None) -> ResponseReturnValue:
    extra = [(k, v) for k, v in (headers or []) if k.lower() != "content-type"]
    if wants_json():
        return jsonify(error=error, message=message), code, extra
    return render_template("error.html", code=code, message=message), code, extra
