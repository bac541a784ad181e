"""Webhook deliveries already handled: a redelivery (or a replay) of a known id gets the stored answer.

A delivery is claimed by inserting its row (status `PENDING`) before anything is stored or queued; the
unique (source, delivery_id) constraint makes one of two concurrent deliveries of the same id the
owner, and the other learns of it from the IntegrityError. The owner records its answer when done, or
deletes the claim when handling failed (so that a redelivery may try again). A claim still pending after
`STALE_AFTER` (its process died) is taken over. Rows older than `KEEP_DAYS` are pruned whenever a new
delivery is claimed (GitHub redelivers for a few days at most).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from bugsift.store.db import Database
from bugsift.store.models import utcnow
from bugsift.store.web_tables import WebhookDeliveryRow

KEEP_DAYS = 30
"""Deliveries are remembered this long (GitHub lets a delivery be redelivered for 3 days)."""
STALE_AFTER = timedelta(minutes=5)
"""A claim still pending this long belongs to a handler that died: the next delivery takes it over."""
PENDING = 0
"""Status of a claimed delivery whose answer is not known yet."""
MAX_ID_CHARS = 100
"""Longest delivery id kept (GitHub's are 36-character GUIDs)."""


@dataclass
class Claim:
    """The outcome of `claim`: ours to handle (``row_id``), or known already (``status``, ``answer``)."""

    row_id: int | None = None
    status: int = PENDING
    answer: dict[str, Any] | None = None


def claim(database: Database, source: str, delivery_id: str) -> Claim:
    """Claim a delivery for handling, or return the known one (a replay, or one being handled)."""
    for _ in range(3):  # the known row may be released between our insert and our read
        row_id = _insert(database, source, delivery_id)
        if row_id is not None:
            return Claim(row_id)
        known = _known(database, source, delivery_id)
        if known is not None:
            return known
    raise RuntimeError(f"delivery {delivery_id!r} of {source} could not be claimed")


def _insert(database: Database, source: str, delivery_id: str) -> int | None:
    now = utcnow()
    try:
        with database.session() as session:
            session.execute(
                delete(WebhookDeliveryRow).where(
                    WebhookDeliveryRow.received_at < now - timedelta(days=KEEP_DAYS)
                )
            )
            row = WebhookDeliveryRow(
                source=source, delivery_id=delivery_id, received_at=now, status=PENDING, answer={}
            )
            session.add(row)
            session.flush()
            return row.id
    except IntegrityError:  # known already, or claimed by a concurrent delivery of the same id
        return None


def _known(database: Database, source: str, delivery_id: str) -> Claim | None:
    with database.session() as session:
        row = session.scalar(
            select(WebhookDeliveryRow).where(
                WebhookDeliveryRow.source == source, WebhookDeliveryRow.delivery_id == delivery_id
            )
        )
        if row is None:
            return None
        cutoff = utcnow() - STALE_AFTER
        if row.status == PENDING and row.received_at < cutoff:
            taken = session.execute(  # compare-and-set: one of several late deliveries takes it over
                update(WebhookDeliveryRow)
                .where(
                    WebhookDeliveryRow.id == row.id,
                    WebhookDeliveryRow.status == PENDING,
                    WebhookDeliveryRow.received_at < cutoff,
                )
                .values(received_at=utcnow())
                .execution_options(synchronize_session=False)
            ).rowcount
            if taken == 1:
                return Claim(row.id)
        return Claim(None, row.status, dict(row.answer or {}))


def finish(database: Database, row_id: int, status: int, answer: dict[str, Any]) -> None:
    """Record the answer of a claimed delivery (what a replay of it will get)."""
    with database.session() as session:
        session.execute(
            update(WebhookDeliveryRow)
            .where(WebhookDeliveryRow.id == row_id)
            .values(status=status, answer=answer)
            .execution_options(synchronize_session=False)
        )


def release(database: Database, row_id: int) -> None:
    """Forget a claim whose handling failed, so that a redelivery is handled afresh."""
    with database.session() as session:
        session.execute(delete(WebhookDeliveryRow).where(WebhookDeliveryRow.id == row_id))
