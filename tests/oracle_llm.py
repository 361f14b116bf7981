"""An oracle LLM server for tests: it speaks llama.cpp's /completion API and answers what the test tells it.

A legitimate fake: it injects what no real model does on demand, a perfect (or a chosen) answer, so that the
tests can measure what the verdict path lets a correct model do, and what it does with a model that lies.
Each analysis asks once; the test sets :attr:`OracleLLM.answer` before it (one analysis at a time).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI, Request

from ai.nemotron.launch import free_port

ORACLE_MODEL = "oracle-test-model"


class OracleLLM:
    """The server's state: the next answer, and the prompts it was asked."""

    def __init__(self) -> None:
        self.answer: dict[str, Any] = {"risk_score": 0, "risk_level": "low", "summary": "Nothing to report here."}
        self.prompts: list[str] = []
        self.url = ""

    def say(self, score: int, level: str, summary: str = "A person was seen on the camera.") -> None:
        self.answer = {"risk_score": score, "risk_level": level, "summary": summary}

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/health")
        async def health() -> dict[str, str]:
            return {"status": "ok"}

        @app.post("/tokenize")
        async def tokenize(request: Request) -> dict[str, Any]:
            content = (await request.json()).get("content", "")
            return {"tokens": list(range(len(content) // 4))}

        @app.post("/completion")
        async def completion(request: Request) -> dict[str, Any]:
            body = await request.json()
            prompt = body.get("prompt", "")
            if "<camera_data>" not in prompt:  # the client's API and structured-output probes
                return {"content": "ok", "model": ORACLE_MODEL}
            self.prompts.append(prompt)
            return {
                "content": json.dumps(self.answer),
                "model": ORACLE_MODEL,
                "tokens_evaluated": len(prompt) // 4,
                "tokens_predicted": 40,
                "timings": {},
            }

        return app


@contextmanager
def oracle_llm() -> Iterator[OracleLLM]:
    """Serves an OracleLLM on a free loopback port for the duration; ``.url`` is its address."""
    oracle = OracleLLM()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(oracle.app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the oracle LLM server did not start")
        time.sleep(0.02)
    oracle.url = f"http://127.0.0.1:{port}"
    try:
        yield oracle
    finally:
        server.should_exit = True
        thread.join(timeout=10)
