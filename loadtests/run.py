"""Start the service, load it with locust, write what happened: `python -m loadtests.run --help`.

For every scenario (a name and settings: EMOTION_* for the server, LOADTEST_* for the clients,
e.g. LOADTEST_MAX_FACES=1) the runner starts
``bentoml serve service.service:EmotionService`` on a free port, waits for /readyz, warms it up,
then runs locust headless against it. With several scenarios all servers are started first and
the locust phases alternate between them (``--rounds``), so the scenarios share the machine's
noise and are compared side by side. While locust runs, the server's resident memory (all its
processes together) is sampled.

Everything lands in loadtests/results/<name>/ (git-ignored): per phase locust's CSV files and
HTML report, the server log, the memory samples; for the run ``summary.json`` and ``summary.md``
(requests/s, faces/s, latency percentiles, answers by status, memory, gate). The exit code is
1 when any phase fails the gate (``--max-error-rate``, ``--max-p95-ms``, see the locustfile).

    # the service with its defaults, the mixed workload, 8 users for a minute
    python -m loadtests.run --name mixed --users 8 --duration 60s
    # paper-faithful detection without batching vs YuNet, SFEW frames, 2 rounds
    python -m loadtests.run --name detectors --profile frames --sfew ../shared/data/sfew675/images \\
        --scenario paper:EMOTION_DETECTOR=viola-jones,EMOTION_MAX_BATCH_SIZE=1 \\
        --scenario yunet:EMOTION_DETECTOR=yunet --rounds 2 --users 4 --duration 45s
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from benchmarks.fer_library import FerWorker
from face_pipeline.metadata import SHIPPED_MODEL
from loadtests.images import CONTENT_TYPE, cached_synth_images, multipart, sfew_paths

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "loadtests" / "results"
LOCUSTFILE = ROOT / "loadtests" / "locustfile.py"


@dataclass
class Scenario:
    name: str
    env: dict[str, str]
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log: Any = None
    model: dict[str, Any] = field(default_factory=dict)
    phases: list[dict[str, Any]] = field(default_factory=list)
    rss: list[tuple[float, float]] = field(default_factory=list)  # (seconds since first phase, MiB)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def parse_scenario(text: str) -> Scenario:
    """``name`` or ``name:KEY=VALUE,KEY=VALUE``."""
    name, _, rest = text.partition(":")
    env = {}
    for item in filter(None, rest.split(",")):
        key, sep, value = item.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"scenario setting {item!r} is not KEY=VALUE")
        env[key.strip()] = value.strip()
    if not name or "/" in name:
        raise argparse.ArgumentTypeError(f"bad scenario name {name!r}")
    return Scenario(name, env)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, OSError):
        return 0, b""


def start_server(scenario: Scenario, base_env: dict[str, str], out: Path) -> None:
    scenario.port = free_port()
    env = {**os.environ, **base_env, **scenario.env}
    out.mkdir(parents=True, exist_ok=True)
    scenario.log = open(out / "server.log", "wb")  # closed in stop_server
    serve = ["serve", "service.service:EmotionService", "--port", str(scenario.port), "--host", "127.0.0.1"]
    scenario.process = subprocess.Popen(
        [sys.executable, "-m", "bentoml", *serve],
        cwd=ROOT,
        env=env,
        stdout=scenario.log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, stopped as one
    )


def wait_ready(scenario: Scenario, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    assert scenario.process is not None
    while time.monotonic() < deadline:
        if scenario.process.poll() is not None:
            raise SystemExit(f"[{scenario.name}] the server exited with {scenario.process.returncode}: see server.log")
        status, _ = http_get(scenario.url + "/readyz", timeout=2)
        if status == 200:
            status, body = http_get(scenario.url + "/model")
            scenario.model = json.loads(body) if status == 200 else {}
            return
        time.sleep(0.5)
    raise SystemExit(f"[{scenario.name}] not ready after {timeout:.0f} s: see server.log")


def warm_up(scenario: Scenario, requests: int) -> None:
    """A few /predict calls so that no phase pays for first-request costs."""
    body = multipart("image", [cached_synth_images()["frame"][0]])
    for _ in range(requests):
        req = urllib.request.Request(
            scenario.url + "/predict", data=body, headers={"Content-Type": CONTENT_TYPE}, method="POST"
        )
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                resp.read()
        except urllib.error.HTTPError as exc:
            raise SystemExit(f"[{scenario.name}] warm-up request failed: {exc.code} {exc.read()[:200]!r}") from None


def stop_server(scenario: Scenario) -> None:
    if scenario.process and scenario.process.poll() is None:
        os.killpg(scenario.process.pid, signal.SIGTERM)
        try:
            scenario.process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(scenario.process.pid, signal.SIGKILL)
            scenario.process.wait(5)
    if scenario.log:
        scenario.log.close()


def server_rss_mib(pid: int) -> float:
    """Resident memory of the server and all its children (BentoML runs one process per service)."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 2**20


class RssSampler(threading.Thread):
    def __init__(self, scenario: Scenario, interval: float, t0: float) -> None:
        super().__init__(daemon=True)
        self.scenario, self.interval, self.t0 = scenario, interval, t0
        self.stop = threading.Event()

    def run(self) -> None:
        assert self.scenario.process is not None
        while not self.stop.is_set():
            self.scenario.rss.append((time.monotonic() - self.t0, server_rss_mib(self.scenario.process.pid)))
            self.stop.wait(self.interval)


def python_path() -> str:
    """The repo first, then whatever PYTHONPATH already holds (the GPU check installs there)."""
    return os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)


def client_env(scenario: Scenario, args: argparse.Namespace, out: Path) -> dict[str, str]:
    """The locust process's environment: the run's gate and images, the LOADTEST_* settings."""
    settings = dict(kv.split("=", 1) for kv in args.env) | scenario.env
    env = {
        **os.environ,
        "PYTHONPATH": python_path(),
        "LOADTEST_PROFILE": args.profile,
        "LOADTEST_SUMMARY_JSON": str(out / "tally.json"),
        "LOADTEST_MAX_ERROR_RATE": str(args.max_error_rate),
        "LOADTEST_MAX_P95_MS": str(args.max_p95_ms or 0),
        "LOADTEST_ALLOW_SHED": "1" if args.allow_shed else "0",
        "LOADTEST_SHED_BACKOFF_S": str(args.shed_backoff),
        # LOADTEST_* settings of the run or the scenario (e.g. LOADTEST_MAX_FACES) are for the clients.
        **{k: v for k, v in settings.items() if k.startswith("LOADTEST_")},
    }
    if args.sfew:
        env["LOADTEST_SFEW"] = str(Path(args.sfew).resolve())
        env["LOADTEST_SFEW_LIMIT"] = str(args.sfew_limit or 0)
    return env


def run_locust(scenario: Scenario, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    env = client_env(scenario, args, out)
    cmd = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
        "--users", str(args.users), "--spawn-rate", str(args.spawn_rate), "--run-time", args.duration,
        "--host", scenario.url, "--csv", str(out / "locust"), "--html", str(out / "report.html"),
        "--only-summary", "--stop-timeout", "30",
    ]  # fmt: skip
    started = time.monotonic()
    with open(out / "locust.log", "wb") as log:
        code = subprocess.run(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
    wall = time.monotonic() - started
    return read_phase(out, code, wall)


def run_reference(scenario: Scenario, args: argparse.Namespace, base_env: dict[str, str]) -> dict[str, Any]:
    """The same frames' in-process cost (loadtests.reference), right after the scenario's phase."""
    env = {**os.environ, **base_env, **scenario.env, "PYTHONPATH": python_path()}
    model = env.get("EMOTION_MODEL_PATH") or str(ROOT / SHIPPED_MODEL)
    detector = scenario.model.get("preprocess", {}).get("detector") or {}
    cmd = [sys.executable, "-m", "loadtests.reference", "--model", model, "--detector", json.dumps(detector)]
    cmd += ["--max-faces", env.get("LOADTEST_MAX_FACES") or "20"]
    if args.sfew:
        cmd += ["--sfew", str(Path(args.sfew).resolve()), "--sfew-limit", str(args.sfew_limit or 0)]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def duration_s(text: str) -> float:
    """locust's --run-time (45s, 10m, 1h30m, or plain seconds) in seconds."""
    parts = re.findall(r"(\d+(?:\.\d+)?)([hms]?)", text.strip())
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        raise ValueError(f"not a duration: {text!r} (e.g. 45s, 10m, 1h30m)")
    return sum(float(n) * {"h": 3600, "m": 60, "s": 1, "": 1}[u] for n, u in parts)


def run_fer(worker: FerWorker, frames: int, seconds: float, start: int = 0, chunk: int = 20) -> dict[str, Any]:
    """The `fer` library in its one process over the same frames, in order from ``start`` and round again,
    for about as long as a locust phase: frames/s to set against the service's, measured between its
    phases. The next round goes on from ``next_start``, so that over a run fer sees every frame, as the
    locust users (who pick frames at random) do."""
    done = faces = 0
    spent = 0.0
    while spent < seconds:
        end = min(frames, start + chunk)
        answer = worker.run(start, end)
        spent += answer["seconds"]
        faces += answer["faces"]
        done += end - start
        start = 0 if end == frames else end
    return {"frames": done, "faces": faces, "seconds": spent, "frames_per_s": done / spent, "next_start": start}


def fer_summary(rounds: list[dict[str, Any]], info: dict[str, Any]) -> dict[str, Any]:
    frames = sum(r["frames"] for r in rounds)
    seconds = sum(r["seconds"] for r in rounds)
    return {
        "library": f"fer {info.get('fer', '?')} (TensorFlow {info.get('tensorflow', '?')}), one process",
        "frames_per_s": frames / seconds if seconds else 0.0,
        "faces_per_s": sum(r["faces"] for r in rounds) / seconds if seconds else 0.0,
        "per_round": rounds,
    }


def against_fer(
    scenario: Scenario, images_per_s: float, fer_rounds: list[dict[str, Any]], fer_fps: float
) -> dict[str, Any]:
    """The scenario's frames/s (``images_per_s``, pooled by ``summarise``) over fer's, and round by round
    (each round's phase against the fer phase that followed it)."""
    per_round = [
        p["tally"].get("images", 0) / p["seconds"] / r["frames_per_s"]
        for p, r in zip(scenario.phases, fer_rounds, strict=False)
        if p["seconds"] and r["frames_per_s"]
    ]
    return {"ratio": images_per_s / fer_fps if fer_fps else None, "per_round": per_round}


def read_phase(out: Path, code: int, wall: float) -> dict[str, Any]:
    stats = {}
    with open(out / "locust_stats.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            stats[row["Name"]] = row
    total = stats.get("Aggregated", {})
    tally = json.loads((out / "tally.json").read_text()) if (out / "tally.json").exists() else {}
    # Counted by the locustfile, from test start to test stop (locust's CSV lags up to a second).
    requests = int(tally.get("requests", 0))
    seconds = float(tally.get("seconds", 0.0))
    rps = requests / seconds if seconds else 0.0
    return {
        "dir": str(out.relative_to(ROOT)),
        "exit_code": code,
        "wall_s": wall,
        "requests": requests,
        "failures": int(total.get("Failure Count", 0) or 0),
        "seconds": seconds,
        "requests_per_s": rps,
        "p50_ms": _num(total.get("50%")),
        "p95_ms": _num(total.get("95%")),
        "p99_ms": _num(total.get("99%")),
        "tally": tally,
        "by_name": {
            name: {"requests": int(row["Request Count"]), "p50_ms": _num(row["50%"]), "p95_ms": _num(row["95%"])}
            for name, row in stats.items()
            if name != "Aggregated"
        },
    }


def _num(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def summarise(scenario: Scenario, warmup_s: float) -> dict[str, Any]:
    phases = scenario.phases
    requests = sum(p["requests"] for p in phases)
    seconds = sum(p["seconds"] for p in phases)
    faces = sum(p["tally"].get("faces", 0) for p in phases)
    images = sum(p["tally"].get("images", 0) for p in phases)
    status: dict[str, int] = {}
    for p in phases:
        for code, count in p["tally"].get("status", {}).items():
            status[code] = status.get(code, 0) + count
    ok_ms = [v for p in phases for v in p["tally"].get("ok_ms", [])]
    all_p = {}
    if ok_ms:
        all_p = dict(zip(("p50_ms", "p95_ms", "p99_ms"), map(float, np.percentile(ok_ms, [50, 95, 99])), strict=True))
    rss = [m for t, m in scenario.rss]
    rss_summary: dict[str, Any] = {}
    if rss:
        times = np.array([t for t, _ in scenario.rss])
        values = np.array(rss)
        first = values[times <= times[0] + warmup_s] if warmup_s else values[:1]
        last = values[times >= times[-1] - warmup_s] if warmup_s else values[-1:]
        rss_summary = {
            "start_mib": float(first.mean()),
            "end_mib": float(last.mean()),
            "max_mib": float(values.max()),
            "growth": float(last.mean() / first.mean() - 1) if first.mean() else None,
            "samples": len(values),
        }
    errors = {k: v for k, v in status.items() if k != "200"}
    shed_ms = [v for p in phases for v in p["tally"].get("shed_ms", [])]
    shed_latency = {}
    if shed_ms:
        p50, p95 = np.percentile(shed_ms, [50, 95])
        shed_latency = {"count": len(shed_ms), "p50": float(p50), "p95": float(p95)}
    refs = [p["reference"]["median_ms"] for p in phases if "reference" in p]
    reference = {}
    if refs:
        reference = {"in_process_median_ms": statistics.fmean(refs), "per_phase": refs}
        if all_p:
            reference["p50_over_in_process"] = all_p["p50_ms"] / reference["in_process_median_ms"]
    return {
        "scenario": scenario.name,
        "env": scenario.env,
        "detector": scenario.model.get("preprocess", {}).get("detector"),
        "providers": scenario.model.get("providers"),
        "model": f"{scenario.model.get('name')} {scenario.model.get('version')}",
        "phases": len(phases),
        "requests": requests,
        "seconds": seconds,
        "requests_per_s": requests / seconds if seconds else 0.0,
        "ok_per_s": status.get("200", 0) / seconds if seconds else 0.0,
        "faces_per_s": faces / seconds if seconds else 0.0,
        "images_per_s": images / seconds if seconds else 0.0,
        "ok_latency_ms": all_p,
        "locust_latency_ms_per_phase": [{"p50": p["p50_ms"], "p95": p["p95_ms"], "p99": p["p99_ms"]} for p in phases],
        "status": status,
        "errors": errors,
        "error_rate": sum(errors.values()) / requests if requests else None,
        "rss": rss_summary,
        "reference": reference,
        "shed_latency_ms": shed_latency,
        "gate_problems": [g for p in phases for g in p["tally"].get("gate_problems", [])],
        "exit_codes": [p["exit_code"] for p in phases],
    }


def markdown(summary: dict[str, Any]) -> str:
    rows = summary["scenarios"]
    base = rows[0]["ok_per_s"] or 1.0
    lines = [
        f"# Load test `{summary['name']}`",
        "",
        f"Command: `{summary['command']}`",
        "",
        f"{summary['users']} users (closed loop), profile `{summary['profile']}`, {summary['duration']} per phase, "
        f"{summary['rounds']} round(s), frames: {summary['frames']}. Machine: {summary['cpus']} CPU cores.",
        "",
        "| scenario | settings | requests | req/s | 200/s | vs first | faces/s | p50 ms | p95 ms | p99 ms "
        "| non-200 by status | RSS start → end MiB (growth) | gate |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lat = r["ok_latency_ms"]
        rss = r["rss"]
        rss_text = (
            f"{rss['start_mib']:.0f} → {rss['end_mib']:.0f} ({100 * rss['growth']:+.1f}%)"
            if rss and rss.get("growth") is not None
            else "-"
        )
        errors = ", ".join(f"{k}: {v}" for k, v in sorted(r["errors"].items())) or "none"
        settings = ", ".join(f"{k}={v}" for k, v in r["env"].items()) or "defaults"
        gate = "pass" if not any(r["exit_codes"]) else "FAIL: " + "; ".join(sorted(set(r["gate_problems"])))
        lines.append(
            f"| {r['scenario']} | {settings} | {r['requests']} | {r['requests_per_s']:.2f} | {r['ok_per_s']:.2f} | "
            f"{r['ok_per_s'] / base:.2f}x | {r['faces_per_s']:.2f} | {_fmt(lat.get('p50_ms'))} | "
            f"{_fmt(lat.get('p95_ms'))} | {_fmt(lat.get('p99_ms'))} | {errors} | {rss_text} | {gate} |"
        )
    refs = [r for r in rows if r.get("reference")]
    if refs:
        lines += [
            "",
            "Serving overhead: the same frames decoded, detected and classified in process, one at a time "
            "(loadtests.reference, run right after each phase):",
            "",
            "| scenario | service p50 ms | in-process median ms | p50 / in-process |",
            "|---|---|---|---|",
        ]
        for r in refs:
            ref = r["reference"]
            lines.append(
                f"| {r['scenario']} | {_fmt(r['ok_latency_ms'].get('p50_ms'))} | {ref['in_process_median_ms']:.0f} | "
                f"{ref.get('p50_over_in_process', float('nan')):.2f} |"
            )
    fer = summary.get("fer")
    if fer:
        per_round = ", ".join(f"{r['frames_per_s']:.2f}" for r in fer["per_round"])
        lines += [
            "",
            f"Against {fer['library']} on the same frames, run after each round for as long as a phase: "
            f"{fer['frames_per_s']:.2f} frames/s ({per_round} by round).",
            "",
            "| scenario | frames/s | vs fer | vs fer, by round |",
            "|---|---|---|---|",
        ]
        for r in rows:
            vs = r["vs_fer"]
            lines.append(
                f"| {r['scenario']} | {r['images_per_s']:.2f} | {vs['ratio']:.2f}x | "
                + ", ".join(f"{v:.2f}x" for v in vs["per_round"])
                + " |"
            )
    shed = [r for r in rows if r.get("shed_latency_ms")]
    if shed:
        lines += [
            "",
            "Shed answers (429/503): "
            + "; ".join(
                f"{r['scenario']}: {r['shed_latency_ms']['count']} in p50 {_fmt(r['shed_latency_ms']['p50'])} ms, "
                f"p95 {_fmt(r['shed_latency_ms']['p95'])} ms"
                for r in shed
            ),
        ]
    lines += ["", "Latency: successful requests only, pooled over the rounds. Detector as served:", ""]
    lines += [f"- {r['scenario']}: `{json.dumps(r['detector'])}`" for r in rows]
    return "\n".join(lines) + "\n"


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--name", required=True, help="results go to loadtests/results/NAME/")
    parser.add_argument("--scenario", action="append", type=parse_scenario, help="NAME[:KEY=VALUE,...] (repeatable)")
    parser.add_argument("--rounds", type=int, default=1, help="phases per scenario, alternating")
    parser.add_argument("--users", type=int, default=4)
    parser.add_argument("--spawn-rate", type=float, default=0, help="users started per second (default: all at once)")
    parser.add_argument("--duration", default="60s", help="locust --run-time per phase, e.g. 45s, 10m")
    parser.add_argument("--profile", choices=("mixed", "frames"), default="mixed")
    parser.add_argument("--sfew", help="send these real frames (<Class>/*.jpg) instead of synthetic ones")
    parser.add_argument("--sfew-limit", type=int, default=0, help="use at most this many of them")
    parser.add_argument("--model", help="EMOTION_MODEL_PATH for every scenario")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for every scenario (repeatable)")
    parser.add_argument("--max-error-rate", type=float, default=0.01)
    parser.add_argument("--max-p95-ms", type=float, default=0)
    parser.add_argument("--allow-shed", action="store_true", help="429/503 are shed load, not errors")
    parser.add_argument("--shed-backoff", type=float, default=0.0, help="seconds a user waits after a 429/503")
    parser.add_argument(
        "--reference", action="store_true", help="after each phase, time the same frames in process (profile frames)"
    )
    parser.add_argument(
        "--fer",
        type=Path,
        metavar="VENV",
        help="after each round, the fer library in one process on the same frames, from this virtual environment "
        "(benchmarks/fer_library.py says how to make it, e.g. .cache/fer-venv); needs --sfew",
    )
    parser.add_argument("--warmup-requests", type=int, default=4)
    parser.add_argument("--rss-interval", type=float, default=2.0, help="seconds between memory samples")
    parser.add_argument("--rss-window", type=float, default=60.0, help="seconds averaged at start and end for growth")
    parser.add_argument("--ready-timeout", type=float, default=240.0)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.spawn_rate:
        args.spawn_rate = args.users
    if args.reference and args.profile != "frames":
        parser.error("--reference compares like with like: use it with --profile frames")
    if args.fer and not (args.sfew and args.profile == "frames"):
        parser.error("--fer compares frames with frames: use it with --profile frames and --sfew")
    if args.fer and not (args.fer / "bin" / "python").exists():
        parser.error(f"--fer {args.fer}: no virtual environment there (see benchmarks/fer_library.py)")
    try:
        phase_s = duration_s(args.duration) if args.fer else 0.0  # otherwise locust alone reads --duration
    except ValueError as exc:
        parser.error(str(exc))
    scenarios: list[Scenario] = args.scenario or [Scenario("default", {})]
    if len({s.name for s in scenarios}) != len(scenarios):
        parser.error("scenario names must differ")
    base_env = dict(kv.split("=", 1) for kv in args.env)
    if args.model:
        base_env["EMOTION_MODEL_PATH"] = str(Path(args.model).resolve())

    out = RESULTS / args.name
    out.mkdir(parents=True, exist_ok=True)
    command = "python -m loadtests.run " + " ".join(argv if argv is not None else sys.argv[1:])
    fer: FerWorker | None = None
    fer_rounds: list[dict[str, Any]] = []
    try:
        for s in scenarios:
            start_server(s, base_env, out / s.name)
        cached_synth_images()  # made once, while the servers start
        for s in scenarios:
            wait_ready(s, args.ready_timeout)
            warm_up(s, args.warmup_requests)
            print(f"[{s.name}] ready on {s.url}: detector {s.model.get('preprocess', {}).get('detector')}", flush=True)
        frames: list[Path] = []
        if args.fer:
            frames = sfew_paths(args.sfew, args.sfew_limit)
            fer = FerWorker(args.fer / "bin" / "python", frames)
        t0 = time.monotonic()
        for round_ in range(1, args.rounds + 1):
            for s in scenarios:
                sampler = RssSampler(s, args.rss_interval, t0)
                sampler.start()
                phase = run_locust(s, args, out / s.name / f"round{round_}")
                sampler.stop.set()
                sampler.join()
                if args.reference:
                    phase["reference"] = run_reference(s, args, base_env)
                s.phases.append(phase)
                print(
                    f"[{s.name}] round {round_}: {phase['requests']} requests, {phase['requests_per_s']:.2f} req/s, "
                    f"p50 {phase['p50_ms']} ms, p95 {phase['p95_ms']} ms, status {phase['tally'].get('status')}, "
                    f"exit {phase['exit_code']}",
                    flush=True,
                )
            if fer:
                start = fer_rounds[-1]["next_start"] if fer_rounds else 0
                fer_rounds.append(run_fer(fer, len(frames), phase_s, start))
                print(f"[fer] round {round_}: {fer_rounds[-1]['frames_per_s']:.2f} frames/s", flush=True)
    finally:
        if fer:
            fer.close()
        for s in scenarios:
            stop_server(s)
    for s in scenarios:
        with open(out / s.name / "rss.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["seconds", "rss_mib"])
            writer.writerows((f"{t:.1f}", f"{m:.1f}") for t, m in s.rss)
    summary = {
        "name": args.name,
        "command": command,
        "users": args.users,
        "profile": args.profile,
        "duration": args.duration,
        "rounds": args.rounds,
        "frames": args.sfew or "synthetic",
        "cpus": os.cpu_count(),
        "scenarios": [summarise(s, args.rss_window) for s in scenarios],
    }
    if fer:
        summary["fer"] = fer_summary(fer_rounds, fer.info)
        for s, row in zip(scenarios, summary["scenarios"], strict=True):
            row["vs_fer"] = against_fer(s, row["images_per_s"], fer_rounds, summary["fer"]["frames_per_s"])
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    text = markdown(summary)
    (out / "summary.md").write_text(text)
    print(text)
    return max((code for s in scenarios for code in (p["exit_code"] for p in s.phases)), default=1)


if __name__ == "__main__":
    sys.exit(main())
