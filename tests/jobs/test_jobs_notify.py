"""Notifications through a real local SMTP server (aiosmtpd): one mail per confident prediction of a
subscribed value, digests, and no second mail when a failed notify job is retried."""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from jobs_support import job_settings
from sqlalchemy import select

from bugsift.jobs.core import JobContext, database_for, get_job, run_job, submit
from bugsift.jobs.notify import subscribe
from bugsift.store.job_tables import JobRow, OutboxRow
from bugsift.store.models import ReportRow


class Inbox:
    """aiosmtpd handler keeping delivered messages; refuses (451) once when ``refuse_at`` are delivered."""

    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []
        self.refuse_at: int | None = None

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.refuse_at == len(self.messages):
            self.refuse_at = None
            return "451 try again later"
        message = email.message_from_bytes(envelope.content)
        message["X-Rcpt"] = ",".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def crash_report_count(settings) -> int:
    with database_for(settings).session() as session:
        titles = session.scalars(select(ReportRow.title))
        return sum("crash" in t.lower() for t in titles)


def run_pending(settings) -> None:
    with database_for(settings).session() as session:
        ids = session.scalars(select(JobRow.id).where(JobRow.state == "queued").order_by(JobRow.id)).all()
    for job_id in ids:
        run_job(job_id, settings)


def test_subscribers_get_one_mail_per_confident_prediction_even_when_retried(job_home: Path, smtp) -> None:
    inbox, port = smtp
    settings = job_settings(job_home, smtp_host="127.0.0.1", smtp_port=port, mail_from="triage@example.org")
    context = JobContext.standalone(settings)
    subscribe(context, "dev@example.org", "stub", "crash")
    subscribe(context, "boss@example.org", "stub", "crash", digest=True)
    subscribe(context, "nobody@example.org", "stub", "other")  # only ever uncertain: never mailed
    crashes = crash_report_count(settings)
    assert crashes >= 3
    classify_id = submit("classify", settings, task="stub", notify=True)
    assert run_job(classify_id, settings).state == "done"
    assert get_job(database_for(settings), classify_id).result["notifications"] == 2 * crashes
    with database_for(settings).session() as session:
        notify_id = session.scalar(select(JobRow.id).where(JobRow.task == "notify"))
    assert inbox.messages == []  # mail goes out from the notify job only
    # First attempt: two mails go out, then the server refuses one -> the job is retried.
    sent_before_failure = inbox.refuse_at = 2
    assert run_job(notify_id, settings).state == "retry"
    assert len(inbox.messages) == sent_before_failure
    assert run_job(notify_id, settings).state == "done"
    per_report = [m for m in inbox.messages if m["X-Rcpt"] == "dev@example.org"]
    digests = [m for m in inbox.messages if m["X-Rcpt"] == "boss@example.org"]
    assert len(per_report) == crashes and len(digests) == 1
    assert len({m["Message-ID"] for m in per_report}) == crashes  # no duplicates
    assert "predicted stub = crash" in per_report[0].get_payload(decode=True).decode()
    assert digests[0].get_payload(decode=True).decode().count("predicted stub = crash") == crashes
    assert all(m["From"] == "triage@example.org" for m in inbox.messages)
    assert not [m for m in inbox.messages if m["X-Rcpt"] == "nobody@example.org"]
    # Nothing pending: running notify again, or classifying again, sends nothing more.
    total = len(inbox.messages)
    run_job(submit("notify", settings), settings)
    run_job(submit("classify", settings, task="stub", notify=True), settings)
    run_pending(settings)
    assert len(inbox.messages) == total
    with database_for(settings).session() as session:
        states = session.scalars(select(OutboxRow.state)).all()
    assert len(states) == 2 * crashes and set(states) == {"sent"}
