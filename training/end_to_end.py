"""The shipped model judged end to end on SFEW's test frames, once per detector.

Each test frame goes through exactly what ``/predict`` runs (decode, detect, crop, classify with
the exported ONNX model through ``service.model``); the frame counts as right when its largest
face gets the frame's label, and as wrong when no face is found. Both splits, both detectors.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from face_pipeline import face_crops, read_image_file
from face_pipeline.params import DETECTOR_PRESETS, VIOLA_JONES, YUNET, with_detector
from service.model import load_model
from training.sfew import SPLITS, check_data_matches, read_manifest

DETECTORS = (VIOLA_JONES, YUNET)


def end_to_end(root: Path, model_path: Path, out: Path) -> dict:
    samples = read_manifest()
    check_data_matches(root, samples)
    model = load_model(model_path, "cpu")
    images = {s.relpath: read_image_file(str(root / s.relpath)) for s in tqdm(samples, "decode", mininterval=5)}
    report: dict = {"model": f"{model.name} {model.version}", "detectors": {}}
    for detector in DETECTORS:
        params = with_detector(model.params, detector)
        predicted: dict[str, int | None] = {}
        started = time.process_time()
        for s in tqdm(samples, detector, mininterval=5):
            _, crops = face_crops(images[s.relpath], params, max_faces=1)
            predicted[s.relpath] = int(model.predict_crops(crops)[0].argmax()) if len(crops) else None
        cpu_ms = 1000 * (time.process_time() - started) / len(samples)
        row: dict = {"params": DETECTOR_PRESETS[detector].to_dict(), "cpu_ms_per_frame": round(cpu_ms, 1)}
        row["frames_with_a_face"] = sum(p is not None for p in predicted.values())
        for split in SPLITS:
            test = [s for s in samples if s.split(split) == "test"]
            right = [predicted[s.relpath] == s.label for s in test]
            row[split] = {
                "test_frames": len(test),
                "no_face": sum(predicted[s.relpath] is None for s in test),
                "accuracy": round(float(np.mean(right)), 4),
            }
        report["detectors"][detector] = row
    out.mkdir(parents=True, exist_ok=True)
    (out / "end_to_end.json").write_text(json.dumps(report, indent=2))
    lines = [
        f"# End to end on SFEW test frames: {report['model']}",
        "",
        "A frame is right when its largest face gets the frame's label; a frame without a face counts as wrong.",
        "Command: `python -m training end-to-end`.",
        "",
        "| detector | fixed split (135 frames) | no face | film-disjoint split | no face | frames with a face (of 675) "
        "| CPU ms per frame (detect + classify) |",
        "|---|---|---|---|---|---|---|",
    ]
    for detector, row in report["detectors"].items():
        rnd, film = row["random"], row["film"]
        lines.append(
            f"| {detector} | {100 * rnd['accuracy']:.1f}% | {rnd['no_face']} | {100 * film['accuracy']:.1f}% "
            f"({film['test_frames']} frames) | {film['no_face']} | {row['frames_with_a_face']} | "
            f"{row['cpu_ms_per_frame']} |"
        )
    (out / "end_to_end.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return report
