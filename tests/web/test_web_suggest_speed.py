"""What makes suggest fast, kept correct: concurrent requests predicted in one batch give the same answers
as one at a time, one bad report does not fail its batch, and the cache answers repeated text only for
the models that made the answer."""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from bugsift.sources.base import Report
from bugsift.web import suggest
from bugsift.web.batcher import MicroBatcher
from bugsift.web.extensions import predictors, suggestion_cache

from .conftest import Web, csrf_token, register

TEXTS = [
    ("Crash when opening preferences", "Firefox segfaults in nsPrefWindow on startup."),
    ("Add a setting to hide the toolbar", "It would be nice to have an option for this."),
    ("Page renders blank after update", "Since the last nightly the page is white."),
    ("Typo in the about dialog", "It says Mozzila."),
]


def _reports(n: int) -> list[Report]:
    return [
        suggest.parse_report({"title": t, "description": f"{d} ({i})"})
        for i, (t, d) in enumerate(TEXTS * (n // len(TEXTS)))
    ]


def test_batched_predictions_equal_one_at_a_time(web: Web) -> None:
    with web.app.app_context():
        loaded = predictors().get("defect")
    assert loaded is not None
    reports = _reports(16)
    alone = [loaded.predictor.predict([r], 3)[0] for r in reports]
    batcher = MicroBatcher(loaded.predictor.predict, name="test")
    futures = [batcher.submit(r, 3) for r in reports]  # queued faster than one prediction takes
    assert [f.result(30) for f in futures] == alone
    assert batcher.reports == 16 and batcher.batches < 16
    with ThreadPoolExecutor(8) as pool:  # and from many threads, as waitress calls it
        assert list(pool.map(lambda r: batcher.predict(r, 3), reports)) == alone


def test_one_bad_report_does_not_fail_its_batch(web: Web) -> None:
    with web.app.app_context():
        loaded = predictors().get("defect")
    assert loaded is not None

    def picky(reports: Sequence[Report], top_k: int) -> list[dict[str, Any]]:
        if any(r.title == "bad" for r in reports):
            raise ValueError("cannot read a bad report")
        return loaded.predictor.predict(reports, top_k)

    batcher = MicroBatcher(picky, name="picky")
    reports = _reports(4)
    reports.insert(2, suggest.parse_report({"title": "bad"}))
    futures = [batcher.submit(r, 3) for r in reports]
    with pytest.raises(ValueError, match="bad report"):
        futures[2].result(30)
    good = [f.result(30) for i, f in enumerate(futures) if i != 2]
    assert [g["prediction"] for g in good] == [
        loaded.predictor.predict([r], 3)[0]["prediction"] for r in reports if r.title != "bad"
    ]


def test_repeated_text_is_answered_from_the_cache_until_the_model_changes(
    web: Web, defect_model: dict
) -> None:
    headers = {"X-CSRFToken": csrf_token(web.client)}
    body = {"title": "Crash on print", "description": "Printing a page\r\ncrashes the browser."}
    first = web.client.post("/suggest", json=body, headers=headers)
    assert first.status_code == 200
    with web.app.app_context():
        cache = suggestion_cache()
        assert (cache.hits, cache.misses, len(cache)) == (0, 1, 1)
        # the same text (a textarea's CRLF or a script's LF, spaces around it) comes from memory
        again = {**body, "description": " Printing a page\ncrashes the browser. "}
        assert web.client.post("/suggest", json=again, headers=headers).json == first.json
        assert cache.hits == 1
        web.client.post("/suggest", json={**body, "title": "Crash on printing"}, headers=headers)
        assert (cache.hits, cache.misses) == (1, 2)
        # a new version of the model: its own answers, not the old model's from the cache
        register(web.database, {**defect_model, "version": 2})
        predictors().invalidate()
        newer = web.client.post("/suggest", json=body, headers=headers).json
        assert newer["defect"]["model_version"] == "defect:is_bug_derived:filing:v2"
        assert (cache.hits, cache.misses) == (1, 3)


def test_an_idle_batcher_thread_ends_and_comes_back(monkeypatch: pytest.MonkeyPatch) -> None:
    import bugsift.web.batcher as batcher_module

    monkeypatch.setattr(batcher_module, "IDLE_EXIT_S", 0.05)
    batcher = MicroBatcher(lambda reports, k: [{"id": r.external_id, "k": k} for r in reports])
    report = suggest.parse_report({"id": "a", "title": "Crash"})
    assert batcher.predict(report, 3) == {"id": "a", "k": 3}
    deadline = time.monotonic() + 5
    while batcher._thread is not None:
        assert time.monotonic() < deadline, "the idle thread did not end"
        time.sleep(0.01)
    assert batcher.predict(report, 2) == {"id": "a", "k": 2}
