"""The ``encode`` job: encode stored reports ahead of training (`bugsift.learn.encode_ahead`).

The sync job queues one after a cycle that changed reports when ``BUGSIFT_EMBEDDINGS=on``; it can also
be submitted by hand (``bugsift jobs submit encode --arg tracker=jira``). A job stopped midway resumes where
it stopped: every encoded chunk is already on disk.
"""

from __future__ import annotations

from typing import Any

from bugsift.jobs.args import ArgSpec
from bugsift.jobs.core import JobContext
from bugsift.learn.encode_ahead import EncodeSummary, check_can_encode, encode_reports

ARGS = {"tracker": ArgSpec("str"), "project": ArgSpec("str")}
"""What `encode` takes (checked on submit, `bugsift.jobs.args`)."""


def encode(context: JobContext, tracker: str | None = None, project: str | None = None) -> dict[str, Any]:
    """Encode the stored reports of ``tracker`` / ``project`` (all when None) not encoded yet."""
    check_can_encode(context.settings.embeddings)

    def progress(summary: EncodeSummary, total: int) -> None:
        context.progress(done=summary.reports, total=total)

    summary = encode_reports(context.database, tracker, project, on_progress=progress)
    context.log(summary.text())
    return {"reports": summary.reports, "cached": summary.cached, "encoded": summary.encoded}
