"""Where the time of one request goes: decode, detect, crop and preprocess, inference.

Every stage runs on the same frames in one run. Decode, detection and cropping run on one
thread (``cv2.setNumThreads(1)``) and are reported per image as wall and thread-CPU
milliseconds; inference runs an ONNX Runtime session as the service makes it (all cores by
default) on the real face crops, repeated to fill each batch size, and is reported per batch
and per face. A last section times the whole in-process path (decode, detect, crop, classify
one image at batch size 1) with OpenCV's default threading, as one request to an idle service
would run it: the reference for the serving-overhead goal.

    python -m benchmarks.stages                                # 60 SFEW frames, CPU
    python -m benchmarks.stages --synthetic                    # the load test's synthetic frames
    python -m benchmarks.stages --providers cuda --frames 20   # on a GPU machine

Results: benchmarks/results/stages.{json,md} (or ``--out``).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnxruntime as ort

from benchmarks.results_io import save_results
from benchmarks.sfew import RESULTS, sfew_frames
from face_pipeline import FAST_DETECTOR, PAPER_DETECTOR, Box, decode_image, detect_faces
from face_pipeline.metadata import SHIPPED_MODEL, params_from_metadata
from face_pipeline.params import YUNET_DETECTOR
from face_pipeline.preprocess import crop_face, normalize
from service.model import session_options

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = ROOT / SHIPPED_MODEL
BATCHES = (1, 2, 4, 8, 16, 32, 64, 128, 256)
PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}
# Read at import, before this run adds its own load: how busy the machine was when it started.
LOAD_AT_START = os.getloadavg()[0]


def timed(func: Callable[[], Any]) -> tuple[Any, float, float]:
    """Result, wall ms, thread-CPU ms."""
    wall, cpu = time.perf_counter(), time.thread_time()
    out = func()
    return out, (time.perf_counter() - wall) * 1000, (time.thread_time() - cpu) * 1000


def load_frames(args: argparse.Namespace) -> tuple[list[bytes], str]:
    if args.synthetic:
        from loadtests.images import cached_synth_images

        frames = cached_synth_images()["frame"]
        return frames[: args.frames], "synthetic 720x576 frames (loadtests.images)"
    paths = sfew_frames(args.sfew)
    paths = paths[:: max(1, len(paths) // args.frames)][: args.frames]
    return [p.read_bytes() for p in paths], f"{len(paths)} SFEW frames (every {max(1, 675 // args.frames)}th)"


def session(model: Path, provider: str, threads: int) -> ort.InferenceSession:
    options = session_options(threads)
    providers = [PROVIDERS[provider]] + (["CPUExecutionProvider"] if provider != "cpu" else [])
    sess = ort.InferenceSession(str(model), options, providers=providers)
    active = sess.get_providers()[0]
    if active != PROVIDERS[provider]:
        raise SystemExit(f"asked for {PROVIDERS[provider]} but ONNX Runtime runs {active}")
    return sess


def bench_inference(sess: ort.InferenceSession, faces: np.ndarray, batch: int, min_s: float) -> dict[str, Any]:
    """Time session.run on ``batch`` faces (normalised float32) until ``min_s`` has passed."""
    reps = int(np.ceil(batch / len(faces)))
    x = np.ascontiguousarray(np.concatenate([faces] * reps)[:batch])
    for _ in range(2):  # warm-up: first runs allocate
        sess.run(["probabilities"], {"input": x})
    times = []
    start = time.perf_counter()
    while time.perf_counter() - start < min_s or len(times) < 3:
        t = time.perf_counter()
        sess.run(["probabilities"], {"input": x})
        times.append((time.perf_counter() - t) * 1000)
    ms = statistics.median(times)
    return {"batch": batch, "ms_per_batch": ms, "ms_per_face": ms / batch, "faces_per_s": 1000 * batch / ms}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sfew", help="SFEW images folder (default $SFEW_DIR or ../shared/data/sfew675/images)")
    parser.add_argument("--synthetic", action="store_true", help="use the load test's synthetic frames instead")
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--model", type=Path, default=Path(os.environ.get("EMOTION_MODEL_PATH") or DEFAULT_MODEL))
    parser.add_argument("--providers", default="cpu", help="comma list of cpu,cuda")
    parser.add_argument("--threads", type=int, default=0, help="ONNX Runtime intra-op threads (0: its default)")
    parser.add_argument("--batches", default=",".join(map(str, BATCHES)))
    parser.add_argument("--min-seconds", type=float, default=1.0, help="per batch size")
    parser.add_argument("--out", type=Path, default=RESULTS / "stages")
    args = parser.parse_args(argv)

    blobs, source = load_frames(args)
    sess0 = ort.InferenceSession(str(args.model), providers=["CPUExecutionProvider"])
    params = params_from_metadata(sess0.get_modelmeta().custom_metadata_map)
    del sess0
    detectors: dict[str, Callable[[np.ndarray], list[Box]]] = {
        "paper (max_side 1280, 1.1, 5)": lambda rgb: detect_faces(rgb, PAPER_DETECTOR),
        f"FAST_DETECTOR (max_side {FAST_DETECTOR.max_side}, {FAST_DETECTOR.scale_factor}, "
        f"{FAST_DETECTOR.min_neighbors})": lambda rgb: detect_faces(rgb, FAST_DETECTOR),
        f"YuNet (max_side {YUNET_DETECTOR.max_side})": lambda rgb: detect_faces(rgb, YUNET_DETECTOR),
    }

    # ---- single-threaded stages, every frame through every stage
    cv2.setNumThreads(1)
    detect_faces(np.zeros((64, 64, 3), np.uint8), PAPER_DETECTOR)  # load the cascade outside the timings
    rows: dict[str, list[tuple[float, float]]] = {"decode": [], "crop + preprocess (paper boxes)": []}
    rows.update({name: [] for name in detectors})
    faces_found: dict[str, int] = dict.fromkeys(detectors, 0)
    crops = []
    for blob in blobs:
        rgb, wall, cpu = timed(lambda blob=blob: decode_image(blob))
        rows["decode"].append((wall, cpu))
        boxes: list[Box] = []
        for name, detect in detectors.items():
            found, wall, cpu = timed(lambda detect=detect, rgb=rgb: detect(rgb))
            rows[name].append((wall, cpu))
            faces_found[name] += len(found)
            if name.startswith("paper"):
                boxes = found

        def crop(rgb: np.ndarray = rgb, boxes: list[Box] = boxes) -> np.ndarray:
            cut = [crop_face(rgb, b, params) for b in boxes]
            side = params.input_size
            return normalize(np.stack(cut), params) if cut else np.empty((0, 3, side, side), np.float32)

        tensors, wall, cpu = timed(crop)
        rows["crop + preprocess (paper boxes)"].append((wall, cpu))
        crops.append(tensors)
    faces = np.concatenate([c for c in crops if len(c)]) if any(len(c) for c in crops) else None
    n_faces = 0 if faces is None else len(faces)
    stage_rows = []
    for name, values in rows.items():
        wall = float(np.mean([w for w, _ in values]))
        cpu = float(np.mean([c for _, c in values]))
        found = faces_found.get(name)
        stage_rows.append(
            {
                "stage": name,
                "ms_per_image_wall": wall,
                "ms_per_image_cpu": cpu,
                "images_per_s_one_core": 1000 / cpu if cpu else None,
                "faces_found": found,
            }
        )

    # ---- inference
    if faces is None:
        rng = np.random.default_rng(0)
        faces = normalize(rng.integers(0, 255, (8, params.input_size, params.input_size, 3), dtype=np.uint8), params)
    inference = []
    for provider in args.providers.split(","):
        sess = session(args.model, provider.strip(), args.threads)
        for batch in (int(b) for b in args.batches.split(",")):
            row = bench_inference(sess, faces, batch, args.min_seconds)
            row["provider"] = sess.get_providers()[0]
            inference.append(row)
            print(
                f"{row['provider']} batch {batch}: {row['ms_per_face']:.2f} ms/face, {row['faces_per_s']:.0f} faces/s"
            )

    # ---- the whole path for one image, as an idle service runs it (OpenCV default threads)
    cv2.setNumThreads(-1)
    sess = session(args.model, args.providers.split(",")[0].strip(), args.threads)
    e2e: dict[str, list[float]] = {"paper": [], "fast": []}
    for blob in blobs:
        for key, det in (("paper", PAPER_DETECTOR), ("fast", FAST_DETECTOR)):

            def whole(blob: bytes = blob, det: Any = det) -> np.ndarray:
                rgb = decode_image(blob)
                cut = [crop_face(rgb, b, params) for b in detect_faces(rgb, det)]
                if not cut:
                    return np.empty((0, 7), np.float32)
                return sess.run(["probabilities"], {"input": normalize(np.stack(cut), params)})[0]

            _, wall, _ = timed(whole)
            e2e[key].append(wall)
    end_to_end = {
        key: {
            "median_ms": statistics.median(v),
            "mean_ms": statistics.fmean(v),
            "images_per_s": 1000 / statistics.fmean(v),
        }
        for key, v in e2e.items()
    }

    summary = {
        "command": "python -m benchmarks.stages " + " ".join(argv if argv is not None else sys.argv[1:]),
        "source": source,
        "frames": len(blobs),
        "faces_cropped": n_faces,
        "model": str(args.model),
        "cpu_count": os.cpu_count(),
        "load_average_1min_at_start": LOAD_AT_START,
        "python": platform.python_version(),
        "onnxruntime": ort.__version__,
        "opencv": cv2.__version__,
        "stages": stage_rows,
        "inference": inference,
        "end_to_end_in_process": end_to_end,
    }
    save_results(summary, args.out, markdown(summary))


def _e2e_row(ms: list[float]) -> dict[str, float]:
    return {
        "median_ms": statistics.median(ms),
        "mean_ms": statistics.fmean(ms),
        "images_per_s": 1000 / statistics.fmean(ms),
    }


def markdown(s: dict[str, Any]) -> str:
    lines = [
        "# Per-stage cost",
        "",
        f"Command: `{s['command']}`",
        "",
        f"{s['source']}, {s['faces_cropped']} faces (paper-faithful boxes); {s['cpu_count']} CPU cores "
        f"(1-minute load average {s['load_average_1min_at_start']:.2f} at start); "
        f"ONNX Runtime {s['onnxruntime']}, OpenCV {s['opencv']}.",
        "",
        "## Decode, detect, crop (one thread)",
        "",
        "| stage | ms/image (wall) | ms/image (CPU) | images/s on one core | faces found |",
        "|---|---|---|---|---|",
    ]
    for r in s["stages"]:
        found = "" if r["faces_found"] is None else str(r["faces_found"])
        lines.append(
            f"| {r['stage']} | {r['ms_per_image_wall']:.1f} | {r['ms_per_image_cpu']:.1f} | "
            f"{r['images_per_s_one_core']:.1f} | {found} |"
        )
    lines += [
        "",
        "## Inference (ONNX Runtime, real face crops)",
        "",
        "| provider | batch | ms/batch | ms/face | faces/s |",
        "|---|---|---|---|---|",
    ]
    for r in s["inference"]:
        lines.append(
            f"| {r['provider']} | {r['batch']} | {r['ms_per_batch']:.2f} | {r['ms_per_face']:.2f} | "
            f"{r['faces_per_s']:.0f} |"
        )
    lines += [
        "",
        "## One image, whole path in process (decode, detect, crop, classify at batch 1; OpenCV default threads)",
        "",
        "| detector | median ms | mean ms | images/s |",
        "|---|---|---|---|",
    ]
    for key, r in s["end_to_end_in_process"].items():
        lines.append(f"| {key} | {r['median_ms']:.1f} | {r['mean_ms']:.1f} | {r['images_per_s']:.1f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
