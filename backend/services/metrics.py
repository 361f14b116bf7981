"""Prometheus metrics of the backend, on a registry of its own (served at GET /metrics).

The analyzer records LLM latency (``LLM_LATENCY``) and parse failures (``LLM_PARSE_FAILURES``); the
ingest, batcher and analysis dispatch record the rest, events included (do not count events twice).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry()

DETECTIONS_INGESTED = Counter(
    "nemotron_detections_ingested", "Detections stored through the API.", ["analyzed"], registry=REGISTRY
)
BATCHES = Counter("nemotron_batches", "Batches opened and closed.", ["action"], registry=REGISTRY)
FAST_PATH = Counter("nemotron_fast_path", "Detections sent to fast-path analysis.", registry=REGISTRY)
EVENTS = Counter(
    "nemotron_events",
    "Events stored or updated by an analysis (level 'none' when not assessed).",
    ["level", "status"],
    registry=REGISTRY,
)
LLM_LATENCY = Histogram(
    "nemotron_llm_latency_seconds",
    "Wall time of LLM calls.",
    buckets=(0.25, 0.5, 1, 2, 3, 5, 8, 13, 21, 34, 60, 120),
    registry=REGISTRY,
)
LLM_PARSE_FAILURES = Counter(
    "nemotron_llm_parse_failures", "LLM answers that could not be parsed into an assessment.", registry=REGISTRY
)
QUEUE_DEPTH = Gauge(
    "nemotron_batch_queue_depth", "Analyses handed over and not yet finished in this process.", registry=REGISTRY
)
ANALYSIS_FAILURES = Counter(
    "nemotron_analysis_failures",
    "Analyzer calls that raised instead of returning an event.",
    ["kind"],
    registry=REGISTRY,
)
