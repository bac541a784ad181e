"""The real server (waitress on a free port) driven by the system Chromium through Playwright: type into
the form, see suggestions appear, submit, correct in the triage queue.

Skips when Playwright or /usr/bin/chromium is missing, except under CI=true, where that fails loudly.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from bugsift.settings import Settings
from bugsift.store.db import Database
from bugsift.store.models import LabelRow
from bugsift.store.web_tables import AuditRow
from bugsift.web.app import create_app

from .conftest import PASSWORD, Web, waitress_in_thread


@pytest.fixture
def server(web: Web, settings: Settings, sqlite_db: Database) -> Iterator[str]:
    """The app under waitress (the production server `bugsift serve` runs) on a free loopback port."""
    with waitress_in_thread(create_app(settings, database=sqlite_db), threads=4) as wsgi:
        yield f"http://127.0.0.1:{wsgi.effective_port}"


@pytest.mark.slow
def test_type_see_suggestions_submit_and_correct(browser: Any, server: str, sqlite_db: Database) -> None:
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.goto(server + "/")
    page.fill("#title", "Firefox crashes when opening a <script>alert(1)</script> page")
    page.locator("#description").press_sequentially("Segfault on startup after update", delay=20)
    suggestion = page.locator('.suggestion[data-task="defect"]')
    suggestion.wait_for(timeout=10_000)
    assert "%" in suggestion.inner_text()
    predicted = suggestion.locator("strong").get_attribute("data-value")  # the stored value
    words = suggestion.locator("strong").inner_text()  # what the reporter reads
    assert words == {"defect": "A defect", "not_defect": "Not a defect"}[predicted]
    starred = suggestion.locator(".reason em").all_inner_texts()  # the report's words in the reasons
    if starred:  # listed once more under the suggestions, highlighted (the textarea cannot mark them)
        assert set(starred) <= set(page.locator(".drivers mark").all_inner_texts())
    page.click("#submit")
    page.wait_for_selector("#reference")
    assert "<script>alert(1)</script>" in page.inner_text("#stored-title")  # shown as text, not run
    stored = page.inner_text("#stored-labels")
    assert words in stored and "not_defect" not in stored

    page.goto(server + "/login?next=/triage/")
    page.fill("#username", "triager")
    page.fill("#password", PASSWORD)
    page.click("#submit")
    page.wait_for_selector(".decision")
    corrected = "not_defect" if predicted == "defect" else "defect"
    page.click(f'.decision button.correct[data-value="{corrected}"]')
    page.wait_for_selector("#queue-empty")
    assert {"defect": "A defect", "not_defect": "Not a defect"}[corrected] in page.inner_text("#audit")
    page.close()
    assert not errors, errors

    with sqlite_db.session() as session:
        human = session.scalars(select(LabelRow).where(LabelRow.source == "human")).one()
        assert (human.value, human.author) == (corrected, "triager")
        audit = session.scalars(select(AuditRow)).one()
        assert (audit.old_value, audit.new_value, audit.action) == (predicted, corrected, "correct")
