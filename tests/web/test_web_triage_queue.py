"""The triage queue people work from: every undecided report (imported, synced or filed), filters,
search, paging, the Decided tab with each report's history, and the tracker's own ids."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bugsift.jobs.classify import store_model_labels as classify_labels
from bugsift.sources.base import Report
from bugsift.store.models import ReportRow
from bugsift.store.reports import upsert_reports
from bugsift.web.suggest import store_model_labels as web_labels

from .conftest import Web, csrf_token, login

VERSION = "defect:is_bug:filing:v3"
T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def _jira(n: int, title: str, **fields: object) -> Report:
    return Report(
        tracker="jira",
        project="HADOOP",
        external_id=f"HADOOP-{n}",
        title=title,
        description=f"Description of HADOOP-{n}.",
        created_at=T0 + timedelta(days=n),
        reporter=f"reporter{n}",
        components=["fs"],
        extra={"versions": ["0.20.1"]},
        **fields,  # type: ignore[arg-type]
    )


def _store(web: Web, reports: list[Report]) -> dict[str, int]:
    """Store reports; returns external id -> row id."""
    with web.database.session() as session:
        upsert_reports(session, reports)
        return {
            e: i
            for e, i in session.execute(
                select(ReportRow.external_id, ReportRow.id).where(
                    ReportRow.external_id.in_([r.external_id for r in reports])
                )
            )
        }


def _imported(web: Web) -> dict[str, int]:
    """Three imported Jira reports labelled by the classify job (a value and a model version only)."""
    ids = _store(
        web,
        [
            _jira(1, "NullPointerException in DFSClient"),
            _jira(2, "Add a retry option to distcp"),
            _jira(3, "Typo in the docs of FsShell"),
        ],
    )
    values = {"HADOOP-1": "defect", "HADOOP-2": "not_defect", "HADOOP-3": "not_defect"}
    with web.database.session() as session:
        classify_labels(session, [(ids[e], v) for e, v in values.items()], "defect", VERSION)
    return ids


def _filed(web: Web, n: int, probability: float, uncertain: bool, title: str) -> int:
    """A web report as the form stores it: its suggestion (probability, reasons) kept in extra."""
    suggestion = {
        "prediction": "defect",
        "probability": probability,
        "uncertain": uncertain,
        "candidates": [{"label": "defect", "probability": probability}, {"label": "not_defect"}],
        "explanation": [{"text": "crash", "weight": 0.5, "kind": "word"}, "title: printing"],
        "model_version": VERSION,
    }
    report = Report(
        tracker="web",
        external_id=f"ref{n:013d}",
        title=title,
        description="It broke.",
        created_at=T0 + timedelta(days=100 + n),
        reporter="ana@example.org",
        product="Firefox",
        extra={"version": "120", "suggestions": {"defect": suggestion}},
    )
    row_id = _store(web, [report])[report.external_id]
    with web.database.session() as session:
        web_labels(session, row_id, {"defect": suggestion})
    return row_id


def _rows(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'<article class="report" id="report-(\d+)"', page)]


def _get(web: Web, path: str) -> str:
    response = web.client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def test_imported_reports_with_model_labels_are_queued_with_their_facts(web: Web) -> None:
    ids = _imported(web)
    login(web.client, "triager")
    page = _get(web, "/triage/")
    assert sorted(_rows(page)) == sorted(ids.values())
    assert _rows(page) == [ids["HADOOP-3"], ids["HADOOP-2"], ids["HADOOP-1"]]  # newest filed first
    assert '<span class="ref">jira HADOOP-1</span>' in page
    for row_id in ids.values():  # bugsift's row ids are never shown as the report's id
        assert f"#{row_id}" not in page and f">{row_id}<" not in page
    assert "product HADOOP / fs" in page and "version 0.20.1" in page
    assert "by reporter1" in page and '<time datetime="2024-03-02T12:00:00+00:00">2024-03-02</time>' in page
    assert 'Real defect? <strong data-value="defect">A defect</strong>' in page  # words, not not_defect
    assert "Real defect? (is_bug) · at filing · v3" in page and f'title="{VERSION}"' in page
    assert "Accept: A defect" in page


def test_filed_report_shows_its_reference_probability_and_reasons(web: Web) -> None:
    row_id = _filed(web, 1, 0.62, True, "Crash when printing")
    login(web.client, "triager")
    page = _get(web, "/triage/")
    assert _rows(page) == [row_id]
    assert '<span class="ref">ref0000000000001</span>' in page and "web ref" not in page
    assert '<span class="prob">62%</span>' in page and '<span class="unsure">not sure</span>' in page
    assert '<span class="reason">crash</span>' in page
    assert "title: printing" not in page  # an old answer's feature id is never shown
    assert "product Firefox" in page and "version 120" in page and "by ana@example.org" in page
    assert 'data-value="not_defect">Not a defect</button>' in page  # the other candidate, one click away


def test_reports_from_the_form_are_found_by_their_reference(web: Web) -> None:
    web.client.post(
        "/", data={"title": "Crash on print", "csrf_token": csrf_token(web.client), "submit": "1"}
    )
    with web.database.session() as session:
        row = session.scalars(select(ReportRow)).one()
        reference, row_id = row.external_id, row.id
    login(web.client, "triager")
    page = _get(web, "/triage/")
    assert _rows(page) == [row_id]
    assert f'<span class="ref">{reference}</span>' in page and f"#{row_id}" not in page


def test_filters_and_search_narrow_the_list(web: Web) -> None:
    ids = _imported(web)
    sure = _filed(web, 1, 0.91, False, "Crash when printing")
    unsure = _filed(web, 2, 0.55, True, "Toolbar flickers")
    login(web.client, "triager")
    assert set(_rows(_get(web, "/triage/"))) == {*ids.values(), sure, unsure}
    assert set(_rows(_get(web, "/triage/?tracker=web"))) == {sure, unsure}
    assert set(_rows(_get(web, "/triage/?tracker=jira"))) == set(ids.values())
    assert set(_rows(_get(web, "/triage/?product=Firefox"))) == {sure, unsure}
    assert set(_rows(_get(web, "/triage/?product=HADOOP"))) == set(ids.values())
    assert set(_rows(_get(web, "/triage/?value=not_defect"))) == {ids["HADOOP-2"], ids["HADOOP-3"]}
    assert set(_rows(_get(web, "/triage/?label=defect&value=defect"))) == {ids["HADOOP-1"], sure, unsure}
    assert _rows(_get(web, "/triage/?label=type")) == []
    assert _rows(_get(web, "/triage/?unsure=y")) == [unsure]
    assert _rows(_get(web, "/triage/?q=nullpointer")) == [ids["HADOOP-1"]]  # case-insensitive
    assert _rows(_get(web, "/triage/?q=100%25")) == []  # a % is a character, not a wildcard
    empty = _get(web, "/triage/?q=no+such+title")
    assert 'id="queue-empty"' in empty and "for these filters" in empty
    # Known probabilities first (least sure first, or most sure), the others after them by date.
    assert _rows(_get(web, "/triage/?sort=unsure"))[:2] == [unsure, sure]
    assert _rows(_get(web, "/triage/?sort=confident"))[:2] == [sure, unsure]
    assert _rows(_get(web, "/triage/?sort=oldest"))[0] == ids["HADOOP-1"]
    form = _get(web, "/triage/?tracker=jira&q=typo")
    assert "<option selected>jira</option>" in form and 'value="typo"' in form
    assert web.client.get("/triage/?page=0").status_code == 400
    assert web.client.get("/triage/?page=x").status_code == 400


def test_pages_of_fifty(web: Web) -> None:
    ids = _store(web, [_jira(n, f"Report {n}") for n in range(1, 56)])
    with web.database.session() as session:
        classify_labels(session, [(i, "defect") for i in ids.values()], "defect", VERSION)
    login(web.client, "triager")
    first = _get(web, "/triage/?tracker=jira")
    assert len(_rows(first)) == 50 and 'rel="next"' in first and 'rel="prev"' not in first
    assert "page=2" in first and "tracker=jira" in first
    second = _get(web, "/triage/?tracker=jira&page=2")
    assert len(_rows(second)) == 5 and 'rel="next"' not in second and 'rel="prev"' in second
    assert not set(_rows(first)) & set(_rows(second))
    unsure_pages = [_rows(_get(web, f"/triage/?sort=unsure&page={p}")) for p in (1, 2)]
    assert sorted(unsure_pages[0] + unsure_pages[1]) == sorted(ids.values())


def test_a_decided_report_leaves_the_queue_and_is_browsable_with_its_history(web: Web) -> None:
    ids = _imported(web)
    login(web.client, "triager")
    here = "/triage/?tracker=jira"
    token = csrf_token(web.client, here)
    decided = web.client.post(
        f"/triage/{ids['HADOOP-2']}/label",
        data={"name": "defect", "value": "defect", "action": "correct", "csrf_token": token, "next": here},
    )
    assert decided.status_code == 302 and decided.headers["Location"] == here  # back to the same filters
    page = _get(web, here)
    assert "Report jira HADOOP-2: Real defect? A defect (corrected)" in page
    assert set(_rows(page)) == {ids["HADOOP-1"], ids["HADOOP-3"]}
    recent = page.split('id="audit"')[1]  # the newest decisions, under the tracker's id
    assert "jira HADOOP-2</a>" in recent and f">{ids['HADOOP-2']}<" not in recent
    tab = _get(web, "/triage/?state=decided")
    assert f'id="decided-{ids["HADOOP-2"]}"' in tab and "jira HADOOP-2" in tab
    assert 'Real defect? <strong data-value="defect">A defect</strong>' in tab and "triager" in tab
    assert f'id="decided-{ids["HADOOP-1"]}"' not in tab
    assert "HADOOP-2" not in _get(web, "/triage/?state=decided&q=typo")
    report = _get(web, f"/triage/report/{ids['HADOOP-2']}")
    assert '<span class="ref">jira HADOOP-2</span>' in report
    history = report.split('id="audit"')[1]
    assert "<td>triager</td><td>correct</td><td>Real defect?</td>" in history
    assert "Not a defect <small>model</small>" in history
    assert "Real defect? (is_bug) · at filing · v3" in history
    assert "Waiting for a decision" not in report
    # Accepting from the report page (another label still waiting there) comes back to it.
    open_page = _get(web, f"/triage/report/{ids['HADOOP-1']}")
    assert "Waiting for a decision" in open_page and "no decisions yet" in open_page
    assert web.client.get("/triage/report/999999").status_code == 404
    assert web.client.get(f"/triage/report/{'9' * 30}").status_code == 400
    # A later decision comes first in the Decided tab.
    web.client.post(
        f"/triage/{ids['HADOOP-3']}/label",
        data={"name": "defect", "value": "not_defect", "action": "accept", "csrf_token": token},
    )
    tab = _get(web, "/triage/?state=decided")
    assert tab.index(f'id="decided-{ids["HADOOP-3"]}"') < tab.index(f'id="decided-{ids["HADOOP-2"]}"')


def test_next_only_goes_back_to_triage_pages(web: Web) -> None:
    ids = _imported(web)
    login(web.client, "triager")
    token = csrf_token(web.client, "/triage/")
    for target in ("https://evil.example/", "//evil.example/triage/", "/dashboard/"):
        answer = web.client.post(
            f"/triage/{ids['HADOOP-1']}/label",
            data={
                "name": "defect",
                "value": "defect",
                "action": "accept",
                "csrf_token": token,
                "next": target,
            },
        )
        assert answer.headers["Location"] == "/triage/"


def test_keyboard_script_and_focusable_accept(web: Web) -> None:
    _imported(web)
    login(web.client, "triager")
    page = _get(web, "/triage/")
    scripts = re.findall(r"<script[^>]*>", page)
    assert '<script src="/static/triage.js" defer>' in scripts
    assert 'tabindex="-1"' not in page and page.count('<button type="submit" class="accept"') == 3
    with web.client.get("/static/triage.js") as script:
        assert script.status_code == 200 and b'"j"' in script.data and b'"a"' in script.data


def test_viewers_cannot_open_the_queue_or_a_report(web: Web) -> None:
    ids = _imported(web)
    login(web.client, "viewer")
    assert web.client.get("/triage/?state=decided").status_code == 403
    assert web.client.get(f"/triage/report/{ids['HADOOP-1']}").status_code == 403


def test_a_bucket_among_the_candidates_gets_no_button(web: Web) -> None:
    """A folded '(other)' or Untriaged is where reports wait: no triager files a report under it."""
    suggestion = {
        "prediction": "Firefox::Toolbars",
        "probability": 0.31,
        "uncertain": True,
        "catch_all": "Firefox::Untriaged",
        "candidates": [
            {"label": "Firefox::Untriaged", "probability": 0.52, "catch_all": True},
            {"label": "Firefox::Toolbars", "probability": 0.31},
            {"label": "Firefox::(other)", "probability": 0.1, "catch_all": True},
            {"label": "Firefox::Bookmarks", "probability": 0.05},
        ],
        "explanation": [{"text": "words: *toolbar*", "weight": 0.5, "kind": "words"}],
        "model_version": "component:component:filing:v1",
    }
    report = Report(
        tracker="web",
        external_id="ref0000000000077",
        title="The bookmarks toolbar cannot be hidden",
        created_at=T0 + timedelta(days=300),
        product="Firefox",
        extra={"suggestions": {"component": suggestion}},
    )
    row_id = _store(web, [report])[report.external_id]
    with web.database.session() as session:
        web_labels(session, row_id, {"component": suggestion})
    login(web.client, "triager")
    page = _get(web, f"/triage/report/{row_id}")
    assert 'data-value="Firefox::Bookmarks"' in page  # a real runner-up, one click away
    assert 'data-value="Firefox::Untriaged"' not in page and 'data-value="Firefox::(other)"' not in page
