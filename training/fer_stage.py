"""Stage 1 of the cascade: train a backbone on FER-2013 faces before SFEW (resumable).

The finished stage's weights and record go to ``models/stages/<preset>.pt`` and ``.json`` (with
``-seed<n>`` after the preset for a seed other than 0), which are
committed: the SFEW recipes start from them, on any machine, without re-running the stage.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from face_pipeline import PreprocessParams
from training.distill import teacher_logits, with_teacher_targets
from training.fer2013 import load_fer
from training.loop import fit
from training.presets import channel_stats, make_config
from training.sfew_trials import RUNS_DIR, git_commit

STAGES_DIR = Path("models/stages")


def run_fer_stage(fer_root: Path, preset: str = "fer-stage-mobilenet", device: str = "cpu", seed: int = 0) -> Path:
    name = preset if seed == 0 else f"{preset}-seed{seed}"  # more seeds: ensemble members
    model_path = STAGES_DIR / f"{name}.pt"
    if model_path.exists():
        print(f"{model_path} exists; skipped")
        return model_path
    out = RUNS_DIR / name
    config = make_config(preset)
    train, val = load_fer(fer_root)
    teacher_val_acc = None
    if config.distill:
        train = with_teacher_targets(train, list(config.teachers))
        # What the student aims at: the teachers' own held-out accuracy (mirror images averaged).
        teacher_val_acc = float((teacher_logits(list(config.teachers), val.crops).argmax(1) == val.labels).mean())
        print(f"teachers on the held-out part: {100 * teacher_val_acc:.1f}%", flush=True)
    # Training crops stay at 48 px (the augmentation resizes them); validation takes the serving path.
    val = val.resized(config.input_size)
    mean, std = channel_stats(train.crops[::10])
    params = PreprocessParams(input_size=config.input_size, mean=mean, std=std, grayscale=config.grayscale)
    result = fit(config, params, train, {"val": val}, seed, device, checkpoint=out / "checkpoint.pt", desc=name)
    record = {
        "preset": preset,
        "config": config.to_dict(),
        "preprocess": params.to_dict(),
        "seed": seed,
        "git_commit": git_commit(),
        "n_train": len(train.labels),
        "n_val": len(val.labels),
        "history": result.history,
        "val_acc": result.history[-1]["val_acc"],
        **({"teacher_val_acc": teacher_val_acc} if teacher_val_acc is not None else {}),
        "done": True,
    }
    STAGES_DIR.mkdir(parents=True, exist_ok=True)
    model_path.with_suffix(".json").write_text(json.dumps(record, indent=1))
    torch.save(result.net.state_dict(), model_path)
    return model_path
