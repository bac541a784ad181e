"""The fix-time task on the real Mozilla bugs: censoring, no leakage, the CLI round trip, the report."""

from __future__ import annotations

import copy
import json
import lzma
import re
from datetime import timedelta
from itertools import islice
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bugsift.cli import main
from bugsift.learn.fix_time.history import FixHistory
from bugsift.learn.fix_time.model import FixTimeModel
from bugsift.learn.fix_time.predict import predict
from bugsift.learn.fix_time.target import DAY, build_dataset
from bugsift.learn.persist import load_model, save_model, untrusted_types
from bugsift.learn.reasons import is_readable
from bugsift.sources.base import Report


def test_open_reports_are_counted_as_censored_and_closed_unfixed_ones_left_out(
    mozilla: list[Report],
) -> None:
    data = build_dataset(mozilla)
    open_now = sum(1 for r in mozilla if not r.resolution)
    fixed = sum(1 for r in mozilla if (r.resolution or "").upper() == "FIXED" and r.resolved_at)
    assert data.counts() == {"fixed": fixed, "censored": open_now}
    assert open_now > 100  # the real data has many open bugs: they must not vanish silently
    assert data.excluded["closed without a fix (DUPLICATE)"] == 24
    assert len(data) + sum(data.excluded.values()) == len(mozilla)
    # rolled back to an earlier moment, a later fix is still open then, censored at the days so far
    moment = float(np.nanmedian(data.resolved))
    y, known_fixed = data.known_at(moment)
    later = np.isfinite(data.resolved) & (data.resolved > moment) & (data.created <= moment)
    assert later.any() and not known_fixed[later].any()
    np.testing.assert_allclose(y[later], np.log1p((moment - data.created[later]) / DAY))


def _fitted(mozilla: list[Report], **params) -> tuple[FixTimeModel, list[Report]]:
    data = build_dataset(mozilla[-400:])  # the newest 400: open and fixed ones, a few seconds to fit
    y, fixed = data.known_at(data.as_of)
    resolved = np.where(fixed, data.resolved, np.nan)
    return FixTimeModel(**params).fit(data.reports, y, fixed, resolved), data.reports


def test_no_resolution_field_reaches_the_features(mozilla: list[Report]) -> None:
    model, reports = _fitted(mozilla, kind="censored", alpha=10.0)
    report = next(r for r in reports if r.resolution and r.comments)
    changed = copy.deepcopy(report)
    changed.resolution, changed.status, changed.duplicate_of = "WONTFIX", "VERIFIED", "1"
    changed.resolved_at = report.created_at + timedelta(days=900)
    changed.comments = ["fixed in the next release: took forever"] * 5
    before, after = model.transform([report]), model.transform([changed])
    assert (before != after).nnz == 0
    assert not any(
        n.startswith(("comments:", "field:resolution", "field:status")) for n in model.feature_names()
    )


def test_history_reads_only_fixes_resolved_before_filing(mozilla: list[Report]) -> None:
    data = build_dataset(mozilla)
    y, fixed = data.known_at(data.as_of)
    resolved = np.where(fixed, data.resolved, np.nan)
    report = data.reports[len(data) // 2]
    filed = data.created[len(data) // 2]
    later = np.isfinite(resolved) & (resolved >= filed)
    assert later.any()
    shifted = y.copy()
    shifted[later] += 5.0  # every fix after the filing takes far longer: the report cannot know
    one = FixHistory().fit(data.reports, resolved=resolved, values=y).describe(report)
    two = FixHistory().fit(data.reports, resolved=resolved, values=shifted).describe(report)
    assert {k: v for k, v in one.items()} == {k: v for k, v in two.items()}


def test_censored_model_answers_a_median_inside_its_interval_with_reasons(
    mozilla: list[Report], tmp_path: Path
) -> None:
    fitted, reports = _fitted(mozilla, kind="quantile", alpha=10.0)
    path = save_model(fitted, tmp_path / "fix-time.skops")
    assert untrusted_types(path) == []  # every type the file holds is on the trusted list
    model = load_model(path)
    np.testing.assert_array_equal(model.predict(reports[-20:]), fitted.predict(reports[-20:]))
    answers = predict(model, reports[-20:], top_k=3)
    for answer in answers:
        assert answer["unit"] == "days" and answer["interval"]["quantiles"] == [0.1, 0.9]
        assert answer["interval"]["low"] <= answer["prediction"] <= answer["interval"]["high"]
        assert answer["explanation"] and all(is_readable(r["text"]) for r in answer["explanation"])
    assert any(
        r["kind"] in ("words", "field", "history", "product") for a in answers for r in a["explanation"]
    )


@pytest.fixture(scope="module")
def trained(shared_data: Path, tmp_path_factory: pytest.TempPathFactory):
    """The Mozilla bugs imported and a fix-time model trained through the CLI (once for this module)."""
    home = tmp_path_factory.mktemp("fix-time")
    runner = CliRunner()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BUGSIFT_HOME", str(home / "home"))
        patch.delenv("BUGSIFT_DATABASE_URL", raising=False)

        def invoke(*args: object) -> str:
            result = runner.invoke(main, [str(a) for a in args], catch_exceptions=False)
            assert result.exit_code == 0, result.output
            return result.output

        source = shared_data / "bugzilla-mozilla/bugs_full_add08f170.jsonl.xz"
        invoke("import", "bugzilla", source)
        invoke("train", "fix-time")
        with lzma.open(source, "rt") as handle:
            sample = home / "new.jsonl"
            sample.write_text("".join(islice(handle, 5)))
        yield invoke, sample, home


def test_cli_train_predict_and_report(trained, tmp_path: Path) -> None:
    invoke, sample, _ = trained
    assert "fix-time" in re.sub(r"\s+", "", invoke("train", "--help"))  # the usage line wraps
    lines = [json.loads(line) for line in invoke("predict", "fix-time", "--input", sample).splitlines()]
    assert len(lines) == 5
    for answer in lines:
        assert {"id", "prediction", "probability", "candidates", "uncertain", "explanation"} <= set(answer)
        assert answer["unit"] == "days"
        assert answer["interval"]["low"] <= answer["prediction"] <= answer["interval"]["high"]
    report = tmp_path / "fix-time.html"
    text = invoke("evaluate", "fix-time", "--report", report)
    assert "censored" in text and "training median" in text
    html = report.read_text()
    assert "Numeric target: log-days to a fix" in html
    assert "inside the 10%-90% interval" in html and "still open (censored)" in html
    assert 'data-figure="residuals"' in html


def test_web_api_predicts_fix_time(trained) -> None:
    from bugsift.settings import Settings
    from bugsift.store.db import open_database
    from bugsift.web import accounts
    from bugsift.web.app import create_app

    settings = Settings(home=trained[2] / "home")
    database = open_database(settings)
    with database.session() as session:
        user = accounts.create_user(session, "bot", "correct horse battery", "triager")
        token = accounts.create_token(session, user, "ci", ("predict",))[1]
    client = create_app(settings, database=database, TESTING=True).test_client()
    response = client.post(
        "/api/v1/predict/fix-time",
        json={"id": "7", "title": "Crash when opening a tab", "description": "Steps: open a tab. Crash."},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    answer = response.json
    assert answer["id"] == "7" and answer["unit"] == "days"
    assert answer["interval"]["low"] <= answer["prediction"] <= answer["interval"]["high"]
    assert answer["model_version"].startswith("fix-time:")
    database.dispose()
