"""`label:NAME` and `field:NAME` tasks: task names as a pattern everywhere a task name is checked, tracker
fields as filed on real slices of ../shared/data (Mozilla Bugzilla cf_* and op_sys with their history,
Apache Jira labels), and train -> predict end to end through the CLI and the JSON API."""

from __future__ import annotations

import json
import lzma
from collections import Counter
from itertools import islice
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bugsift.cli import main
from bugsift.jobs.args import json_schema
from bugsift.jobs.core import arg_specs, validate_args
from bugsift.learn.field.targets import (
    AS_FILED,
    FINAL,
    build_dataset,
    defining_fields,
    filed_values,
    parse_task,
)
from bugsift.learn.reasons import INTERNAL
from bugsift.learn.scale.scales import GITHUB_PRIORITY, GITHUB_PRIORITY_P
from bugsift.learn.scale.targets import build_scale_dataset, label_rules
from bugsift.learn.tasks import TASKS, get_task
from bugsift.sources import read_reports
from bugsift.sources.base import Report
from bugsift.sources.github import from_rest
from bugsift.sources.jira import from_record as jira_record
from bugsift.web.names import model_title, version_words

MOZILLA = "bugzilla-mozilla/bugs_full_add08f170.jsonl.xz"
MOZILLA_COMPACT = "bugzilla-mozilla/bugs_compact_labeled.jsonl"
JIRA = "apache-jira/jira_issues.jsonl.xz"


@pytest.fixture(scope="module")
def mozilla_bugs(shared_data: Path) -> list[Report]:
    return [r for r in read_reports("bugzilla", shared_data / MOZILLA) if isinstance(r, Report)]


@pytest.fixture(scope="module")
def labelled_jira_lines(shared_data: Path) -> list[str]:
    """The 2,646 Apache issues that carry at least one Jira label, as JSON lines."""
    with lzma.open(shared_data / JIRA, "rt", encoding="utf-8") as handle:
        return [line for line in handle if json.loads(line)["labels"]]


def field_dataset(task: str, reports: list[Report]) -> Any:
    name = task.partition(":")[2]
    return build_dataset(task, ((i, r, *filed_values(r, name)) for i, r in enumerate(reports)))


def test_label_and_field_task_names_are_a_pattern_wherever_a_task_name_is_checked() -> None:
    for name in ("label:is_bug", "field:cf_status_firefox61", "field:customfield_12310220", "field:oct16"):
        assert name in TASKS and get_task(name).name == name
    for name in ("label:", "field:area/", "labels:is_bug", "field:a:b", "field:" + "x" * 81):
        assert name not in TASKS
    assert parse_task("field:op_sys") == ("field", "op_sys") and parse_task("severity") is None
    with pytest.raises(ValueError, match=r"unknown task 'labels:x'; tasks: type, .*label:NAME, field:NAME"):
        get_task("labels:x")
    # the model never reads the field it answers, nor the labels that may carry it
    assert defining_fields("field:op_sys") == ("op_sys", "keywords", "tags")
    assert "tracking_flags" in defining_fields("field:cf_status_firefox61")
    assert defining_fields("label:is_bug") == ("type",)

    # jobs: the train and classify jobs take them; their OpenAPI schema says so
    assert validate_args("train", {"task": "label:is_bug"}, TASKS)["task"] == "label:is_bug"
    with pytest.raises(ValueError, match=r"args.task must be one of type, .*field:NAME, not 'field:'"):
        validate_args("train", {"task": "field:"}, TASKS)
    schema = json_schema(arg_specs("classify")["task"], TASKS)
    assert schema["anyOf"][0]["enum"][0] == "type" and schema["anyOf"][1]["pattern"].startswith("^(label|")

    class Row:
        task, label, mode, version = "label:is_bug", "is_bug", "filing", 2

    assert model_title(Row()) == "Is bug · at filing · v2"
    assert (
        version_words("field:cf_has_str:cf_has_str:backlog:v1")
        == "Cf has str (tracker field) · in the backlog · v1"
    )


def test_bugzilla_fields_are_read_as_filed_from_the_history(mozilla_bugs: list[Report]) -> None:
    dataset = field_dataset("field:op_sys", mozilla_bugs)
    assert len(dataset.labels) == 425 and dataset.sources == {AS_FILED: 425}
    # "Unspecified" is Bugzilla's default: not set, never a value
    assert dataset.excluded == {"no op_sys (not set)": 586, "a value on fewer than 3 reports": 3}
    assert "Unspecified" not in dataset.labels and Counter(dataset.labels)["Linux"] == 70
    # a bug whose op_sys a triager changed: the value it was filed with, not today's
    changed = [
        (r, c)
        for r in mozilla_bugs
        for h in r.raw["history"]
        for c in h["changes"]
        if c["field_name"] == "op_sys" and c["removed"] not in ("Unspecified", "")
    ]
    report, change = changed[0]
    assert report.raw["op_sys"] != change["removed"]
    first = min(
        (h["when"], c["removed"])
        for h in report.raw["history"]
        for c in h["changes"]
        if c["field_name"] == "op_sys"
    )
    assert filed_values(report, "op_sys") == ([first[1]], AS_FILED)

    status = field_dataset("field:cf_status_firefox61", mozilla_bugs)
    assert status.class_counts() == {"affected": 82, "disabled": 6, "unaffected": 16}
    assert status.excluded == {"no cf_status_firefox61 (not set)": 910}  # "---" is not set

    # a list field is replayed as a set: bug 674718 has "feature" today, added in 2015; filed with none
    by_id = {r.external_id: r for r in mozilla_bugs}
    assert by_id["674718"].keywords == ["feature"] and filed_values(by_id["674718"], "keywords") == (
        [],
        AS_FILED,
    )
    assert filed_values(by_id["561351"], "keywords") == (["regressionwindow-wanted"], AS_FILED)
    keywords = field_dataset("field:keywords", mozilla_bugs)  # several keywords: left out, counted
    assert keywords.excluded["several keywords values"] == 74
    assert keywords.class_counts() == {
        "crash": 25, "intermittent-failure": 47, "meta": 9,
        "nightly-community": 3, "perf": 4, "regression": 9,
    }  # fmt: skip


def test_jira_labels_with_a_prefix_and_the_single_label_rule(labelled_jira_lines: list[str]) -> None:
    reports = [jira_record(json.loads(line)) for line in labelled_jira_lines]
    oct16 = field_dataset("field:oct16", reports)  # YARN's oct16-easy / oct16-medium / oct16-hard
    assert oct16.class_counts() == {"easy": 47, "hard": 5, "medium": 23}
    assert oct16.sources == {FINAL: 75}  # the flattened dump has no changelog: today's labels
    # the labels that carry the answer are gone from what the model reads, the others stay
    assert not any(
        k.startswith("oct16") for r in oct16.reports for k in r.keywords + r.extra.get("labels", [])
    )
    assert any(r.keywords for r in oct16.reports)

    labels = field_dataset("field:labels", reports)  # the whole label list: one label, or left out
    assert labels.excluded["several labels values"] == 453
    assert Counter(labels.labels).most_common(2) == [("newbie", 425), ("BB2015-05-TBR", 217)]


def github_issue(number: int, labels: list[str]) -> dict[str, Any]:
    """The shape of a GitHub REST issue (the shared data has CSV exports only, without label lists)."""
    return {
        "number": number,
        "title": f"issue {number}",
        "body": "",
        "created_at": f"2024-01-{number:02d}T10:00:00Z",
        "repository_url": "https://api.github.com/repos/octo/widgets",
        "labels": [{"name": name} for name in labels],
    }


def test_github_labels_with_a_prefix_are_fields_and_scales_when_a_rule_says_so() -> None:
    issues = [
        from_rest(github_issue(1, ["bug", "area/ui", "priority: high"])),
        from_rest(github_issue(2, ["area/api", "priority/P1"])),
        from_rest(github_issue(3, ["area/ui", "area/api", "Priority: Low"])),
        from_rest(github_issue(4, ["enhancement"])),
    ]
    assert [filed_values(r, "area") for r in issues] == [
        (["ui"], FINAL), (["api"], FINAL), (["ui", "api"], FINAL), ([], FINAL),
    ]  # fmt: skip
    assert label_rules("severity=severity,priority=priority") == {
        "severity": ("severity",),
        "priority": ("priority",),
    }
    assert label_rules("") == {}
    with pytest.raises(ValueError, match="'urgency=u' is not FIELD=PREFIX"):
        label_rules("urgency=u")

    rules = label_rules("priority=priority")
    dataset = build_scale_dataset("priority", enumerate(issues), rules=rules)
    # high and low are on GitHub's named scale (2 reports), P1 on the P scale (1): the larger one wins
    assert dataset.scale is GITHUB_PRIORITY and dataset.class_counts() == {"high": 1, "low": 1}
    assert not any("priority" in k.lower() for r in dataset.reports for k in r.keywords)
    p_scale = build_scale_dataset("priority", enumerate(issues[1:2]), rules=rules)
    assert p_scale.scale is GITHUB_PRIORITY_P and p_scale.labels == ["P1"]
    assert build_scale_dataset("priority", enumerate(issues), rules={}).scale is None  # no rule, no labels


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("BUGSIFT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("BUGSIFT_DATABASE_URL", raising=False)
    runner = CliRunner()

    def run(*args: object, code: int = 0) -> str:
        result = runner.invoke(main, [str(a) for a in args], catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    return run


def test_train_predict_a_jira_label_prefix_field_through_the_cli_and_the_api(
    cli: Any, labelled_jira_lines: list[str], tmp_path: Path
) -> None:
    store = tmp_path / "labelled.jsonl"
    store.write_text("".join(labelled_jira_lines))
    cli("import", "jira", store)
    trained = cli("train", "field:oct16")
    assert "field:oct16 (mode filing, split time): 75 labelled reports, 3 values" in trained
    assert "75 today's values (no history from the tracker" in trained
    assert "plain TF-IDF + LR" in trained and "uncertain below p=" in trained
    assert "saved field:oct16 model v1 (mode filing)" in trained
    listed = cli("models").split()
    assert listed[:4] == ["*", "field:oct16", "oct16", "filing"]  # the registry row names the task
    assert (
        "Error: no stored report has a value for the field 'nope' (2646 reports read); fields with values: "
        in (error := cli("train", "field:nope", code=1))
    )
    assert "labels (" in error and "priority (2646)" in error

    # the dashboard's validation report is drawn from the evaluation kept beside the model file
    from bugsift.report import write_report

    kept = next((tmp_path / "home" / "models").glob("field:oct16-oct16-filing-v1.evaluation.json"))
    write_report(json.loads(kept.read_text()), tmp_path / "oct16.html", "field:oct16")
    assert "<h1>Validation report: field:oct16</h1>" in (tmp_path / "oct16.html").read_text()

    new = tmp_path / "new.jsonl"
    new.write_text("".join([line for line in labelled_jira_lines if "oct16" in line][:10]))
    out = tmp_path / "predictions.jsonl"
    cli("predict", "field:oct16", "--input", new, "--output", out)
    answers = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(answers) == 10 and all(a["prediction"] in ("easy", "medium", "hard") for a in answers)
    assert all(isinstance(a["uncertain"], bool) and a["explanation"] for a in answers)
    assert not any(INTERNAL.match(reason["text"]) for a in answers for reason in a["explanation"])

    from bugsift.settings import Settings
    from bugsift.store.db import open_database
    from bugsift.web import accounts
    from bugsift.web.app import create_app

    settings = Settings(home=tmp_path / "home")
    database = open_database(settings)
    try:
        with database.session() as session:
            user = accounts.create_user(session, "bot", "correct horse battery", "triager")
            token = accounts.create_token(session, user, "ci", ("predict",))[1]
        client = create_app(settings, database=database, TESTING=True).test_client()
        issue = json.loads(next(line for line in labelled_jira_lines if "oct16" in line))
        headers = {"Authorization": f"Bearer {token}"}
        body = {"id": issue["key"], "title": issue["summary"], "description": issue["description"] or ""}
        response = client.post("/api/v1/predict/field:oct16", json=body, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.json["prediction"] in ("easy", "medium", "hard")
        missing = client.post("/api/v1/predict/field:nope", json=body, headers=headers)
        assert missing.status_code == 404 and "bugsift train field:nope" in missing.get_data(as_text=True)
        bad = client.post("/api/v1/predict/fields:x", json=body, headers=headers)
        assert bad.status_code == 404 and "label:NAME, field:NAME" in bad.get_data(as_text=True)
        spec = client.get("/api/v1/openapi.json").json
        task_param = spec["paths"]["/predict/{task}"]["post"]["parameters"][0]["schema"]
        assert {"type": "string", "pattern": "^(label|field):([A-Za-z0-9_.\\-]{1,80})$"} in task_param[
            "anyOf"
        ]
    finally:
        database.dispose()


def test_train_an_imported_label_set_as_label_name_end_to_end(
    cli: Any, shared_data: Path, tmp_path: Path
) -> None:
    with open(shared_data / MOZILLA_COMPACT, encoding="utf-8") as handle:
        lines = list(islice(handle, 400))
    store = tmp_path / "compact.jsonl"
    store.write_text("".join(lines))
    cli("import", "bugzilla", store)
    error = cli("train", "label:is_bugg", code=1)
    assert (
        "no report carries the label set 'is_bugg'; label sets in the store: is_bug_derived (400), is_bug ("
        in error
    )
    trained = cli("train", "label:is_bug")
    n_labelled = sum(json.loads(line)["is_bug"] is not None for line in lines)
    assert f"label:is_bug (mode filing, split time): {n_labelled} labelled reports, 2 values" in trained
    assert "labels: the label set is_bug (imported or given by people; never a model's)" in trained
    assert "saved label:is_bug model v1 (mode filing)" in trained
    assert "label:is_bug" in cli("models")
    out = tmp_path / "predictions.jsonl"
    cli("predict", "label:is_bug", "--input", store, "--output", out)
    answers = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(answers) == 400 and {a["prediction"] for a in answers} <= {"True", "False"}
    assert "--label is not used" in cli("train", "label:is_bug", "--label", "x", code=1)


def test_a_field_training_reads_the_newest_stored_reports_only_and_slim(
    shared_data: Path, sqlite_db: Any
) -> None:
    """`train_max_reports` bounds a field training's memory as it bounds the scale tasks': the newest N
    stored reports (a field's values may be rare), oldest first again, the older ones counted as not
    read; in filing mode the kept reports carry no later comments or raw record."""
    from bugsift.ingest import import_reports
    from bugsift.learn.field.targets import load_field_dataset

    import_reports(sqlite_db, "bugzilla", [shared_data / MOZILLA])
    with sqlite_db.session() as session:
        everything = load_field_dataset(session, "field:op_sys")
        window = load_field_dataset(session, "field:op_sys", max_reports=300, slim=True)
        roomy = load_field_dataset(session, "field:op_sys", max_reports=5_000)
    assert len(everything.labels) == 425 and roomy.row_ids == everything.row_ids  # no window needed
    assert any(r.raw for r in everything.reports)
    assert window.excluded["not read: older than the newest 300 reports"] == 1014 - 300
    stored = sorted(r.created_at for r in read_reports("bugzilla", shared_data / MOZILLA))
    assert 0 < len(window.labels) < 300 and min(r.created_at for r in window.reports) >= stored[-300]
    dates = [r.created_at for r in window.reports]
    assert dates == sorted(dates) and not any(r.raw or r.comments for r in window.reports)
