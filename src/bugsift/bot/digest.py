"""The bot's daily digest: what it did, what a person undid, and what it only suggests (for people to
decide), over a period; mailed through the notification SMTP settings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import select

from bugsift.bot.log import live_precision
from bugsift.bot.rules import Rule
from bugsift.settings import Settings
from bugsift.store.db import Database
from bugsift.store.models import BotActionRow, ReportRow

SUGGESTIONS_SHOWN = 30  # per rule: a digest longer than this is not read


def digest_text(database: Database, rules: Sequence[Rule], hours: float = 24.0) -> tuple[str, str]:
    """(subject, body) of the digest over the last ``hours``."""
    since = datetime.now(UTC) - timedelta(hours=hours)
    sections: list[str] = []
    done_total = suggested_total = 0
    with database.session() as session:
        for rule in rules:
            rows = session.execute(
                select(BotActionRow, ReportRow.title)
                .join(ReportRow, ReportRow.id == BotActionRow.report_id)
                .where(BotActionRow.rule == rule.name, BotActionRow.updated_at >= since)
                .order_by(BotActionRow.probability.desc())
            ).all()
            done = [(a, t) for a, t in rows if a.state == "done"]
            reverted = [(a, t) for a, t in rows if a.state in ("reverted", "undone")]
            suggested = [(a, t) for a, t in rows if a.state == "suggest"]
            done_total += len(done)
            suggested_total += len(suggested)
            lines = [f"Rule {rule.name} ({rule.task} -> {rule.action} on {rule.tracker})"]
            lines += [f"  done: {_line(a, t)}" for a, t in done]
            lines += [f"  reverted or undone: {_line(a, t)}  [{a.reason}]" for a, t in reverted]
            lines += [f"  suggested: {_line(a, t)}  [{a.reason}]" for a, t in suggested[:SUGGESTIONS_SHOWN]]
            if len(suggested) > SUGGESTIONS_SHOWN:
                lines.append(
                    f"  ... and {len(suggested) - SUGGESTIONS_SHOWN} more suggestions (bugsift bot log)"
                )
            if len(lines) == 1:
                lines.append("  nothing in this period")
            sections.append("\n".join(lines))
    figures = "\n".join(f.text() for f in live_precision(database, rules))
    subject = f"[bugsift bot] {done_total} done, {suggested_total} suggested in the last {hours:g} h"
    return subject, "\n\n".join([*sections, figures]) + "\n"


def _line(action: BotActionRow, title: str) -> str:
    return (
        f"{action.tracker} {action.external_id} {title[:80]!r}: {action.field} -> {action.new_value} "
        f"(p={action.probability or 0:.2f})"
    )


def send_digest(settings: Settings, subject: str, body: str) -> list[str]:
    """Mail the digest to ``bot_digest_to``; returns the addresses."""
    from bugsift.jobs.notify import connect_smtp

    addresses = [a.strip() for a in (settings.bot_digest_to or "").split(",") if a.strip()]
    if not addresses:
        raise ValueError("no addresses: set BUGSIFT_BOT_DIGEST_TO")
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = ", ".join(addresses)
    message["Subject"] = subject
    message.set_content(body)
    smtp = connect_smtp(settings)
    try:
        smtp.send_message(message)
    finally:
        smtp.quit()
    return addresses
