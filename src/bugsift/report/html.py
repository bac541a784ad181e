"""Render a report's content as one self-contained HTML file: inline CSS, figures as base64 PNGs.

Autoescaping is on for everything: report titles are user text (they contain HTML and scripts on purpose
in some trackers) and must be shown, never run. A Content-Security-Policy meta tag forbids scripts and any
network request, so the file stays inert and offline even if something slipped through.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version

from jinja2 import Environment, PackageLoader, select_autoescape

from bugsift.report.content import ReportContent
from bugsift.web.names import value_words

_ENV: Environment | None = None
REPORT_FORMAT = 3
"""Raised when what a report shows changes (2: classes in words; 3: how the model was chosen), so that
kept copies are drawn again."""
FORMAT_MARK = f'<meta name="bugsift-report-format" content="{REPORT_FORMAT}">'


def environment() -> Environment:
    global _ENV
    if _ENV is None:
        _ENV = Environment(
            loader=PackageLoader("bugsift.report", "templates"),
            autoescape=select_autoescape(["html", "j2"], default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        _ENV.filters["value_words"] = value_words  # a class as a person reads it ("Not a defect")
    return _ENV


def _version() -> str:
    try:
        return package_version("bugsift")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "dev"


def render_html(content: ReportContent, generated: datetime | None = None) -> str:
    """The report as one HTML document (draws every figure)."""
    images = {f.id: base64.b64encode(f.draw()).decode("ascii") for s in content.sections for f in s.figures}
    when = (generated or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    return (
        environment()
        .get_template("report.html.j2")
        .render(report=content, images=images, generated=when, version=_version(), format_mark=FORMAT_MARK)
    )
