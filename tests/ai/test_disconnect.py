"""A client that leaves stops its generation: the slot is free again at once, streaming or not.

Each test starts a generation that would run for about a minute (a grammar with no end, so that the model
cannot stop early), lets its client time out after a second, and measures how long the slot stays busy
afterwards. Before the server watched its clients, a non-streaming request held its slot to the end
(measured: 111 s after a 4 s client timeout, for 120 tokens on a loaded 2-core machine).
"""

from __future__ import annotations

import re
import threading
import time

import httpx
import pytest

ENDLESS = "root ::= [a-z ] root"  # EOS is never allowed: only the token limit ends it
PROMPT = "<|im_start|>user\nDescribe the porch camera's view.<|im_end|>\n<|im_start|>assistant\n"
CHAT = {"messages": [{"role": "user", "content": "Describe the porch camera's view."}]}
FREED_WITHIN = 5.0  # seconds; the abandoned generation would have run about 60


def metric(client: httpx.Client, name: str) -> float:
    found = re.search(rf"^{re.escape(name)} (\S+)$", client.get("/metrics").text, re.M)
    assert found, name
    return float(found.group(1))


def busy(client: httpx.Client) -> int:
    return int(client.get("/health").json()["slots_processing"])


@pytest.fixture(scope="module")
def long_run(server_url: str) -> int:
    """n_predict for a generation of about 60 s on this machine (at most what the context holds)."""
    with httpx.Client(base_url=server_url, timeout=120) as c:
        r = c.post("/completion", json={"prompt": PROMPT, "n_predict": 48, "grammar": ENDLESS, "temperature": 0})
        assert r.status_code == 200, r.text
        per_second = r.json()["timings"]["predicted_per_second"]
    return int(min(per_second * 60, 4096 - 100))


@pytest.fixture
def idle(client: httpx.Client) -> httpx.Client:
    assert wait_idle(client, 60) is not None, "the server was busy before the test"
    return client


def wait_idle(client: httpx.Client, within: float) -> float | None:
    """Seconds until no slot is busy, or None if that takes longer than ``within``."""
    start = time.monotonic()
    while time.monotonic() - start < within:
        if busy(client) == 0:
            return time.monotonic() - start
        time.sleep(0.05)
    return None


def leave_after(seconds: float, server_url: str, route: str, body: dict, stream: bool) -> None:
    """Send ``body`` and hang up after ``seconds`` (a client timeout)."""
    with httpx.Client(base_url=server_url, timeout=seconds) as c:
        if stream:  # reads events for a while (or times out waiting for the first), then hangs up
            deadline = time.monotonic() + seconds
            try:
                with c.stream("POST", route, json=body) as r:
                    assert r.status_code == 200
                    for _ in r.iter_lines():
                        if time.monotonic() > deadline:
                            break
            except httpx.ReadTimeout:
                pass
        else:
            with pytest.raises(httpx.ReadTimeout):
                c.post(route, json=body)


ROUTES = [
    ("/completion", {"prompt": PROMPT}, "n_predict"),
    ("/v1/completions", {"prompt": PROMPT}, "max_tokens"),
    ("/v1/chat/completions", CHAT, "max_tokens"),
]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize(("route", "base", "limit_field"), ROUTES, ids=[r for r, _, _ in ROUTES])
def test_a_client_that_leaves_frees_its_slot_at_once(
    idle: httpx.Client, server_url: str, long_run: int, route: str, base: dict, limit_field: str, stream: bool
) -> None:
    client = idle
    cancelled = metric(client, "llamacpp:requests_cancelled_total")
    predicted = metric(client, "llamacpp:tokens_predicted_total")
    body = {**base, limit_field: long_run, "grammar": ENDLESS, "temperature": 0, "stream": stream}
    # The prompt is evaluated (and cached) first: a prompt batch cannot be interrupted, a token can.
    assert client.post(route, json={**body, limit_field: 1, "stream": False}).status_code == 200
    leave_after(1.0, server_url, route, body, stream)
    freed = wait_idle(client, 30)
    assert freed is not None and freed < FREED_WITHIN, f"slot still busy {freed} s after the client left"
    # It was cut short: stopped for the departed client, far from its token limit.
    assert metric(client, "llamacpp:requests_cancelled_total") == cancelled + 1
    done = metric(client, "llamacpp:tokens_predicted_total") - predicted
    assert 0 < done < long_run / 3, (done, long_run)
    # And the next request starts at once: it does not wait (its own work may be slow on a loaded machine).
    start = time.monotonic()
    r = client.post("/completion", json={"prompt": "Hello", "n_predict": 2})
    assert r.status_code == 200
    own = (r.json()["timings"]["prompt_ms"] + r.json()["timings"]["predicted_ms"]) / 1000
    assert time.monotonic() - start - own < FREED_WITHIN


def test_a_queued_client_that_leaves_leaves_the_queue(idle: httpx.Client, server_url: str, long_run: int) -> None:
    """With both slots busy, a third request waits; when its client gives up it is gone from the queue
    at once, while the two others keep generating."""
    client = idle
    body = {"prompt": PROMPT, "n_predict": long_run, "grammar": ENDLESS, "temperature": 0}
    stop = threading.Event()

    def occupy() -> None:
        with (
            httpx.Client(base_url=server_url, timeout=120) as c,
            c.stream(
                "POST",
                "/completion",
                # as long as the context allows: a holder must outlast the test, however the machine's
                # speed changed since long_run was measured (it stops when its client leaves, at the end)
                json={
                    **body,
                    "n_predict": 4096 - 100,
                    "stream": True,
                },
            ) as r,
        ):
            for _ in r.iter_lines():
                if stop.is_set():
                    break

    holders = [threading.Thread(target=occupy) for _ in range(2)]
    for t in holders:
        t.start()
    try:
        deadline = time.monotonic() + 30
        while busy(client) < 2:
            assert time.monotonic() < deadline, "the two holders never started"
            time.sleep(0.05)
        queued = threading.Thread(target=leave_after, args=(3.0, server_url, "/completion", body, False))
        queued.start()
        seen_waiting = False
        while queued.is_alive() and not seen_waiting:
            seen_waiting = metric(client, "llamacpp:requests_deferred") == 1
        assert seen_waiting, "the third request never waited for a slot"
        queued.join()
        start = time.monotonic()
        while metric(client, "llamacpp:requests_deferred") != 0:
            assert time.monotonic() - start < FREED_WITHIN, "the departed client is still queued"
            time.sleep(0.05)
        assert busy(client) == 2  # the others were not disturbed
    finally:
        stop.set()
        for t in holders:
            t.join()
    assert wait_idle(client, 30) is not None
