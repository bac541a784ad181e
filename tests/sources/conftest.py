"""Fixtures for the importer tests: where the real shared data lives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """../shared/data beside the checkout (or BUGSIFT_SHARED_DATA); skip when absent, fail under CI."""
    default = Path(__file__).resolve().parents[3] / "shared" / "data"
    path = Path(os.environ.get("BUGSIFT_SHARED_DATA", default))
    if not (path / "README.md").is_file():
        reason = f"shared data not found at {path} (set BUGSIFT_SHARED_DATA)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {reason}", pytrace=False)
        pytest.skip(reason)
    return path
