"""Job arguments are checked on submit (issue 19, item 10): types, ranges, known names, unknown arguments
named; the same for `bugsift jobs submit`; tracker URLs, from arguments or settings, only http(s)."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from jobs_support import job_settings
from sqlalchemy import func, select

from bugsift.cli import main
from bugsift.jobs.core import TASKS, JobContext, arg_specs, database_for, submit, task_function
from bugsift.jobs.sync_task import sync
from bugsift.store.job_tables import JobRow


def jobs_written(settings: Any) -> int:
    with database_for(settings).session() as session:
        return session.scalar(select(func.count()).select_from(JobRow)) or 0


def test_every_job_declares_exactly_the_arguments_of_its_function() -> None:
    for name in TASKS:
        specs = arg_specs(name)
        parameters = {
            k: p for k, p in inspect.signature(task_function(name)).parameters.items() if k != "context"
        }
        if specs is None:  # ping echoes whatever it gets
            assert name == "ping"
            continue
        assert set(specs) == set(parameters), name
        for arg, spec in specs.items():
            assert spec.required == (parameters[arg].default is inspect.Parameter.empty), (name, arg)


@pytest.mark.parametrize(
    ("task", "args", "words"),
    [
        ("classify", {"task": "stub", "shards": 0}, "args.shards: must be from 1 to 1024, not 0"),
        ("classify", {"task": "stub", "batch_size": "abc"}, "args.batch_size: must be an integer, not str"),
        ("classify", {"task": "stub", "batch_size": 0}, "args.batch_size: must be from 1"),
        ("classify", {"task": "stub", "batch_size": 2.5}, "args.batch_size: must be an integer"),
        (
            "classify",
            {"task": "stub", "shard": 2, "shards": 2},
            "args.shard must be from 0 to shards - 1 = 1",
        ),
        ("classify", {"task": "stub", "shards": None}, "args.shards: must be an integer, not null"),
        ("classify", {"task": "stub", "report_ids": [3, 0]}, "args.report_ids[1]: must be an integer id"),
        ("classify", {"task": "stub", "report_ids": [2**63]}, "args.report_ids[0]"),
        ("classify", {"task": "stub", "report_ids": "1,2"}, "args.report_ids: must be a list"),
        ("classify", {"task": "stub", "notify": "yes"}, "args.notify: must be true or false"),
        ("classify", {"task": "stub", "limit": 10**30}, "args.limit: must be from 1"),
        ("classify", {"task": "stub", "mode": "sideways"}, "args.mode must be one of filing, backlog"),
        ("classify", {"task": "stub", "label": ""}, "args.label: must be 1 to 200 characters"),
        ("classify", {"task": "stub", "label": "a\x00b"}, "args.label: must not contain NUL"),
        ("classify", {"task": "stub", "label": ["a"]}, "args.label: give a plain value"),
        ("classify", {"task": "stub", "colour": "red"}, "classify takes no argument colour; it takes task"),
        ("train", {"label": "is_bug"}, "train needs task"),
        ("notify", {"x": 1}, "notify takes no argument x; it takes no arguments"),
        ("encode", {"tracker": 5}, "args.tracker: must be a string, not int"),
        ("sync", {"url": "file:///etc/passwd"}, "args.url: must be an http:// or https:// URL"),
        ("sync", {"url": "https://"}, "args.url: must be an http:// or https:// URL with a host"),
        ("sync", {"source": "svn"}, "args.source must be one of bugzilla, github, jira"),
        ("sync", {"source": "jira", "since": '2024-01-01" OR project = X'}, "args.since"),
        ("sync", {"source": "jira", "since": "2024-13-01"}, "args.since: must be an ISO 8601 date"),
        ("sync", {"source": "github", "repo": "../../admin"}, "args.repo"),
        ("sync", {"source": "bugzilla", "repo": "octo/app"}, "args.repo is for a github sync, not bugzilla"),
    ],
)
def test_submit_refuses_bad_arguments_naming_them(tmp_path: Path, task: str, args: dict, words: str) -> None:
    settings = job_settings(tmp_path / "home")
    with pytest.raises(ValueError) as refused:
        submit(task, settings, **args)
    assert words in str(refused.value)
    assert jobs_written(settings) == 0


def test_submit_takes_good_arguments(tmp_path: Path) -> None:
    settings = job_settings(tmp_path / "home")
    full = {
        "task": "stub",
        "label": "is_bug",
        "mode": "backlog",
        "tracker": "bugzilla",
        "project": "Core",
        "batch_size": 100,
        "notify": True,
        "limit": 10,
        "report_ids": [1, 2, 3],
        "shard": 1,
        "shards": 2,
    }
    submit("classify", settings, **full)
    submit("sync", settings, source="jira", url="https://issues.apache.org/jira", since="2024-01-31 12:00")
    submit("sync", settings, source="github", repo="facebook/react", since="2024-01-31T12:00:00Z")
    submit("train", settings, task="stub", label=None)
    submit("ping", settings, anything=[1, {"x": None}])
    assert jobs_written(settings) == 5


@pytest.mark.parametrize(
    ("update", "source", "words"),
    [
        (
            {"bugzilla_url": "file:///etc/passwd"},
            "bugzilla",
            "BUGSIFT_BUGZILLA_URL 'file:///etc/passwd': must be",
        ),
        ({"jira_url": "gopher://jira.example"}, "jira", "BUGSIFT_JIRA_URL 'gopher://jira.example'"),
        (
            {"github_api_url": "ftp://api.github.com", "github_repo": "o/r"},
            "github",
            "BUGSIFT_GITHUB_API_URL",
        ),
        (
            {"bugzilla_url": None},
            "bugzilla",
            "sync bugzilla needs a url (argument url or BUGSIFT_BUGZILLA_URL)",
        ),
    ],
)
def test_tracker_urls_from_the_settings_must_be_http(
    tmp_path: Path, update: dict, source: str, words: str
) -> None:
    settings = job_settings(tmp_path / "home", **update)
    with pytest.raises(ValueError) as refused:
        sync(JobContext.standalone(settings), source=source)
    assert words in str(refused.value)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("BUGSIFT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("BUGSIFT_DATABASE_URL", raising=False)
    runner = CliRunner()
    return lambda *args: runner.invoke(main, ["jobs", "submit", *args], catch_exceptions=False)


def test_the_cli_checks_job_arguments_as_the_api_does(cli: Any, tmp_path: Path) -> None:
    for args, words in (
        (("classify", "--arg", "task=stub", "--arg", "shards=0"), "args.shards: must be from 1 to 1024"),
        (
            ("classify", "--arg", "task=stub", "--arg", "batch_size=abc"),
            "args.batch_size: must be an integer",
        ),
        (("classify", "--arg", "task=weather"), "args.task must be one of"),
        (("sync", "--arg", "url=file:///etc/passwd"), "args.url: must be an http"),
        (("sync", "--arg", "colour=red"), "sync takes no argument colour"),
        (("classify", "--arg", "task=" + "[" * 5000), "args.task"),  # too deep for JSON: a plain string
    ):
        result = cli(*args)
        assert result.exit_code == 1, result.output
        assert words in result.output, result.output
    good = cli("classify", "--arg", "task=stub", "--arg", "shards=2", "--arg", "shard=1")
    assert good.exit_code == 0 and good.output.strip().isdigit(), good.output
    assert cli("sync", "--arg", "url=https://bugzilla.mozilla.org", "--arg", "product=Core").exit_code == 0
