"""Prometheus metrics with llama-server's ``llamacpp:`` names, on a registry of the app's own."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from ai.nemotron.generation import CompletionResult


class ServerMetrics:
    def __init__(
        self,
        processing: Callable[[], int],
        deferred: Callable[[], int],
        decode_counts: Callable[[], tuple[int, int]] = lambda: (0, 0),
    ) -> None:
        """``decode_counts``: the engine's (llama_decode calls, sequences they held in all)."""
        self.registry = CollectorRegistry()
        r = self.registry
        self.prompt_tokens = Counter("llamacpp:prompt_tokens", "Number of prompt tokens processed.", registry=r)
        self.prompt_seconds = Counter("llamacpp:prompt_seconds", "Prompt processing time.", registry=r)
        self.tokens_predicted = Counter("llamacpp:tokens_predicted", "Number of generated tokens.", registry=r)
        self.predicted_seconds = Counter("llamacpp:tokens_predicted_seconds", "Token generation time.", registry=r)
        self.cached_tokens = Counter("llamacpp:prompt_tokens_cached", "Prompt tokens reused from cache.", registry=r)
        self.requests = Counter("llamacpp:requests", "Completed generation requests.", ["stop_type"], registry=r)
        self.errors = Counter("llamacpp:request_errors", "Requests answered with an error.", ["type"], registry=r)
        self.cancelled = Counter(
            "llamacpp:requests_cancelled", "Generations stopped because their client disconnected.", registry=r
        )
        self.prompt_tps = Gauge("llamacpp:prompt_tokens_seconds", "Latest prompt throughput (tokens/s).", registry=r)
        self.predicted_tps = Gauge(
            "llamacpp:predicted_tokens_seconds", "Latest generation throughput (tokens/s).", registry=r
        )
        self.latency = Histogram(
            "llamacpp:request_duration_seconds",
            "Wall time of generation requests.",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120),
            registry=r,
        )
        processing_gauge = Gauge("llamacpp:requests_processing", "Requests being processed.", registry=r)
        processing_gauge.set_function(processing)
        deferred_gauge = Gauge("llamacpp:requests_deferred", "Requests waiting for a slot.", registry=r)
        deferred_gauge.set_function(deferred)
        decodes = Gauge(
            "llamacpp:n_decode_total",
            "Total number of llama_decode() calls (one per batch of every slot's tokens).",
            registry=r,
        )
        decodes.set_function(lambda: decode_counts()[0])
        per_decode = Gauge(
            "llamacpp:n_busy_slots_per_decode", "Average number of busy slots per llama_decode() call.", registry=r
        )
        per_decode.set_function(lambda: decode_counts()[1] / max(decode_counts()[0], 1))

    def observe(self, result: CompletionResult, seconds: float) -> None:
        t = result.timings
        self.prompt_tokens.inc(t.prompt_n)
        self.prompt_seconds.inc(t.prompt_ms / 1000.0)
        self.tokens_predicted.inc(t.predicted_n)
        self.predicted_seconds.inc(t.predicted_ms / 1000.0)
        self.cached_tokens.inc(t.cache_n)
        self.requests.labels(result.stop_type).inc()
        rates = t.as_dict()
        self.prompt_tps.set(rates["prompt_per_second"])
        self.predicted_tps.set(rates["predicted_per_second"])
        self.latency.observe(seconds)
