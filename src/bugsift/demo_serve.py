"""What `bugsift demo --serve` adds before serving: a login for the queue, and background jobs that train
sentence-embedding challengers of the demo's word-only kind models (promoted only when they do better)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from bugsift.jobs.core import submit
from bugsift.settings import Settings
from bugsift.store.db import Database
from bugsift.store.job_tables import JobRow
from bugsift.store.models import ModelRow

DEMO_USER = "demo"
KIND_TASKS = ("defect", "type")  # the tasks whose models read sentence embeddings (component, files: not
# worth it here: +0.007 MAP on AspectJ for three more minutes of encoding)


def _tried_with_embeddings(session: Any, task: str, label: str | None, mode: str) -> bool:
    """Whether a model of this task was trained with embeddings, or such a job waits already."""
    rows = session.scalars(select(ModelRow).where(ModelRow.task == task, ModelRow.mode == mode)).all()
    if any((row.params or {}).get("embeddings") not in (False, None) for row in rows):
        return True
    waiting = session.scalars(
        select(JobRow).where(JobRow.task == "train", JobRow.state.in_(("queued", "running")))
    )
    return any(job.args.get("task") == task and job.args.get("mode") == mode for job in waiting)


def queue_improvements(database: Database, settings: Settings, models: Sequence[Any]) -> list[str]:
    """Queue one `train` job per word-only kind model (the worker of `serve --worker` runs them)."""
    from bugsift.learn.embeddings import embeddings_available

    if settings.embeddings == "off" or not embeddings_available():
        return []
    queued = []
    for model in models:
        if model.task not in KIND_TASKS:
            continue
        with database.session() as session:
            if _tried_with_embeddings(session, model.task, model.label, model.mode):
                continue
        args = {"task": model.task, "mode": model.mode, "tracker": model.tracker}
        if model.label:
            args["label"] = model.label
        submit("train", settings, **args)
        queued.append(f"{model.task} ({model.mode})")
    if not queued:
        return []
    return [
        f"Queued background training with sentence embeddings for {', '.join(queued)}: each new version "
        "replaces the word-only one only if it scores better on the same held-out reports (the dashboard "
        "shows the jobs and the versions)."
    ]


def demo_login(database: Database) -> list[str]:
    """Create the `demo` admin once, with a random password shown only then."""
    from bugsift.store.web_tables import UserRow
    from bugsift.web.accounts import create_user

    with database.session() as session:
        if session.scalar(select(UserRow).where(UserRow.username == DEMO_USER)) is not None:
            return [f"Log in as {DEMO_USER} (its password was shown on the first run; "
                    f"`bugsift users set-password {DEMO_USER}` sets another)."]  # fmt: skip
        password = secrets.token_urlsafe(9)
        create_user(session, DEMO_USER, password, "admin")
    return [f"Log in as {DEMO_USER} / {password} (shown once) to work the triage queue and the dashboard."]


def page_guide(port: int) -> list[str]:
    """What each page of the web app shows, for the person who just ran the demo."""
    base = f"http://127.0.0.1:{port}"
    return [
        f"Serving on {base} (Ctrl-C stops it):",
        f"  {base}/            the report form: type a title and it suggests the kind, the component and "
        "the reports it may duplicate, with the reasons",
        f"  {base}/triage/     the triage queue: every untriaged report with the model's answer; accept or "
        "correct (j/k/a keys)",
        f"  {base}/dashboard/  the models, their held-out figures and reports, the jobs and the last import",
        f"  {base}/api/v1/openapi.json  the JSON API, described (OpenAPI)",
    ]
