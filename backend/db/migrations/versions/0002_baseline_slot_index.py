"""Index detections by camera and local weekday/hour: the baseline reads only the batch's hour slots.

The baseline counts a camera's detections in the same local weekday and hour over past weeks. With only
(camera_id, detected_at) it read every detection of those weeks; (camera_id, local_weekday, local_hour,
detected_at) reads just the matching hours. It replaces (camera_id, object_type, detected_at), which no
query used.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index(op.f("ix_detections_camera_id_object_type_detected_at"), table_name="detections")
    op.create_index(
        op.f("ix_detections_camera_id_local_weekday_local_hour_detected_at"),
        "detections",
        ["camera_id", "local_weekday", "local_hour", "detected_at"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_detections_camera_id_local_weekday_local_hour_detected_at"), table_name="detections")
    op.create_index(
        op.f("ix_detections_camera_id_object_type_detected_at"),
        "detections",
        ["camera_id", "object_type", "detected_at"],
    )
