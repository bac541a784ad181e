"""The demo on the real shared data: all five answers, in words, and a second run that keeps its models.

One full run (about a minute: word-only models on 1,014 Mozilla bugs, 1,500 GitHub issues and AspectJ's
590 fixed bugs), then a second one on the same store.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bugsift.demo import run_demo
from bugsift.demo_serve import demo_login, queue_improvements
from bugsift.settings import Settings
from bugsift.store.db import Database

# What must never reach a person: registry keys, stored label values, feature ids.
INTERNALS = re.compile(r"not_defect|\b\w+:\w+:(filing|backlog):v\d|\b(field|title|text|chars):\w")


@pytest.mark.slow
def test_demo_shows_every_answer_then_keeps_its_models(
    shared_data: Path, settings: Settings, sqlite_db: Database
) -> None:
    lines: list[str] = []
    models = run_demo(sqlite_db, settings, shared_data, echo=lines.append)
    out = "\n".join(lines)

    assert [m.task for m in models] == ["defect", "defect", "component", "type", "files"]
    for section in range(1, 10):
        assert re.search(rf"^{section}\. ", out, re.M), f"section {section} missing"
    assert "imported 1014" in out and "imported 1500" in out and "imported 590" in out
    assert out.count("real defect? ") == 5 and out.count("component: ") == 5
    assert out.count("may duplicate: ") == 5
    assert re.search(r"original first for \d+ of 9, in the top 3 for \d+", out)
    assert re.search(r"a fixed file in the top 5 for 0\.\d+ of \d+ replayed bugs", out)
    assert re.search(r"'Add a dark theme to the settings page' -> Feature", out)
    assert "%" in out and "because " in out
    assert "imported 46" in out and "answered: defect 46, component 46" in out  # the queue's arrivals
    assert not INTERNALS.search(out), INTERNALS.search(out)

    again: list[str] = []
    run_demo(sqlite_db, settings, shared_data, echo=again.append)
    second = "\n".join(again)
    assert second.count("  kept ") == 5 and "unchanged 1014" in second
    assert "unchanged 46" in second and "answered: defect 46, component 46" in second  # named: answered again
    # the kept models answer the same way
    assert [line for line in again if "real defect? " in line] == [
        line for line in lines if "real defect? " in line
    ]


def test_demo_login_is_created_once(sqlite_db: Database) -> None:
    first = demo_login(sqlite_db)
    assert re.search(r"Log in as demo / \S{8,} \(shown once\)", first[0])
    assert "shown on the first run" in demo_login(sqlite_db)[0]


def test_no_background_training_without_embeddings(settings: Settings, sqlite_db: Database) -> None:
    from bugsift.demo import DemoModel

    word_only = settings.model_copy(update={"embeddings": "off"})
    assert queue_improvements(sqlite_db, word_only, [DemoModel("defect", "mozilla", "is_bug")]) == []


def test_background_training_is_queued_once(sentence_model: None, settings: Settings) -> None:
    from sqlalchemy import select

    from bugsift.demo import DemoModel
    from bugsift.jobs.core import database_for
    from bugsift.store.job_tables import JobRow

    database = database_for(settings)  # the queue's own database: the one the worker reads
    with_embeddings = settings.model_copy(update={"embeddings": "auto"})
    models = [DemoModel("defect", "mozilla", "is_bug", "filing"), DemoModel("files", "eclipse", project="X")]
    first = queue_improvements(database, with_embeddings, models)
    assert len(first) == 1 and "defect (filing)" in first[0]
    assert queue_improvements(database, with_embeddings, models) == []  # the job waits already
    with database.session() as session:
        jobs = session.scalars(select(JobRow)).all()
    assert [(j.task, j.args) for j in jobs] == [
        ("train", {"task": "defect", "mode": "filing", "tracker": "mozilla", "label": "is_bug"})
    ]
