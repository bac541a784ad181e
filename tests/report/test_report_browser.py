"""Open the reports in headless Chromium (the system's, through Playwright): every figure must render.

Skips when Playwright or /usr/bin/chromium is missing, except under CI=true, where that fails loudly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bugsift.report import expected_figures, write_report


def _check(browser: Any, path: Path, figures: list[str]) -> None:
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(path.as_uri(), wait_until="load")
    images = page.evaluate(
        "Array.from(document.images).map(i => ({alt: i.alt, complete: i.complete, width: i.naturalWidth,"
        " figure: i.closest('figure') && i.closest('figure').dataset.figure}))"
    )
    page.close()
    assert [i["figure"] for i in images] == figures
    broken = [i["alt"] for i in images if not (i["complete"] and i["width"] > 0)]
    assert not broken, f"figures that did not render: {broken}"
    assert all(url.startswith(("file:", "data:")) for url in requests), requests
    assert not errors, errors


@pytest.mark.slow
def test_report_figures_render_in_chromium(
    browser: Any, defect_eval: dict, component_eval: dict, files_eval: dict, tmp_path: Path
) -> None:
    for task, evaluation in (("defect", defect_eval), ("component", component_eval), ("files", files_eval)):
        path = write_report(evaluation, tmp_path / f"{task}.html", task)
        _check(browser, path, expected_figures(evaluation, task))
