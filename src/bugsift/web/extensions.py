"""Extensions, created unbound and bound to an app with ``init_app`` (the Flask factory pattern)."""

from __future__ import annotations

from flask import Flask, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

from bugsift.settings import Settings
from bugsift.store.db import Database, open_database
from bugsift.web.predictors import PredictorCache
from bugsift.web.suggestcache import SuggestionCache

csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address)


class Store:
    """The database and the predictor cache of an app (``app.extensions["bugsift"]``)."""

    def __init__(self) -> None:
        self.settings: Settings | None = None
        self.database: Database | None = None
        self.predictors: PredictorCache | None = None
        self.suggestions: SuggestionCache | None = None

    def init_app(self, app: Flask, settings: Settings, database: Database | None = None) -> None:
        self.settings = settings
        self.database = database or open_database(settings)
        self.predictors = PredictorCache(self.database)
        self.suggestions = SuggestionCache(settings.web_suggest_cache_size)
        app.extensions["bugsift"] = self


def store() -> Store:
    """The Store of the current app."""
    found: Store = current_app.extensions["bugsift"]
    return found


def database() -> Database:
    db = store().database
    assert db is not None
    return db


def predictors() -> PredictorCache:
    cache = store().predictors
    assert cache is not None
    return cache


def suggestion_cache() -> SuggestionCache:
    cache = store().suggestions
    assert cache is not None
    return cache


def settings() -> Settings:
    value = store().settings
    assert value is not None
    return value
