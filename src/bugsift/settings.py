"""One Settings object shared by the CLI, the web app and the workers.

Every field reads an environment variable with the ``BUGSIFT_`` prefix (``home`` reads ``BUGSIFT_HOME``).
Each field's description is its documentation: ``bugsift settings`` prints them, and a test fails when
one is missing.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_home() -> Path:
    return Path.cwd() / ".bugsift"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BUGSIFT_", extra="ignore")

    home: Path = Field(
        default_factory=_default_home,
        description="Data directory: holds the default SQLite database and the model files.",
    )
    database_url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL of the database, e.g. postgresql+psycopg://user@host/db. "
            "Default: SQLite file bugsift.sqlite3 inside the data directory."
        ),
    )
    sqlite_busy_timeout_ms: int = Field(
        default=30_000,
        description="How long an SQLite writer waits for a lock before failing, in milliseconds.",
    )
    import_batch_size: int = Field(
        default=500,
        description="Reports written per transaction during import; a crash loses at most one batch.",
    )
    precision_target: float = Field(
        default=0.9,
        description=(
            "Precision the 'uncertain' threshold aims for: predictions whose probability is below the "
            "threshold chosen on held-out data for this precision are reported as uncertain."
        ),
    )
    test_fraction: float = Field(
        default=0.2,
        description="Share of the newest reports (per project) held out for evaluation by default.",
    )
    random_seed: int = Field(default=0, description="Seed for every random choice (splits, models).")

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'bugsift.sqlite3'}"

    def ensure_home(self) -> None:
        """Create the data directory and its models folder if they are missing."""
        self.models_dir.mkdir(parents=True, exist_ok=True)
