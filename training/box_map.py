"""Fit the YuNet -> Viola-Jones box mapping on SFEW, and measure how alike the two crops are.

For every face the paper's Viola-Jones finds and a person reviewed as a real face (Table 1), the
YuNet box on the same face (the one whose centre lies inside the Viola-Jones box, nearest its
centre) gives three ratios: Viola-Jones side / sqrt(YuNet w * h), and the centre offset in units
of YuNet's width and height. Their medians are the mapping (``DetectorParams.box_scale``,
``box_dx``, ``box_dy``), robust to the odd mismatched pair.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from face_pipeline import PAPER_DETECTOR, Box, PreprocessParams, iou, read_image_file
from face_pipeline.params import YUNET_DETECTOR
from face_pipeline.yunet import mapped_boxes, yunet_raw
from training.crops import build_crops
from training.false_positives import reviewed_false_positives
from training.sfew import check_data_matches, read_manifest


def _centre(x: float, y: float, w: float, h: float) -> tuple[float, float]:
    return x + w / 2, y + h / 2


def match(raw: np.ndarray, vj: Box) -> np.ndarray | None:
    """The YuNet row whose centre is inside the Viola-Jones box, nearest its centre."""
    cx, cy = _centre(*vj)
    best, best_d = None, math.inf
    for row in raw:
        x, y = _centre(*row[:4])
        if vj.x <= x <= vj.x + vj.width and vj.y <= y <= vj.y + vj.height:
            d = math.hypot(x - cx, y - cy)
            if d < best_d:
                best, best_d = row, d
    return best


def fit_box_map(root: Path, out: Path) -> dict:
    samples = read_manifest()
    check_data_matches(root, samples)
    vj = build_crops(root, samples, PreprocessParams(detector=PAPER_DETECTOR))
    reviewed = reviewed_false_positives()
    identity = replace(YUNET_DETECTOR, box_scale=1.0, box_dx=0.0, box_dy=0.0)
    faces = [i for i, s in enumerate(samples) if vj.detected[i] and s.relpath not in reviewed]
    raws = {i: yunet_raw(read_image_file(str(root / samples[i].relpath)), identity) for i in tqdm(faces, "YuNet")}
    ratios = []
    for i in faces:
        row = match(raws[i], Box(*vj.boxes[i]))
        if row is not None:
            x, y, w, h = row[:4]
            vx, vy, vw, vh = vj.boxes[i]
            (cx, cy), (vcx, vcy) = _centre(x, y, w, h), _centre(vx, vy, vw, vh)
            ratios.append((vw / math.sqrt(w * h), (vcx - cx) / w, (vcy - cy) / h, w / vw, h / vh))
    r = np.array(ratios)
    scale, dx, dy = (round(float(np.median(r[:, k])), 4) for k in range(3))
    fitted = replace(YUNET_DETECTOR, box_scale=scale, box_dx=dx, box_dy=dy)

    def agreement(params: object) -> dict:
        best, largest = [], []
        for i in faces:
            rgb_h, rgb_w = 576, 720  # every SFEW frame; only used to clamp
            boxes = [Box(*b) for b in mapped_boxes(raws[i], params, rgb_w, rgb_h)]  # type: ignore[arg-type]
            boxes.sort(key=lambda b: -b.area)
            truth = Box(*vj.boxes[i])
            best.append(max((iou(b, truth) for b in boxes), default=0.0))
            largest.append(iou(boxes[0], truth) if boxes else 0.0)
        best_a, largest_a = np.array(best), np.array(largest)
        return {
            "faces_found_iou_ge_0.5": int((best_a >= 0.5).sum()),
            "largest_is_the_face_iou_ge_0.5": int((largest_a >= 0.5).sum()),
            "median_iou_of_found": round(float(np.median(best_a[best_a >= 0.5])), 3) if (best_a >= 0.5).any() else None,
        }

    sheet = disagreement_sheet(root, samples, faces, raws, vj.boxes, fitted)
    out.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(
        str(out / "yunet_vs_viola_jones.jpg"), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80]
    )
    report = {
        "reviewed_real_faces": len(faces),
        "matched_pairs": len(ratios),
        "yunet_width_over_vj": round(float(np.median(r[:, 3])), 3),
        "yunet_height_over_vj": round(float(np.median(r[:, 4])), 3),
        "mapping": {"box_scale": scale, "box_dx": dx, "box_dy": dy},
        "square_box_no_offset": agreement(identity),
        "mapped": agreement(fitted),
    }
    (out / "box_map.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return report


def disagreement_sheet(
    root: Path, samples: list, faces: list[int], raws: dict, vj_boxes: np.ndarray, params: object, cols: int = 4
) -> np.ndarray:
    """Every reviewed face where no mapped YuNet box reaches IoU 0.5 with the Viola-Jones box:
    Viola-Jones red, the best mapped YuNet box green, so a person can see which one is off."""
    tiles = []
    for i in faces:
        truth = Box(*vj_boxes[i])
        boxes = [Box(*b) for b in mapped_boxes(raws[i], params, 720, 576)]  # type: ignore[arg-type]
        best = max(boxes, key=lambda b: iou(b, truth), default=None)
        if best is not None and iou(best, truth) >= 0.5:
            continue
        rgb = read_image_file(str(root / samples[i].relpath)).copy()
        for box, colour in ((truth, (255, 0, 0)), (best, (0, 255, 0))):
            if box is not None:
                cv2.rectangle(rgb, (box.x, box.y), (box.x + box.width, box.y + box.height), colour, 3)
        tiles.append(cv2.resize(rgb, (360, 288), interpolation=cv2.INTER_AREA))
    if not tiles:
        return np.full((288, 360, 3), 255, np.uint8)
    tiles += [np.full_like(tiles[0], 255)] * (-len(tiles) % cols)
    return np.concatenate([np.concatenate(tiles[k : k + cols], 1) for k in range(0, len(tiles), cols)], 0)
