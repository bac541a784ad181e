"""The words behind an answer are marked where a report's text is shown: the queue, the triage page of a
report and the stored page after the form; the form lists them under its suggestions. The report text
is hostile (``<script>``, entities, words that are also in the reasons): it is escaped, never run, and a
mark never lands inside markup."""

from __future__ import annotations

import html
import re

import pytest
from markupsafe import escape

from bugsift.web.highlight import highlight, marked, reason_words
from bugsift.web.suggest import parse_report, store_submission

from .conftest import Web, csrf_token, login

TITLE = "Freeze after <script>alert('freeze')</script> on a second-monitor"
DESCRIPTION = 'The window FREEZES, then a freeze: <b onclick="x()">second\nmonitor</b> &amp; lt script'
EXPLANATION = [
    {"text": "words: *freeze*, *second monitor*, *script*, *amp*, *lt*", "weight": 0.9, "kind": "words"},
    {"text": "filed under *Firefox*", "weight": 0.2, "kind": "product"},  # not a words reason
]
LEGEND = "the words behind the answer"


def test_reason_words_come_from_words_reasons_only() -> None:
    older = ["words: *Crash*", "words: *crash*, *tab*"]  # plain strings of answers stored before kinds
    assert reason_words(EXPLANATION, older, None) == [
        "freeze",
        "second monitor",
        "script",
        "amp",
        "lt",
        "Crash",
        "tab",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a Freeze, frozen", "a <mark>Freeze</mark>, frozen"),  # any case, whole words only
        ("freezes unfreeze", "freezes unfreeze"),
        ("second monitor, Second-Monitor", "<mark>second monitor</mark>, <mark>Second-Monitor</mark>"),
        ("<script>", "&lt;<mark>script</mark>&gt;"),  # escaped first: the mark wraps the escaped word
        ("&amp; &lt;", "&amp;<mark>amp</mark>; &amp;<mark>lt</mark>;"),  # the reporter's text, not entities
        ("<mark>x</mark>", "&lt;mark&gt;x&lt;/mark&gt;"),
        (None, ""),
    ],
)
def test_highlight_escapes_then_marks(text: str | None, expected: str) -> None:
    words = ["freeze", "second monitor", "script", "amp", "lt"]
    assert str(highlight(text, words)) == expected


def test_highlight_without_words_only_escapes() -> None:
    assert str(highlight("<i>a</i>", [])) == "&lt;i&gt;a&lt;/i&gt;"
    assert not marked(highlight("<mark>", ["x"]))  # a reporter's own <mark> is escaped: no legend


def _unmarked(page: str) -> str:
    """The page with our marks taken out: what is left must hold the report text escaped, whole."""
    return page.replace("<mark>", "").replace("</mark>", "")


def _assert_marked_and_safe(page: str) -> None:
    assert "<script>alert" not in page and "<b onclick" not in page  # never run, never markup
    assert LEGEND in page
    marks = re.findall(r"<mark>(.*?)</mark>", page, re.S)
    assert {m.lower().replace("\n", " ") for m in marks} >= {
        "freeze",
        "second-monitor",
        "second monitor",
        "script",
    }
    assert "freezes" not in {m.lower() for m in marks}
    assert str(escape(DESCRIPTION)) in _unmarked(page)  # the whole text, escaped once


def test_pages_mark_the_report_words(web: Web) -> None:
    report = parse_report({"title": TITLE, "description": DESCRIPTION, "product": "Firefox"}, "form")
    answer = {"prediction": "defect", "probability": 0.8, "model_version": "v9", "explanation": EXPLANATION}
    row_id, reference = store_submission(web.database, report, {"defect": answer})
    login(web.client, "triager")
    pages = {
        "queue": web.client.get("/triage/"),
        "report": web.client.get(f"/triage/report/{row_id}"),
        "stored": web.client.get(f"/r/{reference}"),
    }
    for name, response in pages.items():
        assert response.status_code == 200, name
        _assert_marked_and_safe(response.get_data(as_text=True))


def test_a_report_without_words_reasons_has_no_legend(web: Web) -> None:
    report = parse_report({"title": "Freeze", "description": "freeze"}, "form")
    answer = {
        "prediction": "defect",
        "probability": 0.8,
        "model_version": "v9",
        "explanation": EXPLANATION[1:],
    }
    row_id, _ = store_submission(web.database, report, {"defect": answer})
    login(web.client, "triager")
    page = web.client.get(f"/triage/report/{row_id}").get_data(as_text=True)
    assert "<mark>" not in page and LEGEND not in page


def test_the_form_lists_the_words_that_drove_the_answer(web: Web) -> None:
    body = {"title": "Firefox crashes when printing", "description": "Segfault in the print dialog"}
    answer = web.client.post("/suggest", json=body, headers={"X-CSRFToken": csrf_token(web.client)}).json
    words = answer["defect"]["report_words"]
    assert words == reason_words(answer["defect"]["explanation"])
    text = (body["title"] + " " + body["description"]).lower()
    assert all(w.lower() in text for w in words)  # the report's own words
    # the no-JavaScript preview draws the same line
    page = web.client.post("/", data={**body, "csrf_token": csrf_token(web.client), "preview": "1"})
    line = re.search(
        r'<p class="words drivers">Words that drove this: (.*?)</p>', page.get_data(as_text=True)
    )
    if words:
        assert line and [html.unescape(w) for w in re.findall(r"<mark>(.*?)</mark>", line.group(1))] == words
    else:
        assert line is None
