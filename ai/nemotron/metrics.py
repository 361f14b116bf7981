"""Prometheus metrics in llama-server's exposition: the ``llamacpp:`` names, help texts and types of its
``/metrics`` (``--metrics``; off by default, a 501 then), written by hand because llama-server's counters
carry ``_total`` in their ``# TYPE`` line and have no ``_created`` series, which prometheus_client cannot write.

llama-server's counters: prompt tokens processed (cached ones apart), prompt and generation seconds,
generated tokens, ``llama_decode`` calls, the longest sequence, speculative decoding (always 0 here). Its
gauges: prompt and generation throughput averaged over the window since the previous scrape (each scrape
starts a new window), requests processing and deferred, busy slots per decode. This server adds, in the same
style: requests by stop type, errors by type, requests cancelled by their client.

Also here: :func:`timings_dict`, a result's ``timings`` as llama-server reports them.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from ai.nemotron.generation import CompletionResult, Timings

CONTENT_TYPE = "text/plain; version=0.0.4"


def timings_dict(t: Timings) -> dict[str, float | int]:
    """A result's ``timings`` as llama-server reports them: the generation rate is over the decode steps, one
    fewer than the tokens (the first token comes from the prompt's last batch, so it costs no step of its own)."""
    steps = max(t.predicted_n - 1, 0)
    return {
        **t.as_dict(),
        "predicted_per_token_ms": t.predicted_ms / steps if steps else 0.0,
        "predicted_per_second": 1000.0 * steps / t.predicted_ms if steps and t.predicted_ms > 0 else 0.0,
    }


@dataclass
class _Window:
    """Tokens and milliseconds since the previous scrape: the throughput gauges."""

    prompt_n: int = 0
    prompt_ms: float = 0.0
    predicted_n: int = 0
    predicted_ms: float = 0.0

    @staticmethod
    def rate(n: int, ms: float) -> float:
        return 1000.0 * n / ms if ms > 0 else 0.0


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class ServerMetrics:
    def __init__(
        self,
        processing: Callable[[], int],
        deferred: Callable[[], int],
        decode_counts: Callable[[], tuple[int, int]] = lambda: (0, 0),
    ) -> None:
        """``decode_counts``: the engine's (llama_decode calls, sequences they held in all)."""
        self.started = int(time.time())  # llama-server's Process-Start-Time-Unix header
        self._processing = processing
        self._deferred = deferred
        self._decode_counts = decode_counts
        self._lock = threading.Lock()
        self.prompt_tokens = 0
        self.prompt_seconds = 0.0
        self.cached_tokens = 0
        self.tokens_predicted = 0
        self.predicted_seconds = 0.0
        self.n_tokens_max = 0
        self.cancelled = 0
        self.requests: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self._window = _Window()

    def observe(self, result: CompletionResult, seconds: float) -> None:
        """One finished generation (``seconds``: its wall time, unused by llama-server's metrics)."""
        t = result.timings
        with self._lock:
            self.prompt_tokens += t.prompt_n
            self.prompt_seconds += t.prompt_ms / 1000.0
            self.tokens_predicted += t.predicted_n
            self.predicted_seconds += t.predicted_ms / 1000.0
            self.cached_tokens += t.cache_n
            self.n_tokens_max = max(self.n_tokens_max, result.tokens_evaluated + result.tokens_predicted)
            self.requests[result.stop_type] += 1
            w = self._window
            w.prompt_n += t.prompt_n
            w.prompt_ms += t.prompt_ms
            w.predicted_n += max(t.predicted_n - 1, 0)  # decode steps, as timings_dict
            w.predicted_ms += t.predicted_ms

    def error(self, kind: str) -> None:
        with self._lock:
            self.errors[kind] += 1

    def cancel(self) -> None:
        with self._lock:
            self.cancelled += 1

    def render(self) -> str:
        """The exposition text; the throughput window starts again."""
        n_decode, n_busy = self._decode_counts()
        with self._lock:
            window, self._window = self._window, _Window()
            counters = [
                (
                    "prompt_tokens_total",
                    "Number of prompt tokens processed, excluding cached tokens",
                    self.prompt_tokens,
                ),
                ("prompt_tokens_cached_total", "Number of prompt tokens reused from the cache", self.cached_tokens),
                ("prompt_seconds_total", "Total time spent processing prompts", self.prompt_seconds),
                ("tokens_predicted_total", "Number of generation tokens processed", self.tokens_predicted),
                ("tokens_predicted_seconds_total", "Total time spent generating tokens", self.predicted_seconds),
                (
                    "n_decode_total",
                    "Total number of llama_decode() calls (one per batch of every slot's tokens)",
                    n_decode,
                ),
                ("n_tokens_max", "Largest observed sequence length (prompt + generation)", self.n_tokens_max),
                ("spec_decode_num_draft_tokens_total", "Speculative: Total draft tokens generated", 0),
                (
                    "spec_decode_num_accepted_tokens_total",
                    "Speculative: Total draft tokens accepted by the target model",
                    0,
                ),
                ("spec_decode_num_drafts_total", "Speculative: Total speculative decoding verification steps", 0),
                ("requests_cancelled_total", "Generations stopped because their client disconnected", self.cancelled),
            ]
            labelled = [
                ("requests_total", "Completed generation requests, by stop type", "stop_type", dict(self.requests)),
                ("request_errors_total", "Requests answered with an error, by type", "type", dict(self.errors)),
            ]
        gauges = [
            (
                "prompt_tokens_seconds",
                "Average prompt throughput in tokens/s",
                window.rate(window.prompt_n, window.prompt_ms),
            ),
            (
                "predicted_tokens_seconds",
                "Average generation throughput in tokens/s",
                window.rate(window.predicted_n, window.predicted_ms),
            ),
            ("requests_processing", "Number of requests processing", self._processing()),
            ("requests_deferred", "Number of requests deferred", self._deferred()),
            (
                "n_busy_slots_per_decode",
                "Average number of busy slots per llama_decode() call",
                n_busy / max(n_decode, 1),
            ),
        ]
        lines: list[str] = []
        for kind, items in (("counter", counters), ("gauge", gauges)):
            for name, help_text, value in items:
                lines += [
                    f"# HELP llamacpp:{name} {help_text}",
                    f"# TYPE llamacpp:{name} {kind}",
                    f"llamacpp:{name} {_number(value)}",
                ]
        for name, help_text, label, values in labelled:
            lines += [f"# HELP llamacpp:{name} {help_text}", f"# TYPE llamacpp:{name} counter"]
            lines += [f'llamacpp:{name}{{{label}="{key}"}} {count}' for key, count in sorted(values.items())]
        return "\n".join(lines) + "\n"
