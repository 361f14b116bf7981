"""Alembic environment: runs on a connection handed over by ``backend.db.session`` or, from the
command line, on an async engine for ``sqlalchemy.url`` (or DATABASE_URL when that is empty)."""

from __future__ import annotations

import asyncio
from logging.config import fileConfig
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection

from backend.config.settings import get_settings
from backend.db.session import create_engine_from_url
from backend.models import Base, UTCDateTime

config = context.config
target_metadata = Base.metadata
if config.config_file_name:  # the alembic command line; programmatic runs leave logging alone
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _database_url() -> str:
    return config.get_main_option("sqlalchemy.url") or get_settings().database_url


def _render_item(kind: str, obj: Any, _context: AutogenContext) -> str | Literal[False]:
    """Autogenerate writes UTCDateTime columns as plain timezone-aware DateTime."""
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_item=_render_item,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_engine_from_url(_database_url())
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


def run_migrations_offline() -> None:
    context.configure(url=_database_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
elif (handed_over := config.attributes.get("connection")) is not None:
    _run(handed_over)
else:
    asyncio.run(_run_async())
