"""Every page at 1280 px and at 390 px (a phone) in the system Chromium, logged in as a triager: no
sideways scrolling at either width, no console error, and no leftover internals in what a person reads
(feature ids, raw label values, registry keys, a stray None or nan).

The store holds real Mozilla bugs labelled by the `classify` job (probabilities and reasons stored), a
component answer on each (its real Product::Component: a dozen long names, so the dashboard's drift
table has a column for each), a report filed through the form in the browser and one decided report.
With BUGSIFT_SCREENSHOTS=DIR (e.g. docs/screenshots) each page is also saved there as
``<page>-<width>.png`` (the viewport only).
Skips without Playwright or /usr/bin/chromium, except under CI=true (see `browser` in tests/conftest.py).
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bugsift.jobs.classify import classify
from bugsift.jobs.core import JobContext
from bugsift.settings import Settings
from bugsift.sources import read_reports
from bugsift.sources.base import Report
from bugsift.store.labels import ModelAnswer, upsert_model_answers
from bugsift.store.models import LabelRow, ModelRow, ReportRow
from bugsift.store.reports import upsert_reports
from bugsift.web.names import VALUE_WORDS
from bugsift.web.queue import record_human_label

from .conftest import PASSWORD, Web
from .test_web_browser import server  # noqa: F401 (the waitress fixture)

WIDTHS = {1280: 800, 390: 844}
"""Viewport width -> height: a laptop and a phone (iPhone 12-15)."""

LEFTOVERS = {
    "a feature id": re.compile(r"\b(field|title|text|word|chars|comments|emb):\S"),
    "a raw label value": re.compile(r"\b(" + "|".join(v for v in VALUE_WORDS if "_" in v) + r")\b"),
    "a registry key": re.compile(r"\b[a-z_]+:[\w.-]*:(filing|backlog):v\d+\b"),
    "a stray None or nan": re.compile(r"\b(None|nan|NaN|undefined)\b"),
}
"""What must never be read on a page outside the reporters' own text."""

# The page's text without what reporters and trackers wrote (titles, descriptions: they may say
# anything, "None" included) or what a person is meant to type as it is (<code>: commands).
VISIBLE_TEXT = """() => {
  const body = document.body.cloneNode(true);
  body.querySelectorAll("pre, code, .usertext, script, style, textarea").forEach((n) => n.remove());
  return body.textContent.replace(/\\s+/g, " ");
}"""
OVERFLOW = "() => [document.documentElement.scrollWidth, window.innerWidth]"


@dataclass
class Visit:
    """One browser context at one width: what it saw, console errors included."""

    base: str
    width: int
    page: Any
    errors: list[str] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)

    def check(
        self, name: str, path: str | None = None, allow: tuple[str, ...] = (), status: int = 200
    ) -> None:
        """Open ``path`` (or stay), then assert the page fits, reads clean (but for the leftovers named in
        ``allow``) and logged no error (but the browser's own line for a page answered with ``status``)."""
        if path is not None:
            response = self.page.goto(self.base + path)
            assert response is not None and response.status == status, (name, response and response.status)
            own = f"the server responded with a status of {status}"
            self.errors[:] = [e for e in self.errors if status == 200 or own not in e]
        self.page.wait_for_load_state("load")
        scroll, inner = self.page.evaluate(OVERFLOW)
        assert scroll <= inner + 1, f"{name} at {self.width} px scrolls sideways: {scroll} > {inner}"
        text = self.page.evaluate(VISIBLE_TEXT)
        for what, pattern in LEFTOVERS.items():
            if what in allow:
                continue
            found = pattern.search(text)
            assert found is None, f"{name} at {self.width} px shows {what}: …{_around(text, found)}…"
        assert not self.errors, f"{name} at {self.width} px: console errors {self.errors}"
        _screenshot(self.page, name, self.width)
        self.seen.append(name)


def _around(text: str, found: re.Match[str] | None) -> str:
    return text[max(0, found.start() - 60) : found.end() + 60] if found else ""


def _screenshot(page: Any, name: str, width: int) -> None:
    """Save the viewport as a small PNG (256 colours at most) when BUGSIFT_SCREENSHOTS names a folder."""
    folder = os.environ.get("BUGSIFT_SCREENSHOTS")
    if not folder:
        return
    from PIL import Image

    image = Image.open(io.BytesIO(page.screenshot(full_page=False))).convert("RGB")
    path = Path(folder) / f"{name}-{width}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, "PNG", optimize=True)


@pytest.fixture
def stocked(web: Web, settings: Settings, shared_data: Path) -> Iterator[dict[str, int]]:
    """Real Mozilla bugs classified by the job, one of them decided by a triager; their row ids."""
    path = shared_data / "bugzilla-mozilla" / "bugs_compact_labeled.jsonl"
    reports = sorted(
        (r for r in read_reports("bugzilla", path) if isinstance(r, Report)), key=lambda r: r.created_at
    )[300:312]
    with web.database.session() as session:
        upsert_reports(session, reports)
    classify(JobContext(settings=settings, database=web.database), task="defect")
    with web.database.session() as session:
        ids = list(session.scalars(select(ReportRow.id).where(ReportRow.tracker == "bugzilla")))
        rows = session.scalars(select(ReportRow).where(ReportRow.id.in_(ids))).all()
        components = [
            ModelAnswer(r.id, "component", f"{r.product}::{r.component}", 0.5, False, None) for r in rows
        ]
        assert len({a.value for a in components}) >= 8, "the drift table needs many columns"
        upsert_model_answers(session, components, "component:test")
        decided, waiting = ids[0], ids[1]
        label = session.scalars(
            select(LabelRow).where(
                LabelRow.report_id == decided, LabelRow.source == "model", LabelRow.name == "defect"
            )
        ).one()
        other = "not_defect" if label.value == "defect" else "defect"
        record_human_label(session, decided, "defect", other, "triager", "correct")
        model_id = session.scalars(select(ModelRow.id)).one()
    yield {"decided": decided, "waiting": waiting, "model": model_id}


def _file_a_report(visit: Visit) -> None:
    """Type a report on the form, wait for the suggestions, check the form with them, then submit."""
    page = visit.page
    page.fill("#title", "Firefox freezes when a second monitor is plugged in")
    page.locator("#description").press_sequentially("The whole window stops drawing; no crash.", delay=5)
    page.locator('.suggestion[data-task="defect"]').wait_for(timeout=15_000)
    visit.check("form-suggestions")
    page.click("#submit")
    page.wait_for_selector("#reference")
    visit.check("stored")


def _log_in(visit: Visit) -> None:
    visit.check("login", "/login")
    visit.page.fill("#username", "triager")
    visit.page.fill("#password", PASSWORD)
    visit.page.click("#submit")
    visit.page.wait_for_load_state("load")


@pytest.mark.slow
@pytest.mark.parametrize("width", list(WIDTHS))
def test_every_page_fits_and_reads_clean(
    browser: Any,
    server: str,  # noqa: F811 (the fixture imported above)
    stocked: dict[str, int],
    width: int,
) -> None:
    context = browser.new_context(viewport={"width": width, "height": WIDTHS[width]})
    page = context.new_page()
    visit = Visit(server, width, page)
    page.on("console", lambda m: visit.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: visit.errors.append(str(e)))
    try:
        visit.check("form", "/")
        _file_a_report(visit)
        _log_in(visit)
        visit.check("triage", "/triage/")
        visit.check("triage-report", f"/triage/report/{stocked['waiting']}")
        visit.check("triage-history", f"/triage/report/{stocked['decided']}")
        visit.check("decided", "/triage/?state=decided")
        visit.check("dashboard", "/dashboard/")
        visit.check("model-report", f"/dashboard/models/{stocked['model']}/report")
        visit.check("logout", "/logout")
        visit.check("not-found", "/triage/report/999999", status=404)
    finally:
        context.close()
    assert len(visit.seen) == 12
