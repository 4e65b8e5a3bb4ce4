"""The paper's Table 1 for our data: per class, how many frames, faces found, false positives.

Also draws one contact sheet per class (every crop, doubtful ones framed red) so that the
reviewed false-positive list (``training/splits/false_positives.txt``) can be made by eye.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from face_pipeline import EMOTIONS, FAST_DETECTOR, PAPER_DETECTOR, PreprocessParams
from face_pipeline.params import YUNET, YUNET_DETECTOR
from training.crops import CropSet, build_crops
from training.false_positives import FALSE_POSITIVES_PATH, PATHS, reviewed_false_positives
from training.sfew import check_data_matches, read_manifest

YUNET_FP_NAME = PATHS[YUNET].name


def doubtful(crops: CropSet) -> np.ndarray:
    """Automatic false-positive check: a face box in which the eye cascade finds no eye."""
    return crops.detected & (crops.eyes == 0)


def is_reviewed_false_positive(crops: CropSet, reviewed: set[str]) -> np.ndarray:
    return np.array([s.relpath in reviewed for s in crops.samples])


def table1_rows(
    crops: CropSet, is_fp: np.ndarray, auto: np.ndarray, yunet: CropSet, yunet_fp: np.ndarray
) -> list[dict]:
    """Per class: frames, detections, doubtful boxes (auto), reviewed false positives, usable faces,
    then the same counts for YuNet."""
    rows = []
    for label, name in enumerate(EMOTIONS):
        mask = np.array([s.label == label for s in crops.samples])
        row = {
            "class": name,
            "raw": int(mask.sum()),
            "detected": int((mask & crops.detected).sum()),
            "several_boxes": int((mask & (crops.n_boxes > 1)).sum()),
            "no_box": int((mask & ~crops.detected).sum()),
            "auto_doubtful": int((mask & auto).sum()),
            "reviewed_false_positives": int((mask & is_fp).sum()),
            "faces_without_fp": int((mask & crops.detected & ~is_fp).sum()),
        }
        for split in ("random", "film"):
            for side in ("train", "test"):
                sel = np.array([s.split(split) == side for s in crops.samples])
                row[f"{split}_{side}_faces"] = int((mask & sel & crops.detected & ~is_fp).sum())
        row["yunet_detected"] = int((mask & yunet.detected).sum())
        row["yunet_several_boxes"] = int((mask & (yunet.n_boxes > 1)).sum())
        row["yunet_no_box"] = int((mask & ~yunet.detected).sum())
        row["yunet_reviewed_false_positives"] = int((mask & yunet_fp).sum())
        row["yunet_faces_without_fp"] = int((mask & yunet.detected & ~yunet_fp).sum())
        rows.append(row)
    total = {"class": "Total"}
    for key in rows[0]:
        if key != "class":
            total[key] = sum(r[key] for r in rows)
    rows.append(total)
    return rows


def contact_sheet(
    crops: CropSet, idx: list[int], flagged: np.ndarray, reviewed: set[str], tile: int = 80, cols: int = 12
) -> np.ndarray:
    """The crops ``idx`` in a grid, numbered by manifest row; reviewed false positives crossed, flagged framed red."""
    rows = max(1, (len(idx) + cols - 1) // cols)
    sheet = np.full((rows * (tile + 14), cols * tile, 3), 255, np.uint8)
    for k, i in enumerate(idx):
        r, c = divmod(k, cols)
        face = cv2.resize(crops.crops[i], (tile, tile), interpolation=cv2.INTER_AREA)
        if crops.samples[i].relpath in reviewed:
            cv2.line(face, (0, 0), (tile - 1, tile - 1), (0, 0, 0), 2)
        if flagged[i]:
            cv2.rectangle(face, (0, 0), (tile - 1, tile - 1), (255, 0, 0), 3)
        y = r * (tile + 14)
        sheet[y : y + tile, c * tile : (c + 1) * tile] = face
        cv2.putText(sheet, str(i), (c * tile + 2, y + tile + 11), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1)
    return sheet


def to_markdown(rows: list[dict]) -> str:
    cols = list(rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def write_table1(root: Path, out: Path) -> CropSet:
    samples = read_manifest()
    check_data_matches(root, samples)
    params = PreprocessParams(detector=PAPER_DETECTOR)
    crops = build_crops(root, samples, params)
    reviewed = reviewed_false_positives()
    is_fp = is_reviewed_false_positive(crops, reviewed)
    auto = doubtful(crops)
    yunet = build_crops(root, samples, PreprocessParams(detector=YUNET_DETECTOR))
    yunet_reviewed = reviewed_false_positives(YUNET)
    yunet_fp = is_reviewed_false_positive(yunet, yunet_reviewed)
    rows = table1_rows(crops, is_fp, auto, yunet, yunet_fp)
    out.mkdir(parents=True, exist_ok=True)
    agree = crops.fast_iou[crops.detected]
    summary = {
        "detector": params.detector.to_dict(),
        "rows": rows,
        "auto_check_vs_review": {
            "flagged": int(auto.sum()),
            "reviewed_false_positives": int(is_fp.sum()),
            "flagged_and_reviewed": int((auto & is_fp).sum()),
        },
        "fast_detector_agreement": {
            "frames_with_paper_face": int(crops.detected.sum()),
            "largest_box_iou_ge_0.5": float((agree >= 0.5).mean()),
        },
    }
    (out / "table1.json").write_text(json.dumps(summary, indent=2))
    note = (
        f"\n\nDetector: OpenCV Viola-Jones, {json.dumps(params.detector.to_dict())}. "
        "`auto_doubtful`: no eye found in the box by the eye cascade (automatic check). "
        "`reviewed_false_positives`: boxes judged not a face by eye on the contact sheets "
        f"(`{FALSE_POSITIVES_PATH.name}`). Split columns count usable faces (detected, not a false positive).\n"
        f"\nThe fast serving detector ({json.dumps(FAST_DETECTOR.to_dict())}) finds the same largest face "
        "(IoU >= 0.5) on "
        f"{100 * summary['fast_detector_agreement']['largest_box_iou_ge_0.5']:.1f}% of the "
        f"{summary['fast_detector_agreement']['frames_with_paper_face']} frames with a face.\n"
        f"\nYuNet ({json.dumps(YUNET_DETECTOR.to_dict())}) finds a face in "
        f"{rows[-1]['yunet_detected']} frames ({rows[-1]['yunet_several_boxes']} with several, "
        f"{rows[-1]['yunet_no_box']} with none); {rows[-1]['yunet_reviewed_false_positives']} of its largest boxes "
        f"are not usable faces (`{YUNET_FP_NAME}`, reviewed on `contact_yunet_vj_missed.jpg`: every frame where "
        f"Viola-Jones has no usable face), leaving {rows[-1]['yunet_faces_without_fp']} faces.\n"
        f"\nThe automatic check flags {int(auto.sum())} boxes; {int((auto & is_fp).sum())} of the "
        f"{int(is_fp.sum())} reviewed false positives are among them (it catches "
        f"{100 * (auto & is_fp).sum() / max(1, is_fp.sum()):.0f}% of them, and "
        f"{100 * (auto & is_fp).sum() / max(1, auto.sum()):.0f}% of its flags are real false positives), "
        "so it is a review aid, not a replacement for the reviewed list.\n"
    )
    (out / "table1.md").write_text("# Table 1: SFEW 675 face detection\n\n" + to_markdown(rows) + note)
    sheets = {
        f"contact_{name}.jpg": contact_sheet(
            crops, [i for i, s in enumerate(samples) if s.label == label and crops.detected[i]], auto, reviewed
        )
        for label, name in enumerate(EMOTIONS)
    }
    # YuNet's largest box wherever Viola-Jones has no usable face: where its false positives would hide.
    vj_missed = [i for i in range(len(samples)) if yunet.detected[i] and not (crops.detected[i] and not is_fp[i])]
    sheets["contact_yunet_vj_missed.jpg"] = contact_sheet(
        yunet, vj_missed, np.zeros(len(samples), bool), yunet_reviewed, cols=16
    )
    for name, sheet in sheets.items():
        cv2.imwrite(str(out / name), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])
    print(to_markdown(rows) + note)
    return crops
