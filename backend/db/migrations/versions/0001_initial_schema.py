"""Initial schema: cameras, zones, household entries, batches, detections, events and their links.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INSTANT = sa.DateTime(timezone=True)  # stored as UTC (backend.models.base.UTCDateTime)
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "cameras",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("frame_width", sa.Integer(), nullable=False),
        sa.Column("frame_height", sa.Integer(), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cameras")),
    )
    op.create_table(
        "household_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.String(500), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_household_entries")),
        sa.UniqueConstraint("kind", "value", name=op.f("uq_household_entries_kind_value")),
    )
    op.create_table(
        "zones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("zone_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("zone_type", sa.String(32), nullable=False),
        sa.Column("polygon", JSON_DOC, nullable=False),
        sa.ForeignKeyConstraint(
            ["camera_id"], ["cameras.id"], name=op.f("fk_zones_camera_id_cameras"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zones")),
        sa.UniqueConstraint("camera_id", "zone_id", name=op.f("uq_zones_camera_id_zone_id")),
    )
    op.create_table(
        "batches",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("opened_at", INSTANT, nullable=False),
        sa.Column("last_detection_at", INSTANT, nullable=False),
        sa.Column("closed_at", INSTANT, nullable=True),
        sa.Column("detection_count", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_retry_at", INSTANT, nullable=True),
        sa.ForeignKeyConstraint(
            ["camera_id"], ["cameras.id"], name=op.f("fk_batches_camera_id_cameras"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batches")),
    )
    op.create_index(op.f("ix_batches_camera_id"), "batches", ["camera_id"])
    op.create_index(op.f("ix_batches_status_next_retry_at"), "batches", ["status", "next_retry_at"])
    op.create_table(
        "detections",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("detection_id", sa.String(64), nullable=False),
        sa.Column("detected_at", INSTANT, nullable=False),
        sa.Column("utc_offset_minutes", sa.SmallInteger(), nullable=False),
        sa.Column("local_weekday", sa.SmallInteger(), nullable=False),
        sa.Column("local_hour", sa.SmallInteger(), nullable=False),
        sa.Column("object_type", sa.String(64), nullable=False),
        sa.Column("confidence", sa.Double(), nullable=False),
        sa.Column("bbox", JSON_DOC, nullable=True),
        sa.Column("track_id", sa.Integer(), nullable=True),
        sa.Column("enrichment", JSON_DOC, nullable=False),
        sa.Column("batch_id", sa.String(64), nullable=True),
        sa.Column("fast_path", sa.Boolean(), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_detections_batch_id_batches"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["camera_id"], ["cameras.id"], name=op.f("fk_detections_camera_id_cameras"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_detections")),
        sa.UniqueConstraint("camera_id", "detection_id", name=op.f("uq_detections_camera_id_detection_id")),
    )
    op.create_index(op.f("ix_detections_batch_id"), "detections", ["batch_id"])
    op.create_index(op.f("ix_detections_camera_id_detected_at"), "detections", ["camera_id", "detected_at"])
    op.create_index(
        op.f("ix_detections_camera_id_object_type_detected_at"),
        "detections",
        ["camera_id", "object_type", "detected_at"],
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.String(160), nullable=False),
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("risk_score", sa.Integer(), nullable=True),
        sa.Column("risk_level", sa.String(16), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("reasoning", sa.Text(), nullable=False),
        sa.Column("risk_factors", JSON_DOC, nullable=False),
        sa.Column("recommended_action", sa.Text(), nullable=False),
        sa.Column("template", sa.String(64), nullable=False),
        sa.Column("decided_by", JSON_DOC, nullable=False),
        sa.Column("level_corrected", sa.Boolean(), nullable=False),
        sa.Column("correction_note", sa.Text(), nullable=False),
        sa.Column("llm_model", sa.String(200), nullable=False),
        sa.Column("llm_latency_ms", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_retry_at", INSTANT, nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("started_at", INSTANT, nullable=True),
        sa.Column("ended_at", INSTANT, nullable=True),
        sa.Column("reviewed", sa.Boolean(), nullable=False),
        sa.Column("reviewed_at", INSTANT, nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.Column("updated_at", INSTANT, nullable=False),
        sa.ForeignKeyConstraint(
            ["camera_id"], ["cameras.id"], name=op.f("fk_events_camera_id_cameras"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("batch_id", name=op.f("uq_events_batch_id")),
    )
    op.create_index(op.f("ix_events_camera_id_started_at"), "events", ["camera_id", "started_at"])
    op.create_index(op.f("ix_events_risk_level_started_at"), "events", ["risk_level", "started_at"])
    op.create_index(op.f("ix_events_status_next_retry_at"), "events", ["status", "next_retry_at"])
    op.create_table(
        "event_detections",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("detection_id", BIG_ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["detection_id"],
            ["detections.id"],
            name=op.f("fk_event_detections_detection_id_detections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_event_detections_event_id_events"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("event_id", "detection_id", name=op.f("pk_event_detections")),
    )


def downgrade() -> None:
    for table in ("event_detections", "events", "detections", "batches", "zones", "household_entries", "cameras"):
        op.drop_table(table)
