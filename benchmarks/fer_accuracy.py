"""Which gets more faces right: this project's model or the `fer` library, on the same images.

Each image goes to both the way a user would send it: ours through the service's own path in
process (decode, YuNet, frame, crop, the ONNX model: what `/predict` and `/classify_faces` run), fer
through `FER.detect_emotions` (Haar cascade + mini-Xception) in its own virtual environment (see
`benchmarks.fer_library`). The sets:

- SFEW's film-disjoint split, test frames (165, from films that neither model was trained on: ours is
  the shipped recipe exported from its film-split trials, `--film-model`). A frame is right when its
  largest face gets the frame's label and wrong when no face is found, as in `python -m training
  end-to-end`. Also with fer's classifier given the largest face YuNet finds (fer's own offsets around
  it): the classifiers compared on the same faces, the detectors set aside.
- SFEW's fixed split, test frames (135): the shipped model, which was trained on other frames of the
  same films (the paper's split), against fer.
- FER-2013's held-out part (`training/splits/fer2013_val.txt`, 2,646 faces of 48 px, each image one
  face): ours as `/classify_faces` frames them; fer given the whole image as the face's box (its cascade
  finds no face under 50 px; fer then adds 10 px of the image's mean grey a side), and given the box that
  makes its crop exactly the image, as its network was trained. fer's network (from
  oarriaga/face_classification) was trained on FER-2013, whose training split holds these faces, so these
  rows most likely flatter fer; ours never trained on them.

These are test sides: they are reported, never used to choose anything.

    python -m benchmarks.fer_accuracy --film-model runs/film/face_emotion.onnx
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from tqdm import tqdm

from benchmarks.fer_library import FER_VENV, WORKER, FerProcess
from benchmarks.results_io import save_results
from benchmarks.sfew import RESULTS, ROOT, sfew_dir
from face_pipeline import EMOTIONS, face_crops, framed_face, read_image_file
from face_pipeline.metadata import SHIPPED_MODEL
from face_pipeline.params import YUNET, with_detector
from service.model import EmotionModel, load_model
from training.fer2013 import read_val_manifest
from training.sfew import check_data_matches, read_manifest

DEFAULT_FER = ROOT.parent / "shared" / "data" / "fer2013" / "train"
FER_OFFSET = 10  # fer's default `offsets`: the pixels it adds around each box before classifying
FER_NAMES = {name.lower(): i for i, name in enumerate(EMOTIONS)}  # fer says "angry" where we say "Angry"


class FerLabels(FerProcess):
    """fer's worker in label mode: one image (and optionally the face's box) in, fer's faces out."""

    def __init__(self, python: Path, worker: Path = WORKER) -> None:
        super().__init__(python, ["--labels"], worker)

    def largest(self, path: Path, box: list[int] | None = None) -> int | None:
        """fer's class for the largest face it reports (None: no face)."""
        answer = self.ask(json.dumps({"path": str(path), "box": box}))
        if "error" in answer:
            raise RuntimeError(f"fer could not read an image: {answer['error']}")
        faces = answer["faces"]
        if not faces:
            return None
        face = max(faces, key=lambda f: f["box"][2] * f["box"][3])
        return FER_NAMES[max(face["emotions"], key=face["emotions"].get)]


def largest_face(model: EmotionModel, rgb: np.ndarray) -> tuple[int | None, list[int] | None]:
    """Our class for the largest face /predict finds, and its box (None, None: no face)."""
    boxes, crops = face_crops(rgb, with_detector(model.params, YUNET), max_faces=1)
    if not len(crops):
        return None, None
    return int(model.predict_crops(crops)[0].argmax()), [int(v) for v in boxes[0]]


def score(predicted: list[int | None], labels: list[int]) -> dict[str, Any]:
    right = np.array([p == y for p, y in zip(predicted, labels, strict=True)])
    labels_a = np.array(labels)
    return {
        "images": len(labels),
        "faces_found": sum(p is not None for p in predicted),
        "accuracy": round(float(right.mean()), 4),
        "per_class": {
            name: round(float(right[labels_a == i].mean()), 3) if (labels_a == i).any() else None
            for i, name in enumerate(EMOTIONS)
        },
    }


def sfew_rows(root: Path, models: dict[str, EmotionModel], fer: FerLabels) -> dict[str, dict]:
    samples = read_manifest()
    check_data_matches(root, samples)
    rows: dict[str, dict] = {}
    for split, model in models.items():
        test = [s for s in samples if s.split(split) == "test"]
        ours, fer_own, fer_on_ours = [], [], []
        for s in tqdm(test, f"SFEW {split} split", mininterval=5):
            path = root / s.relpath
            label, box = largest_face(model, read_image_file(str(path)))
            ours.append(label)
            fer_own.append(fer.largest(path))
            fer_on_ours.append(None if box is None else fer.largest(path, box))
        labels = [s.label for s in test]
        name = "film-disjoint" if split == "film" else "fixed"
        rows[f"SFEW {name} split, test frames: ours (YuNet)"] = score(ours, labels)
        rows[f"SFEW {name} split, test frames: fer (its Haar cascade)"] = score(fer_own, labels)
        rows[f"SFEW {name} split, test frames: fer's classifier on YuNet's faces"] = score(fer_on_ours, labels)
    return rows


def fer2013_rows(root: Path, model: EmotionModel, fer: FerLabels) -> dict[str, dict]:
    names = read_val_manifest()
    labels = [FER_NAMES[n.split("/")[0]] for n in names]
    ours, whole, exact = [], [], []
    for name in tqdm(names, "FER-2013 held out", mininterval=5):
        rgb = read_image_file(str(root / name))
        _, crop = framed_face(rgb, with_detector(model.params, YUNET))
        ours.append(int(model.predict_crops(crop[None])[0].argmax()))
        height, width = rgb.shape[:2]
        whole.append(fer.largest(root / name, [0, 0, width, height]))
        # fer grows every box by FER_OFFSET a side: this box makes its crop the image itself, as it trained.
        inner = [FER_OFFSET, FER_OFFSET, width - 2 * FER_OFFSET, height - 2 * FER_OFFSET]
        exact.append(fer.largest(root / name, inner))
    return {
        "FER-2013 held-out part: ours (/classify_faces)": score(ours, labels),
        "FER-2013 held-out part: fer (the whole image as the face's box)": score(whole, labels),
        "FER-2013 held-out part: fer (the image exactly as its network's input)": score(exact, labels),
    }


def plot(rows: dict[str, dict], out: Path) -> None:
    groups: dict[str, dict[str, float]] = {}
    for name, row in rows.items():
        group, tool = name.split(": ", 1)
        groups.setdefault(group, {})[tool] = 100 * row["accuracy"]
    fig, axes = plt.subplots(1, len(groups), figsize=(6 * len(groups), 4.2), squeeze=False)
    for ax, (group, tools) in zip(axes[0], groups.items(), strict=True):
        colours = ["tab:blue" if t.startswith("ours") else "tab:orange" for t in tools]
        bars = ax.barh(range(len(tools)), list(tools.values()), color=colours)
        ax.set_yticks(range(len(tools)), [textwrap.fill(t, 30) for t in tools], fontsize=7)
        ax.invert_yaxis()
        ax.bar_label(bars, fmt="%.1f%%", fontsize=8)
        ax.set_xlim(0, 100)
        ax.set_title(group, fontsize=9)
        ax.set_xlabel("right (%)")
    fig.tight_layout()
    fig.savefig(out.with_suffix(".png"), dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sfew", help="SFEW images folder (default $SFEW_DIR or ../shared/data/sfew675/images)")
    parser.add_argument("--fer", type=Path, default=DEFAULT_FER, help="FER-2013 train folder")
    default_model = Path(os.environ.get("EMOTION_MODEL_PATH") or ROOT / SHIPPED_MODEL)
    parser.add_argument("--model", type=Path, default=default_model)
    parser.add_argument("--film-model", type=Path, help="the same recipe exported from its film-split trials")
    parser.add_argument("--venv", type=Path, default=FER_VENV)
    parser.add_argument("--out", type=Path, default=RESULTS / "fer_accuracy")
    args = parser.parse_args(argv)

    python = args.venv / "bin" / "python"
    if not python.exists():
        raise SystemExit(f"no fer virtual environment at {args.venv} (benchmarks/fer_library.py says how to make one)")
    model = load_model(args.model, "cpu")
    models = {"random": model}
    if args.film_model is not None:
        models = {"film": load_model(args.film_model, "cpu"), **models}
    fer = FerLabels(python)
    try:
        rows = {**sfew_rows(sfew_dir(args.sfew), models, fer), **fer2013_rows(args.fer, model, fer)}
    finally:
        fer.close()
    summary = {
        "command": "python -m benchmarks.fer_accuracy " + " ".join(argv if argv is not None else sys.argv[1:]),
        "models": {split: f"{m.name} {m.version}" for split, m in models.items()},
        "rows": rows,
    }
    lines = [
        "# This project's model against the `fer` library: the same images, each tool as a user calls it",
        "",
        f"Command: `{summary['command']}`. Models: "
        + "; ".join(f"{split} split: {name}" for split, name in summary["models"].items())
        + ". A frame with no face found counts as wrong. Test sides: reported, never used to choose.",
        "",
        "| set and tool | images | faces found | right | " + " | ".join(EMOTIONS) + " |",
        "|---|---|---|---|" + "---|" * len(EMOTIONS),
    ]
    for name, row in rows.items():
        per_class = " | ".join("-" if v is None else f"{100 * v:.0f}" for v in row["per_class"].values())
        lines.append(
            f"| {name} | {row['images']} | {row['faces_found']} | **{100 * row['accuracy']:.1f}%** | {per_class} |"
        )
    film_note = ""
    if "film" in models:
        film_note = " Ours on the film-disjoint split is the film-split export (trained on other films)."
    lines += [
        "",
        "Per class: the share of that class's images right (%). fer's network was trained on FER-2013, whose "
        "training split holds the held-out part's faces, so its rows there most likely flatter it; ours never "
        "trained on them." + film_note,
        "",
    ]
    save_results(summary, args.out, "\n".join(lines))
    plot(rows, args.out)


if __name__ == "__main__":
    main()
