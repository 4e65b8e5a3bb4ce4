"""The shipped model judged end to end on SFEW's test frames, once per detector.

Each test frame goes through exactly what ``/predict`` runs (decode, detect, crop, classify with
the exported ONNX model through ``service.model``); the frame counts as right when its largest
face gets the frame's label, and as wrong when no face is found. The shipped model was trained on
the fixed split's training side, which holds frames of the film-disjoint split's test side, so that
split is judged with the same recipe exported from its film-split trial (``--film-model``).

Small faces are judged too: the FER-2013 held-out part's 48 px faces, each a whole image, through
``/predict`` (detected) and through ``/classify_faces`` (the image is the face).
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from face_pipeline import face_crops, framed_face, read_image_file
from face_pipeline.params import DETECTOR_PRESETS, VIOLA_JONES, YUNET, PreprocessParams, with_detector
from face_pipeline.preprocess import resize_face
from service.model import EmotionModel, load_model
from training.faces import Split
from training.fer2013 import load_fer
from training.sfew import SPLITS, check_data_matches, read_manifest

DETECTORS = (VIOLA_JONES, YUNET)


def predictions(
    model: EmotionModel, params: PreprocessParams, images: dict[str, np.ndarray], desc: str
) -> dict[str, int | None]:
    """The largest face's class per image as /predict finds it with ``params`` (None: no face)."""
    out: dict[str, int | None] = {}
    for name, rgb in tqdm(images.items(), desc, mininterval=5):
        _, crops = face_crops(rgb, params, max_faces=1)
        out[name] = int(model.predict_crops(crops)[0].argmax()) if len(crops) else None
    return out


def loose(faces: np.ndarray, side: int = 192) -> list[np.ndarray]:
    """Tight face images made loose crops: padded to twice their size (edges repeated), then resized to ``side``."""
    pad = faces.shape[1] // 2
    return [
        cv2.resize(cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_REPLICATE), (side, side)) for rgb in faces
    ]


def small_faces(model: EmotionModel, fer_root: Path) -> dict:
    """Accuracy on FER-2013's held-out 48 px faces through /predict (per detector; no face counts as
    wrong) and through /classify_faces (framed around the face found, or whole), as they are and made
    loose crops. YuNet is also run without enlarging small images (``min_side`` 0), the setting its
    ``min_side`` was chosen against."""
    faces = load_fer(fer_root)[1]
    yunet = DETECTOR_PRESETS[YUNET]
    detectors = {
        VIOLA_JONES: DETECTOR_PRESETS[VIOLA_JONES],
        f"{YUNET} (min_side {yunet.min_side})": yunet,
        f"{YUNET} (min_side 0)": replace(yunet, min_side=0),
    }

    def right(predicted: list[int | None] | np.ndarray) -> float:
        return round(float(np.mean([p == label for p, label in zip(predicted, faces.labels, strict=True)])), 4)

    rows: dict = {}
    for name, detector in detectors.items():
        images = dict(enumerate(faces.crops))
        predicted = list(predictions(model, replace(model.params, detector=detector), images, name).values())
        found = sum(p is not None for p in predicted)
        rows[f"/predict, {name}"] = {"faces_found": found, "accuracy": right(predicted)}
    size = model.params.input_size
    framing = replace(model.params, detector=yunet)
    kinds = {
        "as they are": faces.crops,
        "loose (padded to twice the size, enlarged to 192 px)": loose(faces.crops),
        # The face stays 48 px: with the paper's 20 px margin it would be cut out with as much background as face.
        "loose (padded to twice the size, 96 px)": loose(faces.crops, 96),
    }
    for kind, images in kinds.items():
        framed = [framed_face(rgb, framing) for rgb in images]
        whole = np.stack([resize_face(rgb, size) for rgb in images])
        rows[f"/classify_faces, {kind}"] = {
            "faces_found": sum(box is not None for box, _ in framed),
            "accuracy": right(model.predict_crops(np.stack([crop for _, crop in framed])).argmax(1)),
        }
        rows[f"/classify_faces find_face=false, {kind}"] = {
            "faces_found": 0,
            "accuracy": right(model.predict_crops(whole).argmax(1)),
        }
    rows.update(large_faces(model, faces))
    return {"faces": len(faces.labels), "rows": rows}


LARGE_SIDE = 1024


def large_faces(model: EmotionModel, faces: Split, every: int = 2) -> dict:
    """Every ``every``-th held-out face enlarged to a full-resolution photo (``LARGE_SIDE`` px), tight and as a
    loose crop, through /predict and /classify_faces, with YuNet as it is and seen at ``max_side`` only. A
    close-up fills what YuNet sees, the case its two-pass merge is for (``face_pipeline.yunet.yunet_raw``).
    Each image is made when it is used: 2,646 of them at 1024 px would be 8 GB."""
    yunet = DETECTOR_PRESETS[YUNET]
    detectors = {"YuNet": yunet, f"YuNet at {yunet.max_side} px only": replace(yunet, min_face_px=0.0)}
    kinds = {
        f"enlarged to {LARGE_SIDE} px": lambda rgb: cv2.resize(
            rgb, (LARGE_SIDE, LARGE_SIDE), interpolation=cv2.INTER_CUBIC
        ),
        f"loose (padded to twice the size), enlarged to {LARGE_SIDE} px": lambda rgb: loose(rgb[None], LARGE_SIDE)[0],
    }
    picked = np.arange(0, len(faces.labels), every)
    labels = faces.labels[picked]
    rows: dict = {}
    for kind, make in kinds.items():
        for name, detector in detectors.items():
            params = replace(model.params, detector=detector)
            predicted, framed_found, framed = [], 0, []
            for i in tqdm(picked, f"{kind}, {name}", mininterval=10):
                rgb = make(faces.crops[i])
                _, crops = face_crops(rgb, params, max_faces=1)
                predicted.append(int(model.predict_crops(crops)[0].argmax()) if len(crops) else None)
                box, crop = framed_face(rgb, params)
                framed_found += box is not None
                framed.append(crop)
            found = sum(p is not None for p in predicted)
            right = np.mean([p == y for p, y in zip(predicted, labels, strict=True)])
            rows[f"/predict, {name}, {kind} ({len(picked)} faces)"] = {
                "faces_found": found,
                "accuracy": round(float(right), 4),
            }
            framed_right = model.predict_crops(np.stack(framed)).argmax(1) == labels
            rows[f"/classify_faces, {name}, {kind} ({len(picked)} faces)"] = {
                "faces_found": framed_found,
                "accuracy": round(float(framed_right.mean()), 4),
            }
    return rows


def end_to_end(
    root: Path, model_path: Path, out: Path, film_model_path: Path | None = None, fer_root: Path | None = None
) -> dict:
    samples = read_manifest()
    check_data_matches(root, samples)
    models = {"random": load_model(model_path, "cpu")}
    if film_model_path is not None:
        models["film"] = load_model(film_model_path, "cpu")
    images = {s.relpath: read_image_file(str(root / s.relpath)) for s in tqdm(samples, "decode", mininterval=5)}
    report: dict = {"models": {k: f"{m.name} {m.version}" for k, m in models.items()}, "detectors": {}}
    for detector in DETECTORS:
        started = time.process_time()
        predicted = {
            split: predictions(model, with_detector(model.params, detector), images, detector)
            for split, model in models.items()
        }
        cpu_ms = 1000 * (time.process_time() - started) / (len(samples) * len(models))
        row: dict = {"params": DETECTOR_PRESETS[detector].to_dict(), "cpu_ms_per_frame": round(cpu_ms, 1)}
        row["frames_with_a_face"] = sum(p is not None for p in predicted["random"].values())
        for split in SPLITS:
            if split not in predicted:
                continue
            test = [s for s in samples if s.split(split) == "test"]
            right = [predicted[split][s.relpath] == s.label for s in test]
            row[split] = {
                "test_frames": len(test),
                "no_face": sum(predicted[split][s.relpath] is None for s in test),
                "accuracy": round(float(np.mean(right)), 4),
            }
        report["detectors"][detector] = row
    if fer_root is not None:
        report["fer2013_heldout"] = small_faces(models["random"], fer_root)
    out.mkdir(parents=True, exist_ok=True)
    (out / "end_to_end.json").write_text(json.dumps(report, indent=2))
    lines = [
        "# End to end on SFEW test frames",
        "",
        f"Fixed split: the shipped model ({report['models']['random']}). Film-disjoint split: "
        + (report["models"].get("film", "not run") + ", the same recipe trained on that split's training side.")
        + " A frame is right when its largest face gets the frame's label; a frame without a face counts as wrong.",
        "Command: `python -m training end-to-end --film-model <the film-split export>` (README, Reproduce).",
        "",
        "| detector | fixed split (135 frames) | no face | film-disjoint split | no face | frames with a face (of 675) "
        "| CPU ms per frame (detect + classify) |",
        "|---|---|---|---|---|---|---|",
    ]
    for detector, row in report["detectors"].items():
        rnd = row["random"]
        film = row.get("film")
        film_cells = (
            f"{100 * film['accuracy']:.1f}% ({film['test_frames']} frames) | {film['no_face']}" if film else "— | —"
        )
        lines.append(
            f"| {detector} | {100 * rnd['accuracy']:.1f}% | {rnd['no_face']} | {film_cells} "
            f"| {row['frames_with_a_face']} | {row['cpu_ms_per_frame']} |"
        )
    if "fer2013_heldout" in report:
        small = report["fer2013_heldout"]
        lines += [
            "",
            f"## Small and large faces: the FER-2013 held-out part ({small['faces']} faces of 48x48 px, each a whole "
            f"image; enlarged to {LARGE_SIDE} px: every other face)",
            "",
            "| path | faces found | accuracy (/predict: no face = wrong) |",
            "|---|---|---|",
            *(
                f"| {path} | {row['faces_found']} | {100 * row['accuracy']:.1f}% |"
                for path, row in small["rows"].items()
            ),
        ]
    (out / "end_to_end.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return report
