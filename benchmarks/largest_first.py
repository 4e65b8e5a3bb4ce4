"""How much detection a client saves by asking for the largest face(s) only, and proof it is exact.

For every SFEW frame and each detector preset, ``detect_faces(rgb, params, limit=k)`` (the
largest-first scan of ``face_pipeline.largest_first``) is compared with the full scan's
``detect_faces(rgb, params)[:k]``: the boxes must be identical on every frame. Cost is thread
CPU milliseconds per frame on one thread (``cv2.setNumThreads(1)``), from the decoded frame to
the boxes, the variants interleaved frame by frame so the timings are side by side. Every limit
is served by the largest-first scan here (``--largest-first-up-to``), so the table shows where it
stops paying; the service uses it up to ``face_pipeline.detect.LARGEST_FIRST_UP_TO``.
Results: benchmarks/results/largest_first.{json,md}.

    python -m benchmarks.largest_first                # all 675 frames, 2 processes
    python -m benchmarks.largest_first --every 5      # a quick look at 135 frames
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from benchmarks.results_io import save_results
from benchmarks.sfew import RESULTS, run_meta, sfew_frames
from face_pipeline import FAST_DETECTOR, PAPER_DETECTOR, DetectorParams, detect_faces, read_image_file
from face_pipeline import detect as detect_module

PRESETS: dict[str, DetectorParams] = {"paper": PAPER_DETECTOR, "fast": FAST_DETECTOR}
LIMITS = (1, 2, 3, 20)  # 20: the service's default max_faces


def _init_worker(up_to: int) -> None:
    cv2.setNumThreads(1)
    detect_module.LARGEST_FIRST_UP_TO = up_to


def _timed(call: Any) -> tuple[Any, float]:
    start = time.thread_time()
    result = call()
    return result, (time.thread_time() - start) * 1e3


def measure_frame(path: Path) -> dict[str, Any]:
    """Per preset: full-scan ms, and per limit its ms and whether the boxes equal the full scan's."""
    rgb = read_image_file(str(path))
    out: dict[str, Any] = {}
    for name, params in PRESETS.items():
        full, full_ms = _timed(lambda params=params: detect_faces(rgb, params))
        row: dict[str, Any] = {"full_ms": full_ms, "faces": len(full)}
        for k in LIMITS:
            boxes, ms = _timed(lambda params=params, k=k: detect_faces(rgb, params, limit=k))
            row[f"limit{k}_ms"] = ms
            row[f"limit{k}_exact"] = boxes == full[:k]
        out[name] = row
    return out


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for name in PRESETS:
        per = [r[name] for r in rows]
        full = np.array([r["full_ms"] for r in per])
        entry: dict[str, Any] = {"frames": len(per), "with_face": sum(r["faces"] > 0 for r in per)}
        entry["full_ms"] = float(full.mean())
        for k in LIMITS:
            ms = np.array([r[f"limit{k}_ms"] for r in per])
            entry[f"limit{k}"] = {
                "ms": float(ms.mean()),
                "speedup": float(full.sum() / ms.sum()),
                "exact_frames": int(sum(r[f"limit{k}_exact"] for r in per)),
                "median_fraction_of_full": float(np.median(ms / full)),
            }
        summary[name] = entry
    return summary


def markdown(summary: dict[str, Any], meta: dict[str, Any]) -> str:
    lines = [
        "# Largest faces first: exact and cheaper",
        "",
        f"{meta['frames']} SFEW frames, one thread per process, {meta['cpu']}, load average at start "
        f"{meta['load_average']:.2f}. Detection CPU ms per frame (decoded frame to boxes).",
        "",
        "| detector | full scan | limit | ms/frame | less detection | identical to full scan[:limit] |",
        "|---|---|---|---|---|---|",
    ]
    for name, entry in summary.items():
        for k in LIMITS:
            row = entry[f"limit{k}"]
            lines.append(
                f"| {name} | {entry['full_ms']:.1f} | {k} | {row['ms']:.1f} | {row['speedup']:.2f}x "
                f"| {row['exact_frames']} / {entry['frames']} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sfew", help="SFEW images folder (default $SFEW_DIR or ../shared/data/sfew675/images)")
    parser.add_argument("--every", type=int, default=1, help="use every N-th frame (quick looks)")
    parser.add_argument("--workers", type=int, default=2, help="processes, each single-threaded")
    parser.add_argument(
        "--largest-first-up-to",
        type=int,
        default=max(LIMITS),
        help="scan largest first up to this limit (default: every limit measured; the service: "
        f"{detect_module.LARGEST_FIRST_UP_TO})",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "largest_first")
    args = parser.parse_args(argv)

    frames = sfew_frames(args.sfew, args.every)
    meta = {
        **run_meta(frames, args.sfew),
        "largest_first_up_to": args.largest_first_up_to,
    }
    with ProcessPoolExecutor(args.workers, initializer=_init_worker, initargs=(args.largest_first_up_to,)) as pool:
        rows = list(tqdm(pool.map(measure_frame, frames, chunksize=4), total=len(frames), unit="frame"))
    summary = summarise(rows)
    mismatched = [
        f"{path} {name} limit {k}"
        for path, row in zip(frames, rows, strict=True)
        for name in PRESETS
        for k in LIMITS
        if not row[name][f"limit{k}_exact"]
    ]
    save_results({"meta": meta, "summary": summary, "mismatched": mismatched}, args.out, markdown(summary, meta))
    if mismatched:
        raise SystemExit(f"{len(mismatched)} results differ from the full scan: {mismatched[:5]}")


if __name__ == "__main__":
    main()
