"""One Settings object shared by the CLI, the web app and the workers.

Every field reads an environment variable with the ``BUGSIFT_`` prefix (``home`` reads ``BUGSIFT_HOME``).
Each field's description is its documentation: ``bugsift settings`` prints them, and a test fails when
one is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_home() -> Path:
    return Path.cwd() / ".bugsift"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BUGSIFT_", extra="ignore")

    home: Path = Field(
        default_factory=_default_home,
        description="Data directory: the default SQLite database, the model files and cache/ (encodings).",
    )
    database_url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL of the database, e.g. postgresql+psycopg://user@host/db. "
            "Default: SQLite file bugsift.sqlite3 inside the data directory."
        ),
    )
    models_path: Path | None = Field(
        default=None,
        description=(
            "Directory the model files are written to and read from. Default: models inside the data "
            "directory. On several machines, one directory every host mounts at this same path: the "
            "registry in the shared database names each file by its full path (docs/deployment.md)."
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
    train_budget_seconds: float = Field(
        default=300.0,
        gt=0,
        description=(
            "Time a kind model's training may take, choosing its settings included: candidates that "
            "would not fit in half of it are not tried (the one the store's size suggests always is)."
        ),
    )
    train_max_reports: int = Field(
        default=250_000,
        gt=0,
        description=(
            "Most labelled reports a type, defect or component training reads, most stored reports a "
            "severity, priority, fix-time, label:NAME or field:NAME training reads, and most reports with "
            "fixed files a files training reads: the newest ones. Bounds training memory by a "
            "setting, not by the store (about 18 KB a report in filing mode: 250,000 fit in 8 GB with room "
            "to spare; docs/performance.md)."
        ),
    )
    embeddings: Literal["auto", "on", "off"] = Field(
        default="auto",
        description=(
            "Use a sentence-embedding model (all-MiniLM-L6-v2, run locally; needs the 'embeddings' "
            "extra): kind models average it with the word model, the files ranker adds its similarity "
            "columns, duplicate search without a trained model (on only) its titles' cosine. auto: when "
            "it is installed, and for kind models only up to 5,000 training reports "
            "(it encodes ~10-40 reports/s on 2 cores); on: always (`bugsift encode` encodes stored "
            "reports ahead, so that trainings read the vectors); off: never."
        ),
    )
    github_scale_labels: str = Field(
        default="severity=severity,priority=priority",
        description=(
            "Labels that carry severity or priority where a report has no such field (GitHub): "
            "comma-separated FIELD=PREFIX rules; a label PREFIX and a separator (':', '/', '-', '=', "
            "' ') then a level, e.g. 'priority: high', 'severity/critical', 'priority/P1'. Empty: none "
            "(docs/severity-priority.md)."
        ),
    )

    web_secret_key: str | None = Field(
        default=None,
        description=(
            "Key signing web sessions and CSRF tokens. Default: a random key created once and kept in "
            "web_secret_key inside the data directory (set it explicitly when several servers share users)."
        ),
    )
    web_max_content_length: int = Field(
        default=1_000_000,
        description="Largest request body the web app accepts, in bytes; bigger ones get 413.",
    )
    web_suggest_rate_limit: str = Field(
        default="20 per second;600 per minute",
        description="Rate limit of the suggest endpoint per client address (Flask-Limiter syntax).",
    )
    web_rate_limit_storage: str = Field(
        default="memory://",
        description="Where rate-limit counters live (Flask-Limiter storage URI, e.g. redis://host:6379).",
    )
    web_form_rate_limit: str = Field(
        default="2 per second;60 per minute",
        description="Rate limit of the report form's POSTs (preview and submit) per client address.",
    )
    web_submit_rate_limit: str = Field(
        default="5 per minute;50 per day",
        description="Rate limit of stored anonymous form submissions per client address.",
    )
    web_login_rate_limit: str = Field(
        default="10 per minute;50 per hour",
        description=(
            "Failed logins allowed per client address and, separately, per user name; once over, the "
            "login page answers 429 until the window passes (successful logins do not count)."
        ),
    )
    web_session_hours: float = Field(
        default=12.0,
        gt=0,
        description=(
            "How long a login lasts. Sessions are kept in the database: logging out, a new password or "
            "a deactivated user ends them at once, whatever copies of the cookie exist."
        ),
    )
    web_secure_cookies: bool = Field(
        default=False,
        description=(
            "Mark the session cookie Secure (sent over HTTPS only). Turn it on behind an HTTPS reverse "
            "proxy; with it on, logins over plain http://127.0.0.1 stop working."
        ),
    )
    web_public_duplicates: Literal["none", "imported"] = Field(
        default="none",
        description=(
            "What a visitor who is not logged in learns of stored reports from the report form's "
            "duplicate suggestions. none: nothing (the duplicates answer is left out). imported: the "
            "ids, titles and status of imported reports (a public tracker's), never other reporters' "
            "form submissions, descriptions or matched words. Logged-in users always see everything."
        ),
    )
    web_suggest_tasks: str = Field(
        default="type,defect,component,duplicates,severity,priority,fix-time",
        description=(
            "Comma-separated tasks the report form suggests; a task without a trained model is skipped."
        ),
    )
    web_top_k: int = Field(default=3, description="Candidates per task shown by the form and the API.")
    web_threads: int = Field(
        default=16,
        description=(
            "Worker threads of the production web server (waitress). Threads waiting for a model cost "
            "little, and the suggestions of the requests in flight are predicted together."
        ),
    )
    web_connection_limit: int = Field(
        default=2000,
        gt=0,
        description=(
            "Open connections waitress accepts at once; more wait in the listen backlog. Idle and "
            "half-sent connections hold no thread, only a socket, so this is set far above what one "
            "client opens in web_channel_timeout seconds (behind a reverse proxy, limit per client there)."
        ),
    )
    web_channel_timeout: int = Field(
        default=20,
        gt=0,
        description="Seconds an idle or half-sent connection is kept open before waitress closes it.",
    )
    web_trusted_proxy: str | None = Field(
        default=None,
        description=(
            "Address of the reverse proxy in front of bugsift (e.g. 127.0.0.1): its X-Forwarded-For and "
            "X-Forwarded-Proto are believed, so rate limits count real clients. Unset: none is trusted."
        ),
    )
    web_backlog: int = Field(default=1024, description="Listen backlog of the web server's socket.")
    web_suggest_cache_size: int = Field(
        default=2048,
        description=(
            "Suggestions kept in memory per server process, keyed by the normalised text of the form and "
            "the models that answered (the form sends the same text again while the reporter types); "
            "0 turns the cache off."
        ),
    )

    jobs_backend: str = Field(
        default="embedded",
        description=(
            "Job queue: 'embedded' (Huey on an SQLite file in the data directory, no server, one machine) "
            "or 'celery' (a Redis or RabbitMQ broker given by broker_url, for many machines)."
        ),
    )
    broker_url: str | None = Field(
        default=None,
        description="Celery broker URL, e.g. redis://127.0.0.1:6379/0 or amqp://guest:guest@127.0.0.1:5672//.",
    )
    jobs_queue: str = Field(default="bugsift", description="Name of the queue the jobs go through.")
    jobs_max_attempts: int = Field(
        default=3,
        description="Attempts of a failing job (a worker killed mid-job counts as one) before it is failed.",
    )
    jobs_retry_backoff_s: float = Field(
        default=5.0,
        description="Delay before the first retry of a failed job, in seconds; it doubles with each retry.",
    )
    jobs_lease_s: float = Field(
        default=60.0,
        description=(
            "A running job whose worker sent no heartbeat for this long (seconds) is taken as orphaned "
            "(its worker died) and queued again."
        ),
    )
    worker_concurrency: int = Field(default=1, description="Jobs one `bugsift worker` runs at the same time.")
    classify_batch_size: int = Field(
        default=500, description="Reports predicted and stored per transaction by the classify job."
    )
    train_after_corrections: int = Field(
        default=50,
        description=(
            "A worker queues a train job for an active model once this many human labels of its label set "
            "were added or corrected since its newest version was trained (0: never)."
        ),
    )
    train_every_hours: float = Field(
        default=0.0,
        description="A worker queues a train job for an active model older than this many hours (0: never).",
    )
    notify_min_probability: float = Field(
        default=0.0,
        description=(
            "Notifications go out only for predictions that are not uncertain and at least this probable."
        ),
    )
    smtp_host: str = Field(default="localhost", description="SMTP server that sends the notification mail.")
    smtp_port: int = Field(default=25, description="Port of the SMTP server.")
    smtp_user: str | None = Field(default=None, description="SMTP login user; no login when unset.")
    smtp_password: str | None = Field(default=None, description="SMTP login password.")
    smtp_starttls: bool = Field(default=False, description="Upgrade the SMTP connection with STARTTLS.")
    mail_from: str = Field(default="bugsift@localhost", description="Sender address of notification mail.")
    bugzilla_url: str | None = Field(
        default=None,
        description="Base URL of the Bugzilla that `sync` reads, e.g. https://bugzilla.mozilla.org.",
    )
    bugzilla_api_key: str | None = Field(
        default=None, description="Bugzilla API key, sent in the X-BUGZILLA-API-KEY header."
    )
    sync_page_size: int = Field(default=100, description="Bugs fetched per page by `sync`.")
    sync_retries: int = Field(
        default=5, description="Retries of one tracker request on 429, 5xx or connection errors."
    )
    sync_backoff_s: float = Field(
        default=1.0,
        description="Backoff factor of tracker request retries, in seconds (a Retry-After header wins).",
    )
    http_timeout_s: float = Field(default=30.0, description="Timeout of one tracker request, in seconds.")
    sync_max_wait_s: float = Field(
        default=900.0,
        description=(
            "Longest wait for a tracker's rate-limit reset within a sync, in seconds; a longer one fails "
            "the attempt and the job is retried later."
        ),
    )
    github_api_url: str = Field(
        default="https://api.github.com", description="Base URL of the GitHub REST API that `sync` reads."
    )
    github_repo: str | None = Field(
        default=None, description="Repository (owner/name) whose issues `sync` reads from GitHub."
    )
    github_token: str | None = Field(
        default=None, description="GitHub token for `sync` (sent as a Bearer token; raises the rate limit)."
    )
    github_webhook_secret: str | None = Field(
        default=None,
        description=(
            "Secret of the GitHub webhook (POST /webhooks/github), checked against X-Hub-Signature-256; "
            "the endpoint answers 404 while it is unset."
        ),
    )
    webhook_classify_tasks: str = Field(
        default="type",
        description=(
            "Comma-separated tasks a classify job runs for each issue a webhook stores (with "
            "notifications); empty: store only."
        ),
    )
    jira_url: str | None = Field(
        default=None,
        description="Base URL of the Jira that `sync` reads, e.g. https://issues.apache.org/jira.",
    )
    jira_jql: str | None = Field(
        default=None, description="JQL filter of the issues `sync` reads from Jira, e.g. 'project = HIVE'."
    )
    jira_user: str | None = Field(
        default=None, description="Jira user (Cloud: the account e-mail) for basic auth with jira_token."
    )
    jira_token: str | None = Field(
        default=None,
        description="Jira API token (with jira_user) or personal access token (alone, sent as Bearer).",
    )
    redmine_url: str | None = Field(
        default=None,
        description="Base URL of the Redmine that `sync` reads, e.g. https://redmine.example.org.",
    )
    redmine_api_key: str | None = Field(
        default=None, description="Redmine API key for `sync` (sent as X-Redmine-API-Key; My account page)."
    )
    redmine_project: str | None = Field(
        default=None,
        description="Redmine project (identifier or id) whose issues `sync` reads; unset: all it may see.",
    )
    redmine_sync_threads: int = Field(
        default=4,
        ge=1,
        le=16,
        description="Issues a Redmine sync fetches at once (one request each, for its journals).",
    )
    bot_rules: Path | None = Field(
        default=None,
        description=(
            "The triage bot's rules (TOML, see docs/bot.md). Default: bot.toml inside the data directory."
        ),
    )
    bot_every_minutes: float = Field(
        default=0.0,
        ge=0,
        description="Minutes between the worker's triage-bot passes (as `bugsift bot run --once`); 0: none.",
    )
    bot_digest_to: str | None = Field(
        default=None,
        description=(
            "Addresses (comma-separated) of the bot's daily digest: what it did and what it only suggests."
        ),
    )
    bot_api_key: str | None = Field(
        default=None,
        description=(
            "Key the bot writes with, where it should act as a user of its own (Redmine: X-Redmine-API-Key; "
            "Bugzilla: API key; GitHub and Jira: token). Default: the tracker's sync key."
        ),
    )

    @property
    def bot_rules_path(self) -> Path:
        return self.bot_rules or self.home / "bot.toml"

    @property
    def models_dir(self) -> Path:
        return self.models_path or self.home / "models"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'bugsift.sqlite3'}"

    def ensure_home(self) -> None:
        """Create the data directory and its models folder if they are missing."""
        self.models_dir.mkdir(parents=True, exist_ok=True)
