"""Frigate ingest (issue #10): zones the detector names, the detector's object id, zones known by name only.

* ``detections.zones``: the zone ids the detector itself placed the object in (Frigate's ``current_zones``);
  NULL: zones are found from the box and the zone polygons (every row stored before this revision).
* ``detections.external_id``: the detector's id of the tracked object (Frigate's event id), for snapshot and
  clip links and for applying later updates (GenAI descriptions) to the track; NULL for other detectors.
* ``zones.zone_type_source``: "set" (through the API or a scenario) or "guessed" (from the zone's name, for a
  zone first heard of by name); every zone stored before this revision was set.
* a zone's polygon may be empty: a zone known by name only (Frigate without FRIGATE_URL).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.add_column("detections", sa.Column("zones", JSON_DOC, nullable=True))
    op.add_column("detections", sa.Column("external_id", sa.String(64), nullable=True))
    op.create_index("ix_detections_camera_id_external_id", "detections", ["camera_id", "external_id"])
    op.add_column("zones", sa.Column("zone_type_source", sa.String(16), nullable=False, server_default="set"))


def downgrade() -> None:
    op.drop_column("zones", "zone_type_source")
    op.drop_index("ix_detections_camera_id_external_id", table_name="detections")
    op.drop_column("detections", "external_id")
    op.drop_column("detections", "zones")
