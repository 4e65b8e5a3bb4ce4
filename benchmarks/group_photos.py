"""Faces found in group photos: SFEW frames tiled into mosaics, so each face is small beside the photo.

A 720-px SFEW frame is what YuNet's 320-px detection side was chosen on; a phone photo of several
people is several times larger, with faces that are a smaller share of it. Here g x g frames (shuffled
with a fixed seed, so a mosaic mixes films) become one image of g x 720 px; a tile's face is the largest
face YuNet finds in the frame alone, and it counts as found when a box on the mosaic overlaps it with
IoU >= 0.5. Compared side by side on the same mosaics: YuNet always at 320 px (as before
``DetectorParams.min_face_px``), YuNet as it is now (``YUNET_DETECTOR``: faces of ``min_size`` pixels kept at
13.3 px or more, up to 1280 px) and the paper's Viola-Jones. Cost is thread CPU ms per mosaic on one
thread, from the decoded mosaic to the boxes. Results: benchmarks/results/group_photos.{json,md} and a
sample mosaic with every detector's boxes, reports/detectors/group_photo.jpg.

    python -m benchmarks.group_photos              # every frame, mosaics of 1, 2x2, 3x3, 4x4 (~5 min)
    python -m benchmarks.group_photos --every 3    # a quicker look
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from benchmarks.results_io import save_results
from benchmarks.sfew import RESULTS, ROOT, run_meta, sfew_frames
from face_pipeline import PAPER_DETECTOR, Box, DetectorParams, detect_faces, iou, read_image_file
from face_pipeline.params import YUNET_DETECTOR

DETECTORS: dict[str, DetectorParams] = {
    "YuNet at 320 px (before)": replace(YUNET_DETECTOR, min_face_px=0.0),
    "YuNet (now)": YUNET_DETECTOR,
    "Viola-Jones, paper": PAPER_DETECTOR,
}
GRIDS = (1, 2, 3, 4)
SAMPLE = ROOT / "reports" / "detectors" / "group_photo.jpg"
COLOURS = {name: colour for name, colour in zip(DETECTORS, [(230, 40, 40), (40, 200, 40), (40, 90, 230)], strict=True)}


def mosaic(frames: list[np.ndarray], grid: int) -> np.ndarray:
    """``grid`` x ``grid`` frames of one size, row by row."""
    rows = [np.concatenate(frames[r * grid : (r + 1) * grid], axis=1) for r in range(grid)]
    return np.ascontiguousarray(np.concatenate(rows, axis=0))


def tile_faces(frames: list[np.ndarray], grid: int, truth: list[Box | None]) -> list[Box | None]:
    """Each tile's face moved to its place on the mosaic (None: the frame alone has no face)."""
    height, width = frames[0].shape[:2]
    return [
        None if box is None else Box(box.x + (i % grid) * width, box.y + (i // grid) * height, box.width, box.height)
        for i, box in enumerate(truth)
    ]


def found(boxes: list[Box], faces: list[Box | None]) -> int:
    return sum(1 for face in faces if face is not None and any(iou(face, b) >= 0.5 for b in boxes))


def frame_face(path: str) -> Box | None:
    """The largest face YuNet finds in the frame alone: the tile's face in every mosaic it is part of."""
    cv2.setNumThreads(1)
    return next(iter(detect_faces(read_image_file(path), YUNET_DETECTOR, limit=1)), None)


def measure(job: tuple[list[str], int, list[Box | None]]) -> dict[str, Any]:
    """One mosaic: per detector, tiles whose face was found, boxes, and thread CPU ms."""
    cv2.setNumThreads(1)
    paths, grid, truth = job
    frames = [read_image_file(p) for p in paths]
    faces = tile_faces(frames, grid, truth)
    image = mosaic(frames, grid)
    row: dict[str, Any] = {"grid": grid, "faces": sum(f is not None for f in faces), "paths": paths}
    for name, params in DETECTORS.items():
        start = time.thread_time()
        boxes = detect_faces(image, params)
        row[name] = {
            "found": found(boxes, faces),
            "boxes": len(boxes),
            "ms": (time.thread_time() - start) * 1e3,
            "box_list": [tuple(b) for b in boxes],
        }
    return row


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for grid in GRIDS:
        part = [r for r in rows if r["grid"] == grid]
        if not part:
            continue
        entry: dict[str, Any] = {"mosaics": len(part), "faces": sum(r["faces"] for r in part)}
        for name in DETECTORS:
            entry[name] = {
                "found": sum(r[name]["found"] for r in part),
                "boxes_per_mosaic": float(np.mean([r[name]["boxes"] for r in part])),
                "ms": float(np.mean([r[name]["ms"] for r in part])),
            }
        summary[str(grid)] = entry
    return summary


def markdown(summary: dict[str, Any], meta: dict[str, Any]) -> str:
    names = list(DETECTORS)
    lines = [
        "# Faces found in group photos (mosaics of SFEW frames)",
        "",
        f"{meta['frames']} SFEW frames, shuffled (seed 0) into mosaics of g x g frames; a tile's face is the "
        "largest face YuNet finds in the frame alone, found when a box on the mosaic has IoU >= 0.5 with it. "
        f"Thread CPU ms per mosaic, one thread; {meta['cpu']}, load average at start {meta['load_average']:.2f}. "
        "`python -m benchmarks.group_photos`.",
        "",
        "| mosaic | side | faces | " + " | ".join(f"{n}: found, ms" for n in names) + " |",
        "|---|---|---|" + "---|" * len(names),
    ]
    for grid, entry in summary.items():
        g = int(grid)
        cells = [
            f"{entry[n]['found']} ({100 * entry[n]['found'] / entry['faces']:.1f}%), {entry[n]['ms']:.0f}"
            for n in names
        ]
        lines.append(f"| {g}x{g} ({entry['mosaics']}) | {720 * g} px | {entry['faces']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def draw_sample(row: dict[str, Any], out: Path) -> None:
    """The mosaic with each detector's boxes (colours as in the legend), shrunk to 1440 px."""
    frames = [read_image_file(p) for p in row["paths"]]
    image = mosaic(frames, row["grid"])
    for name, colour in COLOURS.items():
        for x, y, w, h in row[name]["box_list"]:
            cv2.rectangle(image, (x, y), (x + w, y + h), colour, 6)
    legend = np.zeros((60 * len(COLOURS) + 30, image.shape[1], 3), np.uint8)  # a band above, not over, the faces
    for i, (name, colour) in enumerate(COLOURS.items()):
        label = f"{name}: {row[name]['found']} of {row['faces']} faces"
        cv2.putText(legend, label, (20, 60 + 60 * i), cv2.FONT_HERSHEY_SIMPLEX, 1.8, colour, 4)
    image = np.concatenate([legend, image])
    scale = 1440 / max(image.shape[:2])
    image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sfew", help="SFEW images folder (default $SFEW_DIR or ../shared/data/sfew675/images)")
    parser.add_argument("--every", type=int, default=1, help="use every N-th frame (quick looks)")
    parser.add_argument("--workers", type=int, default=2, help="processes, each single-threaded")
    parser.add_argument("--out", type=Path, default=RESULTS / "group_photos")
    parser.add_argument("--sample", type=Path, default=SAMPLE, help="where the drawn 4x4 mosaic goes")
    args = parser.parse_args(argv)

    frames = [str(p) for p in sfew_frames(args.sfew, args.every)]
    order = np.random.default_rng(0).permutation(len(frames))
    shuffled = [frames[i] for i in order]
    meta = {
        **run_meta(frames, args.sfew),
        "detectors": {name: params.to_dict() for name, params in DETECTORS.items()},
    }
    with ProcessPoolExecutor(args.workers) as pool:
        # Each frame's face once, not once per mosaic size it appears in.
        truth = list(
            tqdm(pool.map(frame_face, shuffled, chunksize=8), total=len(shuffled), unit="frame", mininterval=10)
        )
        jobs = [
            (shuffled[i : i + grid * grid], grid, truth[i : i + grid * grid])
            for grid in GRIDS
            for i in range(0, len(shuffled) - grid * grid + 1, grid * grid)
        ]
        rows = list(tqdm(pool.map(measure, jobs), total=len(jobs), unit="mosaic", mininterval=10))
    summary = summarise(rows)
    save_results({"meta": meta, "summary": summary}, args.out, markdown(summary, meta))
    draw_sample(next(r for r in rows if r["grid"] == max(GRIDS)), args.sample)
    print(f"sample: {args.sample}")


if __name__ == "__main__":
    main()
