"""The long-lived objects of one running app, and the FastAPI dependencies that reach them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.requests import HTTPConnection

from backend.config.settings import BackendSettings
from backend.services.analysis_dispatch import AnalysisDispatcher
from backend.services.batcher import Batcher
from backend.services.broadcaster import Broadcaster
from backend.services.ingest import FastPathRule
from backend.services.integrations import HomeIntegrations


@dataclass
class AppServices:
    settings: BackendSettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    redis: Redis | None
    broadcaster: Broadcaster
    dispatcher: AnalysisDispatcher
    batcher: Batcher
    fast_path_rule: FastPathRule
    integrations: HomeIntegrations | None = None


def get_services(connection: HTTPConnection) -> AppServices:
    services: AppServices = connection.app.state.services
    return services


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with get_services(request).sessions() as session:
        yield session


Services = Annotated[AppServices, Depends(get_services)]
Session = Annotated[AsyncSession, Depends(get_session)]
