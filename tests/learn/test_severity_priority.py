"""The severity and priority tasks on real slices of ../shared/data: scales, targets, the ordinal model,
the rank error, and train -> predict through the CLI and the JSON API."""

from __future__ import annotations

import json
import lzma
from collections import Counter
from itertools import islice
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bugsift.cli import main
from bugsift.learn.ordinal import OrdinalClassifier
from bugsift.learn.persist import load_model, save_model
from bugsift.learn.reasons import INTERNAL
from bugsift.learn.scale.scales import (
    BUGZILLA_PRIORITY,
    BUGZILLA_SEVERITY,
    JIRA_PRIORITY,
    MOZILLA_SEVERITY,
    REDMINE_PRIORITY,
    mean_absolute_rank_error,
    scale_for_value,
)
from bugsift.learn.scale.targets import AS_FILED, CORRECTED, FINAL, build_scale_dataset, is_person
from bugsift.sources import read_reports
from bugsift.sources.base import Report

MOZILLA = "bugzilla-mozilla/bugs_full_add08f170.jsonl.xz"
JIRA = "apache-jira/jira_issues.jsonl.xz"


@pytest.fixture(scope="module")
def mozilla_bugs(data_dir: Path) -> list[Report]:
    return [r for r in read_reports("bugzilla", data_dir / MOZILLA) if isinstance(r, Report)]


@pytest.fixture(scope="module")
def hadoop_lines(data_dir: Path) -> list[str]:
    """The first 600 issues of the Apache dump (all HADOOP, 2006-2007), as JSON lines."""
    with lzma.open(data_dir / JIRA, "rt", encoding="utf-8") as handle:
        return list(islice(handle, 600))


def test_each_tracker_scale_is_ordered_worst_first_with_its_default() -> None:
    assert scale_for_value("severity", "critical", "bugzilla") is BUGZILLA_SEVERITY
    assert scale_for_value("severity", "S2", "bugzilla") is MOZILLA_SEVERITY
    assert scale_for_value("priority", "P1", "bugzilla") is BUGZILLA_PRIORITY
    assert scale_for_value("priority", "Major", "jira") is JIRA_PRIORITY
    assert scale_for_value("priority", "Normal", "redmine") is REDMINE_PRIORITY
    # Redmine and Jira 7 share "High": the tracker's own scale wins
    assert scale_for_value("priority", "High", "redmine") is REDMINE_PRIORITY
    assert BUGZILLA_SEVERITY.rank("blocker") == 0 and BUGZILLA_SEVERITY.rank("trivial") == 5
    assert JIRA_PRIORITY.classify("Major") == ("default", "Major")
    assert REDMINE_PRIORITY.classify("Immediate") == ("level", "Immediate")
    for value in ("enhancement", "--", "", None):
        assert BUGZILLA_SEVERITY.classify(value)[0] == "not set"
    assert BUGZILLA_PRIORITY.classify("--")[0] == "not set"
    assert MOZILLA_SEVERITY.classify("N/A")[0] == "not set"
    assert scale_for_value("priority", "--", "bugzilla") is None


def test_mozilla_severity_as_filed_untouched_normal_excluded_person_set_normal_counted(
    mozilla_bugs: list[Report],
) -> None:
    dataset = build_scale_dataset("severity", enumerate(mozilla_bugs))
    assert dataset.scale is BUGZILLA_SEVERITY
    assert dataset.sources == {AS_FILED: len(dataset.labels)}  # every bug carries its history
    assert dataset.excluded["severity normal: the tracker's default, left untouched"] == 899
    assert dataset.excluded["severity enhancement: not a severity"] == 11
    # the untouched ones are what a triage bot acts on: kept apart, with the level people gave them later
    assert len(dataset.at_default) == 899
    assert Counter(dataset.at_default_final) == {
        None: 881, "critical": 8, "major": 4, "blocker": 4, "trivial": 2,
    }  # fmt: skip
    # bug 1080687 was filed "normal", raised to critical, and set back to normal by a triager: counted
    by_id = dict(zip((r.external_id for r in dataset.reports), dataset.labels, strict=True))
    assert by_id["1080687"] == "normal"
    assert dataset.person_set_defaults == 4
    assert dataset.class_counts() == {
        "blocker": 4, "critical": 74, "major": 8, "minor": 13, "normal": 4, "trivial": 1,
    }  # fmt: skip
    # the same change made by a bot account is not a person's: the default stays "not set"
    bug = next(r for r in mozilla_bugs if r.external_id == "1080687")
    history = [{**entry, "who": "release-mgmt-account-bot@mozilla.tld"} for entry in bug.raw["history"]]
    botted = Report(**{**bug.__dict__, "raw": {**bug.raw, "history": history}})
    assert build_scale_dataset("severity", [(1, botted)]).labels == []
    assert is_person("jmathies@mozilla.com") and not is_person("nobody@mozilla.org")
    # a person's correction in bugsift (a human label named "severity") wins, a default included
    untouched = next(
        r for r in mozilla_bugs if r.filed and r.filed["severity"] == "normal" and r.external_id != "1080687"
    )
    corrected = build_scale_dataset(
        "severity", [(1, untouched), (2, bug)], corrections={1: "normal", 2: "minor"}
    )
    assert corrected.labels == ["normal", "minor"] and corrected.sources == {CORRECTED: 2}


def test_mozilla_priority_dash_dash_is_not_set(mozilla_bugs: list[Report]) -> None:
    dataset = build_scale_dataset("priority", enumerate(mozilla_bugs))
    assert dataset.scale is BUGZILLA_PRIORITY
    assert dataset.excluded == {"no priority ('--': not set)": 945}
    assert len(dataset.at_default) == 945 and sum(f is not None for f in dataset.at_default_final) == 344
    assert set(dataset.labels) == {"P1", "P2", "P3", "P5"}


def test_jira_priority_falls_back_to_final_value_and_drops_untouched_major(
    data_dir: Path, hadoop_lines: list[str], tmp_path: Path
) -> None:
    path = tmp_path / "hadoop.jsonl"
    path.write_text("".join(hadoop_lines))
    reports = [r for r in read_reports("jira", path) if isinstance(r, Report)]
    dataset = build_scale_dataset("priority", enumerate(reports))
    assert dataset.scale is JIRA_PRIORITY
    assert dataset.excluded == {"priority Major: the tracker's default, left untouched": 427}
    assert dataset.sources == {FINAL: 173}
    # no history: today's "Major" is the filed one, so none of them was given a level later
    assert len(dataset.at_default) == 427 and set(dataset.at_default_final) == {None}
    assert dataset.class_counts() == {"Blocker": 28, "Critical": 31, "Minor": 94, "Trivial": 20}
    # a final value the bot wrote is its own answer, never a label
    blocker = next(i for i, r in enumerate(reports) if r.priority == "Blocker")
    botted = build_scale_dataset("priority", enumerate(reports), by_bot={blocker})
    assert botted.excluded["set by the bot"] == 1 and botted.class_counts()["Blocker"] == 27


def test_classic_and_s_severities_in_one_tracker_map_onto_s1_s4(mozilla_bugs: list[Report]) -> None:
    critical = next(r for r in mozilla_bugs if r.filed and r.filed["severity"] == "critical")
    trivial = next(r for r in mozilla_bugs if r.filed and r.filed["severity"] == "trivial")
    newer = Report(**{**critical.__dict__, "filed": {**critical.filed, "severity": "S1"}})
    dataset = build_scale_dataset("severity", enumerate([critical, trivial, newer]))
    assert dataset.scale is MOZILLA_SEVERITY
    assert dataset.labels == ["S2", "S4", "S1"]


def test_mean_absolute_rank_error() -> None:
    assert mean_absolute_rank_error(["P1", "P3"], ["P1", "P3"], BUGZILLA_PRIORITY) == 0.0
    # off by one and off by three: (1 + 3) / 2
    assert mean_absolute_rank_error(["P1", "P5"], ["P2", "P2"], BUGZILLA_PRIORITY) == 2.0
    assert mean_absolute_rank_error(["Blocker"], ["Trivial"], JIRA_PRIORITY) == 4.0
    assert mean_absolute_rank_error([], [], JIRA_PRIORITY) is None


def test_ordinal_model_probabilities_reasons_and_model_file(hadoop_lines: list[str], tmp_path: Path) -> None:
    path = tmp_path / "hadoop.jsonl"
    path.write_text("".join(hadoop_lines))
    dataset = build_scale_dataset(
        "priority", enumerate(r for r in read_reports("jira", path) if isinstance(r, Report))
    )
    model = OrdinalClassifier(scale="jira-priority", exclude_fields=("priority",), char_ngrams=None)
    model.fit(dataset.reports, dataset.labels)
    assert list(model.classes_) == ["Blocker", "Critical", "Minor", "Trivial"]
    proba = model.predict_proba(dataset.reports[:20])
    assert proba.shape == (20, 4) and np.allclose(proba.sum(axis=1), 1.0) and proba.min() >= 0.0
    assert np.allclose(model.coef_.sum(axis=0), 0.0, atol=1e-5)  # per-class directions, as explain expects
    assert "priority" not in " ".join(model.features_.get_feature_names_out())
    saved = load_model(save_model(model, tmp_path / "ordinal.skops"))
    assert np.allclose(saved.predict_proba(dataset.reports[:20]), proba)


def test_train_predict_evaluate_severity_through_the_cli_and_the_api(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BUGSIFT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("BUGSIFT_DATABASE_URL", raising=False)
    runner = CliRunner()

    def run(*args: object) -> str:
        result = runner.invoke(main, [str(a) for a in args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    run("import", "bugzilla", data_dir / MOZILLA)
    assert "severity" in run("train", "--help") and "priority" in run("train", "--help")
    trained = run("train", "severity")
    assert "on the scale bugzilla-severity (blocker > critical > major > normal > minor > trivial" in trained
    assert "104 severity values as filed" in trained and "4 are the tracker's default" in trained
    assert "899 severity normal: the tracker's default, left untouched" in trained
    assert "mean absolute rank error" in trained and "plain TF-IDF + LR" in trained
    assert "saved severity model v1 (scale bugzilla-severity, mode filing)" in trained

    # the validation report drawn from the evaluation kept beside the model file shows the rank error
    from bugsift.report import write_report

    # what the bot's thresholds are measured on: the untouched bugs of the test period, mostly left so
    assert "for the bot: " in trained and "filed untouched" in trained
    kept = next((tmp_path / "home" / "models").glob("severity-*.evaluation.json"))
    population = json.loads(kept.read_text())["predictions"]["bot"]
    assert population["n_untouched"] > 100 and population["n_labelled"] == 0
    left = population["n_untouched"] - population["n_untouched_set_later"]
    assert population["y_true"].count("not set") == left
    from bugsift.bot.thresholds import held_out_of

    held_out = held_out_of("severity", kept.with_name(kept.name.replace(".evaluation.json", ".skops")))
    assert held_out is not None and held_out.untouched_counted
    assert len(held_out.predicted) == population["n_untouched"]
    write_report(json.loads(kept.read_text()), tmp_path / "severity.html", "severity")
    assert "mean absolute rank error, levels off" in (tmp_path / "severity.html").read_text()

    with lzma.open(data_dir / MOZILLA, "rt", encoding="utf-8") as handle:
        new = tmp_path / "new.jsonl"
        new.write_text("".join(islice(handle, 5)))
    out = tmp_path / "predictions.jsonl"
    run("predict", "severity", "--input", new, "--output", out)
    answers = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(answers) == 5
    for answer in answers:
        assert answer["scale"] == "bugzilla-severity"
        assert answer["prediction"] in BUGZILLA_SEVERITY.levels and 0.0 < answer["probability"] <= 1.0
        assert isinstance(answer["uncertain"], bool) and answer["explanation"]
        assert not any(INTERNAL.match(reason["text"]) for reason in answer["explanation"])

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
        bug = json.loads(new.read_text().splitlines()[0])
        response = client.post(
            "/api/v1/predict/severity",
            json={"id": str(bug["id"]), "title": bug["summary"], "description": bug["comments"][0]["text"]},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        answer = response.json  # one report in, one answer out
        assert answer["scale"] == "bugzilla-severity" and answer["prediction"] in BUGZILLA_SEVERITY.levels
    finally:
        database.dispose()
