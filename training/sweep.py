"""Every experiment behind Table 2, in the order that matters most, each step resumable.

The order puts the shipped model's recipe and the paper's rows first, so that an
interrupted sweep still leaves the most useful results; rerunning continues where it
stopped (finished trials are skipped).
"""

from __future__ import annotations

from pathlib import Path

from training.fer_stage import run_fer_stage
from training.sfew_trials import run_trials

SEEDS = [0, 1, 2, 3, 4]

# (step name, preset, split, extra overrides, run name)
STEPS: list[tuple[str, str, str, dict, str | None]] = [
    ("basecnn-random", "paper-basecnn", "random", {}, None),
    ("basecnn-film", "paper-basecnn", "film", {}, None),
    ("fer-stage", "fer-stage-mobilenet", "", {}, None),
    ("basecnn-nofp-random", "paper-basecnn-nofp", "random", {}, None),
    ("cascade-random", "cascade-mobilenet", "random", {}, None),
    ("tuned-mobilenet-random", "tuned-mobilenet", "random", {}, None),
    ("cascade-film", "cascade-mobilenet", "film", {}, None),
    ("tuned-mobilenet-film", "tuned-mobilenet", "film", {}, None),
    ("plain-mobilenet-random", "plain-mobilenet", "random", {}, None),
    ("frozen-mobilenet-random", "tuned-mobilenet-frozen", "random", {}, None),
    # ImageNet ResNet18 weights cannot be had offline here: the paper's recipe from scratch.
    ("resnet18-scratch-random", "paper-resnet18", "random", {"init": "none"}, "paper-resnet18-scratch"),
    ("tuned-resnet18-scratch-random", "tuned-resnet18", "random", {"init": "none"}, "tuned-resnet18-scratch"),
    ("plain-mobilenet-film", "plain-mobilenet", "film", {}, None),
]


def run_sweep(data: Path, fer: Path, device: str = "cpu", only: list[str] | None = None) -> None:
    for step, preset, split, overrides, name in STEPS:
        if only and step not in only:
            continue
        print(f"=== {step}", flush=True)
        if preset.startswith("fer-stage"):
            run_fer_stage(fer, preset, device)
            continue
        run_trials(data / "images", preset, split, SEEDS, device, overrides, name=name, fer_root=fer)
