"""Mail the subscribers: one message per pending outbox entry, or one digest per address.

An entry is marked sent in its own transaction right after the SMTP server accepted the message, so a
job that fails half-way and is retried sends only what is still pending. (A crash in the instant
between the server's acceptance and that commit would send that one message again: mail is
at-least-once; the Message-ID is derived from the outbox ids, so it is stable across such a resend.)
"""

from __future__ import annotations

import smtplib
from collections import defaultdict
from email.message import EmailMessage
from typing import Any

from sqlalchemy import select, update

from bugsift.jobs.args import ArgSpec
from bugsift.jobs.core import JobContext
from bugsift.settings import Settings
from bugsift.store.job_tables import OutboxRow, SubscriptionRow
from bugsift.store.models import ReportRow, utcnow
from bugsift.store.upsert import insert_for

ARGS: dict[str, ArgSpec] = {}
"""`notify` takes no arguments (checked on submit, `bugsift.jobs.args`)."""


def subscribe(
    context: JobContext, email: str, field: str, value: str, digest: bool = False
) -> dict[str, Any]:
    """Add (or update) a subscription: mail ``email`` when a report is predicted ``value`` for ``field``."""
    with context.database.session() as session:
        insert = insert_for(session, SubscriptionRow)
        session.connection().execute(
            insert.on_conflict_do_update(
                index_elements=["email", "field", "value"], set_={"digest": insert.excluded.digest}
            ),
            [{"email": email, "field": field, "value": value, "digest": digest, "created_at": utcnow()}],
        )
        row_id = session.scalar(
            select(SubscriptionRow.id).where(
                SubscriptionRow.email == email, SubscriptionRow.field == field, SubscriptionRow.value == value
            )
        )
    return {"subscription": row_id}


def _line(item: OutboxRow, report: ReportRow) -> str:
    project = f"{report.project} " if report.project else ""
    return (
        f"{report.tracker} {project}{report.external_id}: {report.title}\n"
        f"  predicted {item.field} = {item.value} (p={item.probability:.2f}, model {item.model_version})"
    )


def _message(settings: Settings, to: str, subject: str, body: str, ids: list[int]) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    domain = settings.mail_from.rpartition("@")[2] or "bugsift"
    message["Message-ID"] = f"<bugsift-outbox-{'-'.join(map(str, ids))}@{domain}>"
    message.set_content(body)
    return message


def connect_smtp(settings: Settings) -> smtplib.SMTP:
    smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.http_timeout_s)
    if settings.smtp_starttls:
        smtp.starttls()
    if settings.smtp_user:
        smtp.login(settings.smtp_user, settings.smtp_password or "")
    return smtp


def notify(context: JobContext) -> dict[str, Any]:
    """Send every pending notification; digest subscribers get one message with all of theirs."""
    settings, database = context.settings, context.database
    with database.session() as session:
        pending = session.execute(
            select(OutboxRow, SubscriptionRow, ReportRow)
            .join(SubscriptionRow, OutboxRow.subscription_id == SubscriptionRow.id)
            .join(ReportRow, OutboxRow.report_id == ReportRow.id)
            .where(OutboxRow.state == "pending")
            .order_by(OutboxRow.id)
        ).all()
    mails: list[tuple[str, str, str, list[int]]] = []
    digests: dict[str, list[tuple[OutboxRow, ReportRow]]] = defaultdict(list)
    for item, subscription, report in pending:
        if subscription.digest:
            digests[subscription.email].append((item, report))
        else:
            subject = f"[bugsift] {item.field} {item.value}: {report.external_id} {report.title}"[:200]
            mails.append((subscription.email, subject, _line(item, report) + "\n", [item.id]))
    for email, items in digests.items():
        subject = f"[bugsift] {len(items)} new report(s) for your subscriptions"
        body = "\n\n".join(_line(item, report) for item, report in items) + "\n"
        mails.append((email, subject, body, [item.id for item, _ in items]))
    context.progress(total=len(mails), done=0)
    if not mails:
        return {"sent": 0}
    sent = 0
    smtp = connect_smtp(settings)
    try:
        for to, subject, body, ids in mails:
            message = _message(settings, to, subject, body, ids)
            smtp.send_message(message)
            with database.session() as session:
                session.execute(
                    update(OutboxRow)
                    .where(OutboxRow.id.in_(ids), OutboxRow.state == "pending")
                    .values(state="sent", sent_at=utcnow(), message_id=message["Message-ID"])
                )
                sent += 1
                context.progress(session, done=sent)
    finally:
        try:
            smtp.quit()
        except smtplib.SMTPException:
            smtp.close()
    context.log(f"sent {sent} message(s) for {len(pending)} notification(s)")
    return {"sent": sent, "notifications": len(pending)}
