"""Note on a detection when its box was clipped to the camera frame.

Trackers predict boxes reaching a few pixels past the frame's edge. Such a box is now stored clipped to the
frame (``bbox``) instead of being refused, and the box as posted is kept in ``bbox_clipped_from``; NULL when
nothing was clipped (every row stored before this revision).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.add_column("detections", sa.Column("bbox_clipped_from", JSON_DOC, nullable=True))


def downgrade() -> None:
    op.drop_column("detections", "bbox_clipped_from")
