"""This project's pipeline against the widely used `fer` library, on the same SFEW frames.

`fer` (justinshenk/fer, 25.10.3) detects faces with OpenCV's Haar cascade (full resolution,
scale factor 1.1, 5 neighbours, 50 px) and classifies them with a quantised mini-Xception in
TensorFlow Lite. It needs TensorFlow, so it lives in its own virtual environment, never the
project's:

    python3.11 -m venv .cache/fer-venv
    .cache/fer-venv/bin/pip download --no-deps tensorflow-cpu==2.21.0 -d .cache/fer-wheels
    .cache/fer-venv/bin/pip install --no-deps fer==25.10.3
    .cache/fer-venv/bin/pip install .cache/fer-wheels/tensorflow_cpu-2.21.0-*.whl \\
        opencv-python-headless==4.14.0.94 pandas tqdm requests pillow "setuptools<81"

(``--no-deps`` for fer: its other requirements, facenet-pytorch, moviepy and ffmpeg-python,
are only for MTCNN and video, which this benchmark does not use.)

Both run one process each, with their libraries' default threading, over the same frames in
alternating chunks (fer's chunk, then ours with each detector), so they share the machine's
noise. Ours is the service's path in process: decode, detect, crop, ONNX Runtime on that
frame's faces. With ``--loadtest``, the service's measured /predict throughput on SFEW frames
(a ``loadtests.run`` summary.json) is put against fer's too.

    python -m benchmarks.fer_library --frames 120 --loadtest loadtests/results/goal1/summary.json

The service against fer in one run, their phases alternating: ``python -m loadtests.run ... --fer .cache/fer-venv``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from benchmarks.results_io import save_results
from benchmarks.sfew import RESULTS, ROOT, sfew_frames
from face_pipeline import PAPER_DETECTOR, DetectorParams, decode_image, detect_faces
from face_pipeline.metadata import SHIPPED_MODEL, params_from_metadata
from face_pipeline.params import YUNET_DETECTOR
from face_pipeline.preprocess import crop_face, normalize
from service.model import session_options

FER_VENV = ROOT / ".cache" / "fer-venv"
WORKER = ROOT / "benchmarks" / "fer_worker.py"
DEFAULT_MODEL = ROOT / SHIPPED_MODEL
# Read at import, before this run adds its own load: how busy the machine was when it started.
LOAD_AT_START = os.getloadavg()[0]


class FerProcess:
    """``benchmarks/fer_worker.py`` in fer's own environment, spoken to in JSON lines over stdin/stdout."""

    def __init__(self, python: Path, args: list[str], worker: Path = WORKER) -> None:
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        self.proc = subprocess.Popen(
            [str(python), str(worker), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        self.info = self._read()
        if not self.info.get("ready"):
            raise RuntimeError(f"the fer worker did not start: {self.info}")

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"the fer worker exited ({self.proc.poll()})")
            if line.startswith("{"):  # TensorFlow prints its own lines too
                return json.loads(line)

    def ask(self, line: str) -> dict[str, Any]:
        """One request line in, the worker's JSON answer out."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class FerWorker(FerProcess):
    """Timing mode: the frames are read once; each ask times fer over a range of them."""

    def __init__(self, python: Path, frames: list[Path]) -> None:
        super().__init__(python, [str(f) for f in frames])

    def run(self, start: int, end: int) -> dict[str, Any]:
        return self.ask(f"{start} {end}")


class Ours:
    """The service's per-image path, in process."""

    def __init__(self, model: Path) -> None:
        self.session = ort.InferenceSession(str(model), session_options(), providers=["CPUExecutionProvider"])
        self.params = params_from_metadata(self.session.get_modelmeta().custom_metadata_map)

    def run(self, blobs: list[bytes], detector: DetectorParams, limit: int | None = None) -> tuple[float, int]:
        start = time.perf_counter()
        faces = 0
        for blob in blobs:
            rgb = decode_image(blob)
            crops = [crop_face(rgb, box, self.params) for box in detect_faces(rgb, detector, limit=limit)]
            if crops:
                self.session.run(["probabilities"], {"input": normalize(np.stack(crops), self.params)})
            faces += len(crops)
        return time.perf_counter() - start, faces


def loadtest_rows(path: Path) -> list[dict[str, Any]]:
    summary = json.loads(path.read_text())
    return [
        {
            "name": f"service /predict, run {path.parent.name}, scenario {s['scenario']} ({summary['users']} users)",
            "frames_per_s": s["images_per_s"],
            "faces_per_s": s["faces_per_s"],
            "source": str(path),
        }
        for s in summary["scenarios"]
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sfew", help="SFEW images folder (default $SFEW_DIR or ../shared/data/sfew675/images)")
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--chunk", type=int, default=20, help="frames per alternation")
    parser.add_argument("--venv", type=Path, default=FER_VENV)
    parser.add_argument("--model", type=Path, default=Path(os.environ.get("EMOTION_MODEL_PATH") or DEFAULT_MODEL))
    parser.add_argument("--loadtest", type=Path, action="append", default=[], help="a loadtests.run summary.json")
    parser.add_argument("--out", type=Path, default=RESULTS / "fer_library")
    args = parser.parse_args(argv)

    frames = sfew_frames(args.sfew)
    frames = frames[:: max(1, len(frames) // args.frames)][: args.frames]
    blobs = [p.read_bytes() for p in frames]
    python = args.venv / "bin" / "python"
    ours = Ours(args.model)
    # (detector, max_faces): every face, as fer and the service's default; the largest only.
    detectors = {
        "paper": (PAPER_DETECTOR, None),
        "yunet": (YUNET_DETECTOR, None),
        "paper-largest": (PAPER_DETECTOR, 1),
        "yunet-largest": (YUNET_DETECTOR, 1),
    }
    totals: dict[str, list[float]] = {k: [0.0, 0] for k in ("fer", *detectors)}
    fer_info: dict[str, Any] = {}
    fer_error = None
    worker = None
    if not python.exists():
        fer_error = f"no fer virtual environment at {args.venv} (see this module's docstring to make one)"
    else:
        try:
            worker = FerWorker(python, frames)
            fer_info = worker.info
        except RuntimeError as exc:
            fer_error = str(exc)
    ours.run(blobs[:2], PAPER_DETECTOR)  # warm-up
    for start in range(0, len(blobs), args.chunk):
        end = min(len(blobs), start + args.chunk)
        if worker:
            res = worker.run(start, end)
            totals["fer"][0] += res["seconds"]
            totals["fer"][1] += res["faces"]
        for key, (det, limit) in detectors.items():
            seconds, faces = ours.run(blobs[start:end], det, limit)
            totals[key][0] += seconds
            totals[key][1] += faces
        print(f"{end}/{len(blobs)} frames: " + ", ".join(f"{k} {v[0]:.1f} s" for k, v in totals.items()), flush=True)
    if worker:
        worker.close()

    rows = []
    names = {
        "fer": f"fer {fer_info.get('fer', '')} (TF {fer_info.get('tensorflow', '')}), one process",
        "paper": "ours in process, paper-faithful detector (max_side 1280, 1.1, 5)",
        "yunet": f"ours in process, YuNet (max_side {YUNET_DETECTOR.max_side})",
        "paper-largest": "ours in process, paper-faithful detector, largest face only (max_faces=1)",
        "yunet-largest": "ours in process, YuNet, largest face only (max_faces=1)",
    }
    for key, (seconds, faces) in totals.items():
        if key == "fer" and not worker:
            continue
        rows.append({"name": names[key], "frames_per_s": len(blobs) / seconds, "faces_per_s": faces / seconds})
    for path in args.loadtest:
        rows += loadtest_rows(path)
    fer_fps = rows[0]["frames_per_s"] if worker else None
    for row in rows:
        row["vs_fer"] = row["frames_per_s"] / fer_fps if fer_fps else None
    summary = {
        "command": "python -m benchmarks.fer_library " + " ".join(argv if argv is not None else sys.argv[1:]),
        "frames": len(blobs),
        "model": str(args.model),
        "fer_error": fer_error,
        "cpu_count": os.cpu_count(),
        "rows": rows,
    }
    lines = [
        "# The `fer` library vs this project, same SFEW frames",
        "",
        f"Command: `{summary['command']}`",
        "",
        f"{len(blobs)} SFEW frames, {os.cpu_count()} CPU cores (1-minute load average {LOAD_AT_START:.2f} at start); "
        "in-process rows alternate "
        "chunk by chunk.",
        "",
    ]
    if fer_error:
        lines += [f"**fer could not run:** {fer_error}", ""]
    lines += ["| pipeline | frames/s | faces/s | vs fer |", "|---|---|---|---|"]
    for r in rows:
        ratio = f"{r['vs_fer']:.2f}x" if r["vs_fer"] else "-"
        lines.append(f"| {r['name']} | {r['frames_per_s']:.2f} | {r['faces_per_s']:.2f} | {ratio} |")
    save_results(summary, args.out, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
