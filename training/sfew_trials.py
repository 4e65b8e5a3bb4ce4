"""Trials on SFEW: one preset, one split, several seeds; each trial's record on disk.

A trial whose ``metrics.json`` says it finished is skipped, so an interrupted sweep resumes
where it stopped. Records hold the config, seed, data and split hashes, git commit,
per-epoch history and test predictions (for confusion matrices).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from face_pipeline import PreprocessParams
from face_pipeline.params import DETECTOR_PRESETS, VIOLA_JONES, YUNET
from training.crops import CropSet, build_crops
from training.faces import Split
from training.false_positives import reviewed_false_positives
from training.fer2013 import load_fer
from training.loop import fit, predict
from training.presets import TrainConfig, channel_stats, make_config
from training.sfew import (
    CROSS_VALIDATION,
    VALIDATION,
    check_data_matches,
    check_fold,
    fold_sides,
    manifest_hash,
    read_manifest,
)

RUNS_DIR = Path("runs")


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True)
        return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def finished_record(metrics_path: Path) -> dict | None:
    """A trial's record if its ``metrics.json`` says it finished, else None (missing or interrupted)."""
    if not metrics_path.exists():
        return None
    record = json.loads(metrics_path.read_text())
    return record if record.get("done") else None


def load_crops(root: Path, detector: str = VIOLA_JONES, margin_cap: float = 0.0) -> CropSet:
    """The largest face of every frame, as the named detector finds it, cropped at 120 px and cached.

    Recipes at other sizes resize these crops with the serving path's ``resize_face``.
    """
    samples = read_manifest()
    check_data_matches(root, samples)
    return build_crops(root, samples, PreprocessParams(detector=DETECTOR_PRESETS[detector], margin_cap=margin_cap))


def fold_of(split: str, seed: int) -> int:
    """The fold a trial holds out: its seed on ``cv``, else 0 (every seed shares one cut)."""
    return seed if split == CROSS_VALIDATION else 0


def split_arrays(crops: CropSet, split: str, false_positives: set[str], fold: int = 0) -> tuple[Split, Split]:
    """Train and test faces of one split (of ``cv``: its fold ``fold``): frames with no face, or whose
    box was reviewed as not a face, are excluded (Table 1 counts them)."""
    usable = np.array([crops.detected[i] and s.relpath not in false_positives for i, s in enumerate(crops.samples)])
    labels = np.array([s.label for s in crops.samples], dtype=np.int64)
    if split in (VALIDATION, CROSS_VALIDATION):  # "test": held-out films of the fixed split's training side
        sides = fold_sides(crops.samples, fold_of(split, fold))  # val is cv's fold 0
        side = np.array([sides[s.relpath] for s in crops.samples])
    else:
        side = np.array([s.split(split) for s in crops.samples])
    parts = []
    for name in ("train", "test"):
        mask = usable & (side == name)
        parts.append(Split(crops.crops[mask], labels[mask]))
    return parts[0], parts[1]


def sfew_faces(root: Path, config: TrainConfig, split: str, fold: int = 0) -> tuple[Split, Split]:
    """Train and test faces at the recipe's input size, from the recipe's detector(s); ``fold``: which
    of ``cv``'s folds is held out (a ``cv`` trial's seed).

    ``both``: the training side takes each frame's Viola-Jones and YuNet crop (two framings of one
    face); the test side stays Viola-Jones, the same test faces as every paper-faithful row.
    """
    detectors = [VIOLA_JONES, YUNET] if config.detector == "both" else [config.detector]
    parts = []
    for detector in detectors:
        reviewed = reviewed_false_positives(detector) if config.exclude_false_positives else set()
        parts.append(split_arrays(load_crops(root, detector, config.margin_cap), split, reviewed, fold))
    train = Split(np.concatenate([p[0].crops for p in parts]), np.concatenate([p[0].labels for p in parts]))
    return train.resized(config.input_size), parts[0][1].resized(config.input_size)


def preprocess_for(train: Split, config: TrainConfig) -> PreprocessParams:
    """The paper's normalisation (the training crops' per-channel mean and std), or, when the recipe
    starts from a stage of ours, that stage's: the network keeps the input scale it learnt on."""
    stage = Path(config.init).with_suffix(".json")
    detector = DETECTOR_PRESETS[YUNET if config.detector == "both" else config.detector]
    if config.init not in ("none", "imagenet") and stage.exists():
        params = PreprocessParams.from_dict(json.loads(stage.read_text())["preprocess"])
        return replace(params, input_size=config.input_size, detector=detector, margin_cap=config.margin_cap)
    mean, std = channel_stats(train.crops)
    return PreprocessParams(
        input_size=config.input_size,
        mean=mean,
        std=std,
        detector=detector,
        grayscale=config.grayscale,
        margin_cap=config.margin_cap,
    )


def run_trials(
    root: Path,
    preset: str,
    split: str,
    seeds: list[int],
    device: str = "cpu",
    overrides: dict | None = None,
    name: str | None = None,
    fer_root: Path | None = None,
    score_fer: bool = True,
) -> list[dict]:
    """``fer_root``: FER-2013 train folder; presets with ``extra_per_epoch`` mix its training part
    into every epoch, and with ``score_fer`` its held-out part is scored after each trial."""
    config = make_config(preset, **(overrides or {}))
    if split == CROSS_VALIDATION:
        for seed in seeds:
            check_fold(seed)  # before any training
    fer_train = fer_val = None
    if fer_root is not None:
        fer_train, fer_val = load_fer(fer_root)
        fer_val = fer_val.resized(config.input_size) if score_fer else None
    if config.extra_per_epoch and fer_train is None:
        raise ValueError(f"preset {preset} mixes in FER-2013: pass --fer")
    records = []
    faces: dict[int, tuple[Split, Split, PreprocessParams]] = {}  # cut once per fold
    for seed in seeds:
        out = RUNS_DIR / (name or preset) / split / f"seed{seed}"
        metrics_path = out / "metrics.json"
        if (finished := finished_record(metrics_path)) is not None:
            records.append(finished)
            print(f"{metrics_path} is complete; skipped")
            continue
        fold = fold_of(split, seed)
        if fold not in faces:
            train, test = sfew_faces(root, config, split, fold)
            faces[fold] = train, test, preprocess_for(train, config)
        train, test, params = faces[fold]
        result = fit(
            config,
            params,
            train,
            {"test": test},
            seed,
            device,
            checkpoint=out / "checkpoint.pt",
            desc=f"{name or preset}/{split}/seed{seed}",
            extra=fer_train if config.extra_per_epoch else None,
        )
        train_acc = float((predict(result.net, train.crops, params, device).argmax(1) == train.labels).mean())
        tail = result.history[-config.stable_epochs :]
        record = {
            "preset": preset,
            "name": name or preset,
            "split": split,
            "seed": seed,
            "config": config.to_dict(),
            "preprocess": params.to_dict(),
            "manifest_hash": manifest_hash(),
            "git_commit": git_commit(),
            "n_train": len(train.labels),
            "n_test": len(test.labels),
            "test_acc_stable": float(np.mean([h["test_acc"] for h in tail])),
            "train_acc_eval": train_acc,
            "history": result.history,
            "test_labels": test.labels.tolist(),
            "test_pred": result.predictions["test"],
            "done": True,
        }
        if fer_val is not None:
            record["fer_val_acc"] = float(
                (predict(result.net, fer_val.crops, params, device).argmax(1) == fer_val.labels).mean()
            )
        torch.save(result.net.state_dict(), out / "model.pt")
        metrics_path.write_text(json.dumps(record, indent=1))
        (out / "checkpoint.pt").unlink(missing_ok=True)
        print(
            f"{name or preset}/{split}/seed{seed}: test {record['test_acc_stable']:.3f} "
            f"(mean of last {config.stable_epochs} epochs), train {train_acc:.3f}, "
            f"FER-2013 val {record.get('fer_val_acc', float('nan')):.3f}",
            flush=True,
        )
        records.append(record)
    return records
