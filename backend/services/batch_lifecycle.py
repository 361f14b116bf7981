"""Every change of a batch's status, in one place: ``open -> closed -> analyzed``, or ``closed -> failed``.

* ``close`` (the batcher): still-open batches become ``closed`` with a delivery lease (``next_retry_at`` =
  now + lease); one closer wins (a conditional UPDATE), and on PostgreSQL the rows are locked in id order
  first, as the ingest's upsert does, so the two never deadlock. Batches without detections (a rolled-back
  ingest) go straight to ``analyzed``.
* ``start_delivery`` (the dispatcher, when an analysis slot is free): renews the lease of a batch still
  waiting for its event; False when another delivery stored it already, so a batch that waited for a slot
  past its lease is neither analyzed nor announced twice.
* ``mark_analyzed`` (the dispatcher, with the event stored): ``closed``/``failed`` -> ``analyzed``.
* ``claim_undelivered`` (the retry loop): closed batches past their lease, each claimed for one caller
  (attempts + 1, a new lease); the ``max_attempts``-th claim without an event marks it ``failed``.

The statuses are ``backend.models.BatchStatus``. Functions take the caller's session and do not commit,
except where a docstring says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from backend.db.session import rows_affected
from backend.models import Batch, BatchStatus, Detection


async def close(
    session: AsyncSession, batch_ids: Sequence[str], now: datetime, lease: timedelta
) -> dict[str, list[int]]:
    """Closes those of ``batch_ids`` still open; returns each closed batch's detection ids in time order (an
    empty list: the batch had none and is ``analyzed`` already). The caller commits."""
    ids = sorted(set(batch_ids))
    if not ids:
        return {}
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(Batch.id).where(Batch.id.in_(ids)).order_by(Batch.id).with_for_update())
    closed = sorted(
        (
            await session.scalars(
                update(Batch)
                .where(Batch.id.in_(ids), Batch.status == BatchStatus.OPEN)
                .values(status=BatchStatus.CLOSED, closed_at=now, next_retry_at=now + lease)
                .returning(Batch.id)
                .execution_options(synchronize_session=False)
            )
        ).all()
    )
    pks: dict[str, list[int]] = {batch_id: [] for batch_id in closed}
    if closed:
        rows = await session.execute(
            select(Detection.batch_id, Detection.id)
            .where(Detection.batch_id.in_(closed))
            .order_by(Detection.detected_at, Detection.id)
        )
        for owner, pk in rows:
            pks[cast(str, owner)].append(pk)
    empty = [batch_id for batch_id, detections in pks.items() if not detections]
    if empty:
        await session.execute(
            update(Batch).where(Batch.id.in_(empty)).values(status=BatchStatus.ANALYZED, next_retry_at=None)
        )
    return pks


async def start_delivery(session: AsyncSession, batch_id: str, now: datetime, lease: timedelta) -> bool:
    """True (and a fresh lease, committed) if the batch still waits for its event, or has no row (a caller's
    own grouping); False if it is analyzed already or still open. A ``failed`` batch is on its last delivery
    (``claim_undelivered``) and goes too."""
    changed = await rows_affected(
        session,
        update(Batch)
        .where(Batch.id == batch_id, Batch.status.in_([BatchStatus.CLOSED, BatchStatus.FAILED]))
        .values(next_retry_at=now + lease)
        .execution_options(synchronize_session=False),
    )
    await session.commit()
    if changed == 1:
        return True
    return await session.scalar(select(Batch.status).where(Batch.id == batch_id)) is None


def mark_analyzed(session: Session, batch_id: str) -> None:
    """The batch has its event (assessed or not): no more deliveries. The caller commits."""
    session.execute(
        update(Batch)
        .where(Batch.id == batch_id, Batch.status.in_([BatchStatus.CLOSED, BatchStatus.FAILED]))
        .values(status=BatchStatus.ANALYZED, next_retry_at=None)
    )


async def claim_undelivered(
    session: AsyncSession,
    now: datetime,
    lease: timedelta,
    max_attempts: int,
    *,
    limit: int = 100,
    exclude: frozenset[str] = frozenset(),
) -> list[tuple[str, str]]:
    """(batch_id, camera_id) of closed batches past their lease, oldest first, each claimed for this caller
    (attempts + 1, a new lease; ``failed`` at the ``max_attempts``-th claim). ``exclude``: batches the caller
    still holds (queued for a slot), never claimed again. Commits."""
    due = (
        await session.execute(
            select(Batch.id, Batch.camera_id, Batch.attempts, Batch.next_retry_at)
            .where(Batch.status == BatchStatus.CLOSED, Batch.next_retry_at <= now, Batch.id.not_in(exclude))
            .order_by(Batch.opened_at, Batch.id)
            .limit(limit)
        )
    ).all()
    claimed: list[tuple[str, str]] = []
    for batch_id, camera_id, attempts, retry_at in due:
        give_up = attempts + 1 >= max_attempts
        changed = await rows_affected(
            session,
            update(Batch)
            .where(Batch.id == batch_id, Batch.status == BatchStatus.CLOSED, Batch.next_retry_at == retry_at)
            .values(
                attempts=attempts + 1,
                status=BatchStatus.FAILED if give_up else BatchStatus.CLOSED,
                next_retry_at=None if give_up else now + lease,
            ),
        )
        if changed == 1:
            claimed.append((batch_id, camera_id))
    await session.commit()
    return claimed
