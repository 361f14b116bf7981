"""Fixtures for the LLM server tests: the real server, as a subprocess, with the embedded model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ai.nemotron.launch import ServerProcess, port_in_use
from ai.nemotron.settings import embedded_model_path


@pytest.fixture(scope="session")
def model_path() -> Path:
    return embedded_model_path()


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """The project's server with the embedded model and two slots of 4096 tokens each (--ctx-size is
    divided among the slots, as llama-server does), with /metrics on (--metrics), on port 8091 when it is free."""
    port = None if port_in_use(8091) else 8091
    with ServerProcess("--parallel", "2", "--ctx-size", "8192", "--metrics", port=port) as server:
        yield server.url


@pytest.fixture
def client(server_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server_url, timeout=120) as c:
        yield c
