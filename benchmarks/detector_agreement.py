"""Which cheaper Viola-Jones settings find the same largest face as the paper-faithful detector?

For every SFEW frame the paper-faithful detector (``PAPER_DETECTOR``: full resolution, scale
factor 1.1, 5 neighbours, 30 px) gives the reference boxes. Each candidate is scored on the
frames where the reference finds a face (556 of 675): it agrees on a frame when its largest box
has IoU >= 0.5 with the reference's largest box. Cost is CPU milliseconds per frame on one
thread (``cv2.setNumThreads(1)``, thread CPU time, so the training job running beside it
perturbs it less than wall time), everything from the decoded RGB frame to the boxes.

Candidates:

- single-stage ``DetectorParams`` (max_side, scale_factor, min_neighbors): what the service
  can be configured with today. One cascade scan (minNeighbors=0) per (max_side,
  scale_factor) is grouped once per min_neighbors, exactly as detectMultiScale groups (checked
  against ``detect_faces`` at start-up), so the neighbour variants cost no extra scan.
- two-stage (``benchmarks.two_stage``): candidates from a coarse scan of a shrunk copy, then
  the paper-faithful detector's own windows recomputed around each candidate only.
- the paper's detector on the frame shifted by one pixel: not a candidate but the noise floor,
  how often the reference itself changes its mind over a one-pixel shift.

Every candidate runs on the same frames in the same process, interleaved frame by frame, so
the timings are side by side. Results: benchmarks/results/detector_agreement.{json,md}.

    python -m benchmarks.detector_agreement                 # all 675 frames, 2 processes
    python -m benchmarks.detector_agreement --every 5       # a quick look at 135 frames
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from benchmarks.results_io import save_results
from benchmarks.sfew import RESULTS, sfew_dir, sfew_frames
from benchmarks.two_stage import (
    Pyramid,
    TwoStageParams,
    cluster,
    coarse_windows,
    equalized_grey,
    raw_windows,
    refine,
)
from face_pipeline import FAST_DETECTOR, PAPER_DETECTOR, Box, DetectorParams, detect_faces, iou, read_image_file
from face_pipeline.detect import detection_grey, image_boxes
from face_pipeline.largest_first import group

IOU_AGREE = 0.5
GOAL = 0.97


@dataclass(frozen=True)
class Scan:
    """One cascade pass over a whole (possibly shrunk, possibly shifted) frame."""

    max_side: int
    scale_factor: float
    shift: int = 0  # crop this many pixels off the top and left first (noise-floor check)

    @property
    def key(self) -> str:
        return f"scan {self.max_side}/{self.scale_factor}" + (f" shift {self.shift}" if self.shift else "")


@dataclass(frozen=True)
class Candidate:
    name: str
    kind: str  # paper | single | two-stage | noise-floor
    settings: dict[str, Any]
    scan: Scan | None = None  # single-stage: the scan it groups
    min_neighbors: int = 5
    two_stage: TwoStageParams | None = None


def single(max_side: int, scale_factor: float, min_neighbors: int, kind: str = "single") -> Candidate:
    params = DetectorParams(max_side=max_side, scale_factor=scale_factor, min_neighbors=min_neighbors)
    name = f"max_side {max_side}, scale {scale_factor}, neighbours {min_neighbors}"
    return Candidate(name, kind, params.to_dict(), Scan(max_side, scale_factor), min_neighbors)


def grids(name: str) -> list[Candidate]:
    paper = PAPER_DETECTOR
    out = [single(paper.max_side, paper.scale_factor, paper.min_neighbors, kind="paper")]
    floor = Scan(paper.max_side, paper.scale_factor, shift=1)
    out.append(Candidate("paper, frame shifted by 1 px", "noise-floor", paper.to_dict(), floor, paper.min_neighbors))
    if name == "two-stage":
        tight = {"pad": 0.3, "min_ratio": 0.6, "max_ratio": 1.7, "sync": 4}
        mid = {"pad": 0.4, "min_ratio": 0.55, "max_ratio": 1.8, "sync": 6}
        stages = [
            TwoStageParams(paper, 288, 1.2, 0, 16, **tight),
            TwoStageParams(paper, 288, 1.2, 0, 16, **mid),
            TwoStageParams(paper, 288, 1.2, 0, 18, **tight),
            TwoStageParams(paper, 320, 1.25, 0, 16, **tight),
            TwoStageParams(paper, 360, 1.3, 0, 16, **tight),
            TwoStageParams(paper, 288, 1.2, 0, 20, **tight),
        ]
        return out + [Candidate(ts.label, "two-stage", ts.to_dict(), two_stage=ts) for ts in stages]
    if name == "quick":
        sides, factors, neighbours = (360, 480), (1.1, 1.2), (2, 3, 5)
        full_res: tuple[float, ...] = (1.3,)
        stages = [
            TwoStageParams(paper, 288, 1.2, 1),
            TwoStageParams(paper, 288, 1.2, 0, 16),
        ]
    else:
        sides, factors, neighbours = (288, 320, 360, 480, 540), (1.1, 1.2, 1.3), (2, 3, 4, 5)
        full_res = (1.2, 1.3)
        tight = {"pad": 0.3, "min_ratio": 0.6, "max_ratio": 1.7, "sync": 4}
        stages = [
            TwoStageParams(paper, 288, 1.2, 1),
            TwoStageParams(paper, 288, 1.2, 0, 16),
            TwoStageParams(paper, 288, 1.2, 0, 20, **tight),
            TwoStageParams(paper, 240, 1.3, 0, 16, **tight),
            TwoStageParams(paper, 360, 1.2, 0, 16),
        ]
    out += [single(s, f, n) for s in sides for f in factors for n in neighbours if (s, f) != (540, 1.1)]
    out += [single(paper.max_side, f, n) for f in full_res for n in (2, 3, 5)]
    out += [Candidate(ts.label, "two-stage", ts.to_dict(), two_stage=ts) for ts in stages]
    return out


# ---------------------------------------------------------------- per frame, in a worker process


def _init_worker() -> None:
    cv2.setNumThreads(1)
    # Load the cascade outside the timings.
    detect_faces(np.zeros((64, 64, 3), np.uint8), PAPER_DETECTOR)


def _clock() -> float:
    return time.thread_time()


def _timed(func: Callable[[], Any]) -> tuple[Any, float]:
    start = _clock()
    out = func()
    return out, (_clock() - start) * 1000.0


def _scan(rgb: np.ndarray, scan: Scan) -> tuple[np.ndarray, float]:
    """Raw windows and the shrink factor, exactly as ``detect_faces`` would scan."""
    if scan.shift:
        rgb = rgb[scan.shift :, scan.shift :]
    params = DetectorParams(max_side=scan.max_side, scale_factor=scan.scale_factor)
    grey, scale = detection_grey(rgb, params)
    return raw_windows(grey, params.cascade, params.scale_factor, max(1, round(params.min_size * scale))), scale


def _single_boxes(rgb: np.ndarray, windows: np.ndarray, scale: float, cand: Candidate) -> list[Box]:
    assert cand.scan is not None
    height, width = rgb.shape[:2]
    shift = cand.scan.shift
    boxes = image_boxes(
        group(windows, cand.min_neighbors), scale, width - shift, height - shift, PAPER_DETECTOR.min_size
    )
    return [Box(b.x + shift, b.y + shift, b.width, b.height) for b in boxes]


def _coarse_key(ts: TwoStageParams) -> tuple[int, float, int | None]:
    return (ts.coarse_max_side, ts.coarse_scale_factor, ts.coarse_stages)


def evaluate_frame(path: str, candidates: list[Candidate], rotate: int) -> dict[str, Any]:
    """Boxes and CPU ms of every candidate on one frame (work order rotated frame to frame)."""
    rgb = read_image_file(path)
    scans = sorted({c.scan for c in candidates if c.scan is not None}, key=lambda s: s.key)
    coarse = sorted({_coarse_key(c.two_stage) for c in candidates if c.two_stage}, key=str)
    jobs: list[tuple[str, Any]] = [("scan", s) for s in scans] + [("coarse", c) for c in coarse]
    rotate %= len(jobs)
    scanned: dict[Scan, tuple[np.ndarray, float, float]] = {}
    coarse_done: dict[tuple[int, float, int | None], tuple[np.ndarray, np.ndarray, float, float]] = {}
    for kind, job in jobs[rotate:] + jobs[:rotate]:
        if kind == "scan":
            (windows, scale), ms = _timed(lambda job=job: _scan(rgb, job))
            scanned[job] = (windows, scale, ms)
        else:
            probe = TwoStageParams(coarse_max_side=job[0], coarse_scale_factor=job[1], coarse_stages=job[2])
            grey, ms_grey = _timed(lambda: equalized_grey(rgb))
            (windows, scale), ms = _timed(lambda probe=probe, grey=grey: coarse_windows(grey, probe))
            coarse_done[job] = (grey, windows, scale, ms_grey + ms)

    out: dict[str, Any] = {}
    height, width = rgb.shape[:2]
    for cand in candidates:
        if cand.scan is not None:
            windows, scale, ms = scanned[cand.scan]
            boxes, ms_group = _timed(lambda c=cand, w=windows, s=scale: _single_boxes(rgb, w, s, c))
            out[cand.name] = ([tuple(b) for b in boxes], ms + ms_group)
        else:
            ts = cand.two_stage
            assert ts is not None
            grey, windows, scale, ms = coarse_done[_coarse_key(ts)]

            def second(ts: TwoStageParams = ts, w: np.ndarray = windows, s: float = scale, g: np.ndarray = grey):
                found = image_boxes(cluster(w, ts.coarse_min_neighbors), s, width, height, 1)
                return refine(Pyramid(g, ts.final), found, ts)

            boxes, ms_refine = _timed(second)
            out[cand.name] = ([tuple(b) for b in boxes], ms + ms_refine)
    return out


def check_grouping(path: Path) -> None:
    """The scan-once-group-many shortcut must give exactly ``detect_faces``'s boxes."""
    rgb = read_image_file(str(path))
    for params in (PAPER_DETECTOR, FAST_DETECTOR, DetectorParams(max_side=480, scale_factor=1.15, min_neighbors=3)):
        cand = single(params.max_side, params.scale_factor, params.min_neighbors)
        assert cand.scan is not None
        windows, scale = _scan(rgb, cand.scan)
        mine = _single_boxes(rgb, windows, scale, cand)
        if mine != detect_faces(rgb, params):
            raise SystemExit(f"grouping shortcut disagrees with detect_faces on {path} for {params}")


# ---------------------------------------------------------------- scoring


def largest(boxes: list[tuple[int, ...]]) -> Box | None:
    return Box(*boxes[0]) if boxes else None


def score(candidates: list[Candidate], results: list[dict[str, Any]], reference: str) -> list[dict[str, Any]]:
    ref_largest = [largest(r[reference][0]) for r in results]
    with_face = [i for i, b in enumerate(ref_largest) if b is not None]
    no_face = [i for i, b in enumerate(ref_largest) if b is None]
    ref_ms = float(np.mean([r[reference][1] for r in results]))
    rows = []
    for cand in candidates:
        agree = []
        exact = 0
        for i in with_face:
            got = largest(results[i][cand.name][0])
            ref = ref_largest[i]
            assert ref is not None
            agree.append(got is not None and iou(ref, got) >= IOU_AGREE)
            exact += got == ref
        ms = np.array([r[cand.name][1] for r in results])
        missed = sum(1 for i in with_face if not results[i][cand.name][0])
        extra = sum(1 for i in no_face if results[i][cand.name][0])
        rows.append(
            {
                "name": cand.name,
                "kind": cand.kind,
                "settings": cand.settings,
                "agreement": float(np.mean(agree)) if agree else float("nan"),
                "agree_frames": int(np.sum(agree)),
                "identical_largest_box_frames": exact,
                "frames_with_reference_face": len(with_face),
                "missed_frames": missed,
                "found_on_reference_no_face_frames": extra,
                "boxes_per_frame": float(np.mean([len(r[cand.name][0]) for r in results])),
                "ms_per_frame": float(ms.mean()),
                "ms_p95": float(np.percentile(ms, 95)),
                "speedup_vs_paper": ref_ms / float(ms.mean()),
                "meets_goal": bool(agree) and float(np.mean(agree)) >= GOAL,
            }
        )
    return sorted(rows, key=lambda r: r["ms_per_frame"])


def frontier(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows no other row beats on both cost and agreement (cheapest first)."""
    best = -1.0
    out = []
    for row in rows:  # sorted by cost
        if row["kind"] in ("paper", "noise-floor"):
            continue
        if row["agreement"] > best:
            out.append(row)
            best = row["agreement"]
    return out


def markdown(summary: dict[str, Any]) -> str:
    rows = summary["rows"]
    lines = [
        "# Detector agreement with the paper-faithful Viola-Jones (SFEW 675)",
        "",
        f"Frames: {summary['frames']} ({summary['frames_with_reference_face']} where the paper-faithful detector "
        f"finds a face). Agreement: share of those whose largest box has IoU >= {IOU_AGREE} with the reference's "
        f"largest box. Cost: CPU ms per 720x576 frame on one thread (detection only, decoded frame in, boxes out), "
        f"all candidates measured side by side in one run ({summary['workers']} processes, "
        f"{summary['cpu_count']} cores shared with other work).",
        "",
        f"Command: `{summary['command']}`",
        "",
        f"Reference (paper): {summary['paper_ms_per_frame']:.1f} ms/frame. Noise floor (the same detector on the "
        f"frame shifted by one pixel): {100 * summary['noise_floor_agreement']:.1f}% agreement.",
        "",
        "## Cheapest settings at or above 97%",
        "",
    ]
    winners = [r for r in rows if r["meets_goal"] and r["kind"] not in ("paper", "noise-floor")]
    lines += _table(winners[:8]) if winners else ["None of the candidates reaches 97%."]
    lines += ["", "## Frontier (nothing else is both cheaper and more faithful)", ""]
    lines += _table(frontier(rows))
    lines += ["", "## All candidates, cheapest first", ""]
    lines += _table(rows)
    return "\n".join(lines) + "\n"


TABLE_HEAD = (
    "| settings | kind | agreement | agree/frames | identical box | missed | found on no-face frames "
    "| ms/frame | p95 ms | speed-up |"
)


def _table(rows: list[dict[str, Any]]) -> list[str]:
    out = [TABLE_HEAD, "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        cells = [
            r["name"],
            r["kind"],
            f"{100 * r['agreement']:.1f}%",
            f"{r['agree_frames']}/{r['frames_with_reference_face']}",
            str(r["identical_largest_box_frames"]),
            str(r["missed_frames"]),
            str(r["found_on_reference_no_face_frames"]),
            f"{r['ms_per_frame']:.1f}",
            f"{r['ms_p95']:.1f}",
            f"{r['speedup_vs_paper']:.2f}x",
        ]
        out.append("| " + " | ".join(cells) + " |")
    return out


def run_frames(frames: list[Path], candidates: list[Candidate], workers: int) -> Iterator[dict[str, Any]]:
    paths = [str(p) for p in frames]
    if workers <= 1:
        _init_worker()
        for i, p in enumerate(paths):
            yield evaluate_frame(p, candidates, i)
        return
    # spawn, not fork: a fork taken after OpenCV started its thread pool can hang.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker) as pool:
        yield from pool.map(evaluate_frame, paths, [candidates] * len(paths), range(len(paths)), chunksize=4)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sfew", help="SFEW images folder (default $SFEW_DIR or ../shared/data/sfew675/images)")
    parser.add_argument("--every", type=int, default=1, help="use every N-th frame (quick looks)")
    parser.add_argument("--workers", type=int, default=2, help="processes, each single-threaded")
    parser.add_argument("--grid", choices=("full", "quick", "two-stage"), default="full")
    parser.add_argument("--out", type=Path, default=RESULTS / "detector_agreement")
    args = parser.parse_args(argv)

    frames = sfew_frames(args.sfew, args.every)
    candidates = grids(args.grid)
    check_grouping(frames[0])
    reference = candidates[0].name
    start = time.perf_counter()
    results = []
    for i, res in enumerate(run_frames(frames, candidates, args.workers), 1):
        results.append(res)
        if i % 25 == 0 or i == len(frames):
            print(f"{i}/{len(frames)} frames, {time.perf_counter() - start:.0f} s", flush=True)
    rows = score(candidates, results, reference)
    by_kind = {r["kind"]: r for r in rows if r["kind"] in ("paper", "noise-floor")}
    summary = {
        "command": "python -m benchmarks.detector_agreement"
        + (f" --every {args.every}" if args.every != 1 else "")
        + (f" --grid {args.grid}" if args.grid != "full" else "")
        + (f" --workers {args.workers}" if args.workers != 2 else ""),
        "sfew": str(sfew_dir(args.sfew)),
        "frames": len(frames),
        "frames_with_reference_face": rows[0]["frames_with_reference_face"],
        "paper_ms_per_frame": by_kind["paper"]["ms_per_frame"],
        "noise_floor_agreement": by_kind["noise-floor"]["agreement"],
        "workers": args.workers,
        "cpu_count": os.cpu_count(),
        "opencv": cv2.__version__,
        "python": platform.python_version(),
        "wall_s": time.perf_counter() - start,
        "goal": GOAL,
        "rows": rows,
    }
    save_results(summary, args.out, markdown(summary))


if __name__ == "__main__":
    main()
