"""Load test for the emotion service: `locust -f loadtests/locustfile.py --host http://127.0.0.1:3000`.

Usually started by ``python -m loadtests.run``, which also starts the service. Every image is
made (or read) and wrapped in its multipart body once, when locust starts; a request only
sends prepared bytes. Users are closed-loop (no wait between requests), so the number of users
is the number of requests in flight.

Environment:

- ``LOADTEST_PROFILE``: ``mixed`` (default: SFEW-sized frames, multi-face photos, no-face
  images, small and large images, some /predict_batch of 4 frames) or ``frames`` (/predict
  on 720x576 frames only: the SFEW benchmark).
- ``LOADTEST_SFEW``: a folder of real frames (<Class>/*.jpg, e.g. ../shared/data/sfew675/images)
  to send instead of the synthetic 720x576 frames; ``LOADTEST_SFEW_LIMIT`` caps how many.
- ``LOADTEST_MAX_ERROR_RATE`` (default 0.01), ``LOADTEST_MAX_P95_MS`` (default: no limit),
  ``LOADTEST_ALLOW_SHED`` (1: 429/503 answers are load shedding, not errors): the pass/fail
  gate, applied when locust quits (exit code 1 on failure).
- ``LOADTEST_MAX_FACES``: send this ``max_faces`` with every request (default: the service's
  own, 20); 1 asks for the largest face only, as the paper classifies one face per frame.
- ``LOADTEST_SHED_BACKOFF_S``: seconds a user waits after a 429/503 before its next request
  (default 0: retry at once, the harshest client).
- ``LOADTEST_SUMMARY_JSON``: where to write faces, images, answers by status and latency
  percentiles by outcome when locust quits (the runner reads it).
"""

from __future__ import annotations

import json
import logging
import os
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from locust import FastHttpUser, events, task
from locust.env import Environment

# locust puts this file's folder on sys.path, not the repository root.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from loadtests.images import CONTENT_TYPE, KINDS, cached_synth_images, multipart, sfew_images  # noqa: E402

logger = logging.getLogger("loadtest")
SHED = (429, 503)
SHED_BACKOFF_S = float(os.environ.get("LOADTEST_SHED_BACKOFF_S", "0"))
BATCH_IMAGES = 4


@dataclass(frozen=True)
class Payload:
    body: bytes
    images: int


def build_payloads(
    sfew: str | None = None, sfew_limit: int | None = None, per_kind: int = 8
) -> dict[str, list[Payload]]:
    """Every request body the test sends, by kind (KINDS plus ``batch``)."""
    images = cached_synth_images(per_kind)
    if sfew:
        images["frame"] = sfew_images(sfew, sfew_limit)
    max_faces = os.environ.get("LOADTEST_MAX_FACES")
    options = {"max_faces": max_faces} if max_faces else None
    out = {kind: [Payload(multipart("image", [blob], options), 1) for blob in images[kind]] for kind in KINDS}
    rng = random.Random(0)
    frames = images["frame"]
    count = min(BATCH_IMAGES, len(frames))
    out["batch"] = [Payload(multipart("images", rng.sample(frames, count), options), count) for _ in range(per_kind)]
    return out


class Tally:
    """What locust's own statistics lack: faces, images, answers by status, latency by outcome."""

    def __init__(self) -> None:
        self.faces = 0
        self.images = 0
        self.status: Counter[int] = Counter()
        self.ms: dict[str, list[float]] = {"ok": [], "shed": [], "error": []}
        self.messages: Counter[str] = Counter()
        self.started = time.monotonic()
        self.stopped: float | None = None

    def summary(self) -> dict[str, Any]:
        def pct(values: list[float]) -> dict[str, float | None]:
            if not values:
                return {"p50": None, "p95": None, "p99": None, "max": None}
            arr = np.asarray(values)
            p50, p95, p99 = np.percentile(arr, [50, 95, 99])
            return {"p50": float(p50), "p95": float(p95), "p99": float(p99), "max": float(arr.max())}

        seconds = (self.stopped or time.monotonic()) - self.started
        return {
            "seconds": seconds,
            "requests": sum(self.status.values()),
            "faces": self.faces,
            "images": self.images,
            "status": {str(k): v for k, v in sorted(self.status.items())},
            "latency_ms": {k: pct(v) | {"count": len(v)} for k, v in self.ms.items()},
            "messages": dict(self.messages.most_common(20)),
            "ok_ms": [round(v, 1) for v in self.ms["ok"]],
            "shed_ms": [round(v, 1) for v in self.ms["shed"]],
        }


PAYLOADS: dict[str, list[Payload]] = {}
TALLY = Tally()


@events.init.add_listener
def _load_images(environment: Environment, **_: Any) -> None:
    sfew = os.environ.get("LOADTEST_SFEW") or None
    limit = int(os.environ.get("LOADTEST_SFEW_LIMIT", "0")) or None
    start = time.perf_counter()
    PAYLOADS.update(build_payloads(sfew, limit))
    logger.info(
        "Prepared %d request bodies in %.1f s (frames from %s)",
        sum(len(v) for v in PAYLOADS.values()),
        time.perf_counter() - start,
        sfew or "the synthetic set",
    )


@events.test_start.add_listener
def _reset(environment: Environment, **_: Any) -> None:
    TALLY.__init__()  # type: ignore[misc]


@events.test_stop.add_listener
def _stopped(environment: Environment, **_: Any) -> None:
    TALLY.stopped = time.monotonic()


def _count_faces(path: str, data: dict[str, Any]) -> int:
    if path == "/predict_batch":
        return sum(len(item["result"]["faces"]) for item in data.get("results", []) if item.get("result"))
    return len(data.get("faces", []))


class EmotionUser(FastHttpUser):
    """One client sending requests back to back."""

    network_timeout = 120.0
    connection_timeout = 10.0

    def _post(self, path: str, kind: str) -> None:
        payload = random.choice(PAYLOADS[kind])
        with self.client.post(
            path,
            data=payload.body,
            headers={"Content-Type": CONTENT_TYPE},
            name=f"{path} [{kind}]",
            catch_response=True,
        ) as resp:
            status = int(resp.status_code or 0)
            elapsed = float(resp.request_meta["response_time"]) if hasattr(resp, "request_meta") else 0.0
            TALLY.status[status] += 1
            if status == 200:
                try:
                    faces = _count_faces(path, resp.json())
                except (ValueError, KeyError, TypeError) as exc:
                    resp.failure(f"200 with an unreadable body: {exc}")
                    TALLY.ms["error"].append(elapsed)
                    return
                TALLY.faces += faces
                TALLY.images += payload.images
                TALLY.ms["ok"].append(elapsed)
                resp.success()
                return
            text = (resp.text or "")[:200] if status else str(resp.error)[:200]
            outcome = "shed" if status in SHED else "error"
            TALLY.ms[outcome].append(elapsed)
            TALLY.messages[f"{status}: {text}"] += 1
            resp.failure(f"{status}: {text}")
        if status in SHED and SHED_BACKOFF_S:
            time.sleep(SHED_BACKOFF_S)  # gevent-patched: only this user waits

    if os.environ.get("LOADTEST_PROFILE", "mixed") == "frames":

        @task
        def predict_frame(self) -> None:
            self._post("/predict", "frame")

    else:

        @task(50)
        def predict_frame(self) -> None:
            self._post("/predict", "frame")

        @task(10)
        def predict_multi(self) -> None:
            self._post("/predict", "multi")

        @task(10)
        def predict_noface(self) -> None:
            self._post("/predict", "noface")

        @task(10)
        def predict_small(self) -> None:
            self._post("/predict", "small")

        @task(10)
        def predict_large(self) -> None:
            self._post("/predict", "large")

        @task(10)
        def predict_batch(self) -> None:
            self._post("/predict_batch", "batch")


def gate(environment: Environment, tally: Tally) -> list[str]:
    """Why the run fails its gate (empty: it passes)."""
    total = environment.stats.total
    requests = total.num_requests
    if requests == 0:
        return ["no request completed"]
    shed = sum(tally.status[s] for s in SHED)
    allow_shed = os.environ.get("LOADTEST_ALLOW_SHED", "0") == "1"
    errors = total.num_failures - (shed if allow_shed else 0)
    max_rate = float(os.environ.get("LOADTEST_MAX_ERROR_RATE", "0.01"))
    problems = []
    if errors / requests > max_rate:
        problems.append(f"error rate {errors / requests:.2%} > {max_rate:.2%} ({errors} of {requests})")
    max_p95 = float(os.environ.get("LOADTEST_MAX_P95_MS", "0") or 0)
    p95 = total.get_response_time_percentile(0.95)
    if max_p95 and p95 > max_p95:
        problems.append(f"p95 latency {p95:.0f} ms > {max_p95:.0f} ms")
    return problems


@events.quitting.add_listener
def _gate_and_report(environment: Environment, **_: Any) -> None:
    problems = gate(environment, TALLY)
    for problem in problems:
        logger.error("GATE FAILED: %s", problem)
    if not problems:
        logger.info("Gate passed")
    environment.process_exit_code = 1 if problems else 0
    path = os.environ.get("LOADTEST_SUMMARY_JSON")
    if path:
        Path(path).write_text(json.dumps(TALLY.summary() | {"gate_problems": problems}, indent=1) + "\n")
