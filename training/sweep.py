"""Every experiment behind Table 2, in the order that matters most, each step resumable.

The order puts the shipped model's recipe and the paper's rows first, so that an
interrupted sweep still leaves the most useful results; rerunning continues where it
stopped (finished trials are skipped).
"""

from __future__ import annotations

from pathlib import Path

from training.ensemble_trials import run_ensemble_trials
from training.fer_stage import run_fer_stage
from training.presets import ENSEMBLES, make_config
from training.sfew import CROSS_VALIDATION, VALIDATION
from training.sfew_trials import run_trials

SEEDS = [0, 1, 2, 3, 4]
VAL_SEEDS = [0, 1, 2]  # recipe choice only
# Validation steps run on all five seeds: the shipped recipe and mixup were within noise on three.
FIVE_VAL_SEEDS = {
    "cascade80-both-val",
    "cascade80-mixup-both-val",
    "cascade80-wise30-both-val",
    "cascade80-wise50-both-val",
    "cascade80-wise70-both-val",
    "cascade80-cap25-both-val",
    "cascade80-cap25-wise50-both-val",
    "cascade80-cap25-long-both-val",
    "cascade80-cap25-long-wise50-both-val",
    "ensemble-cap25-lineages-val",
    "mirror-cap25-long-val",
}
# Steps whose every seed serves the same network (the FER-2013 stage itself): one trial.
ONE_SEED = {"cascade80-wise0-both-val", "cascade80-wise0-both-random", "cascade80-wise0-both-film"}

# (step name, preset, split, extra overrides (a FER-2013 stage: its seed), run name, score on FER-2013 held-out)
STEPS: list[tuple[str, str, str, dict, str | None, bool]] = [
    # The shipped recipe and what it stands on first.
    ("fer-stage", "fer-stage-mobilenet", "", {}, None, True),
    ("fer-polish", "fer-polish-mobilenet", "", {}, None, True),
    ("fer-polish80", "fer-polish80-mobilenet", "", {}, None, True),
    ("fer-polish96", "fer-polish96-mobilenet", "", {}, None, True),
    # Which input size: chosen on the films held out of the fixed split's training side (3 seeds each).
    ("cascade-both-val", "cascade-mobilenet-both", VALIDATION, {}, None, False),
    ("cascade80-both-val", "cascade80-mobilenet-both", VALIDATION, {}, None, False),
    ("cascade96-both-val", "cascade96-mobilenet-both", VALIDATION, {}, None, False),
    ("cascade80-both-random", "cascade80-mobilenet-both", "random", {}, None, True),
    ("cascade80-both-film", "cascade80-mobilenet-both", "film", {}, None, False),
    # The shipped model's other members (an ensemble; `python -m training variants` picks which).
    ("fer-light", "fer-light-mobilenet", "", {}, None, True),
    ("fer-long", "fer-long-mobilenet", "", {}, None, True),
    ("fer-light-polish80", "fer-light-polish80-mobilenet", "", {}, None, True),
    ("fer-long-polish80", "fer-long-polish80-mobilenet", "", {}, None, True),
    ("fer-stage-seed1", "fer-stage-mobilenet", "", {"seed": 1}, None, True),
    ("fer-polish80-of-seed1", "fer-polish80-of-seed1-mobilenet", "", {}, None, True),
    # One network distilled from the four 80-px stages above (their averaged soft labels).
    ("fer-distill80", "fer-distill80-mobilenet", "", {}, None, True),
    ("fer-distill80-robust", "fer-distill80-robust-mobilenet", "", {}, None, True),
    # Their cascades on validation only: both below the shipped recipe there, so not run on the test splits.
    ("cascade80-distill-both-val", "cascade80-distill-mobilenet-both", VALIDATION, {}, None, False),
    ("cascade80-distill-robust-both-val", "cascade80-distill-robust-mobilenet-both", VALIDATION, {}, None, False),
    # The robust stage trained at 80 px from ImageNet, then polished there (a member; its cascade on validation).
    ("fer-stage80", "fer-stage80-mobilenet", "", {}, None, True),
    ("fer-polish80-of-stage80", "fer-polish80-of-stage80-mobilenet", "", {}, None, True),
    ("cascade80-stage80-both-val", "cascade80-stage80-mobilenet-both", VALIDATION, {}, None, False),
    # The shipped recipe regularised for a small set of films, on validation.
    ("cascade80-mixup-both-val", "cascade80-mixup-mobilenet-both", VALIDATION, {}, None, False),
    # Mixup led the shipped recipe on validation (5 seeds each), so it is a row of both test splits too.
    ("cascade80-mixup-both-random", "cascade80-mixup-mobilenet-both", "random", {}, None, True),
    ("cascade80-mixup-both-film", "cascade80-mixup-mobilenet-both", "film", {}, None, False),
    ("cascade80-fer3000-both-val", "cascade80-fer3000-mobilenet-both", VALIDATION, {}, None, False),
    # The shipped recipe averaged in weight space with its FER-2013 stage (WiSE-FT): share 0 (the stage alone)
    # everywhere, the trained weights' shares 0.3, 0.5, 0.7 on validation, then the best there (the mean of the
    # FER-2013 held-out part and the films) on both test splits.
    ("cascade80-wise0-both-val", "cascade80-wise0-mobilenet-both", VALIDATION, {}, None, False),
    ("cascade80-wise0-both-random", "cascade80-wise0-mobilenet-both", "random", {}, None, True),
    ("cascade80-wise0-both-film", "cascade80-wise0-mobilenet-both", "film", {}, None, False),
    ("cascade80-wise30-both-val", "cascade80-wise30-mobilenet-both", VALIDATION, {}, None, False),
    ("cascade80-wise50-both-val", "cascade80-wise50-mobilenet-both", VALIDATION, {}, None, False),
    ("cascade80-wise70-both-val", "cascade80-wise70-mobilenet-both", VALIDATION, {}, None, False),
    ("cascade80-wise50-both-random", "cascade80-wise50-mobilenet-both", "random", {}, None, True),
    ("cascade80-wise50-both-film", "cascade80-wise50-mobilenet-both", "film", {}, None, False),
    # The two shipped cascades with the margin capped at a quarter of the box's side (small faces framed tight).
    ("cascade80-cap25-both-val", "cascade80-cap25-mobilenet-both", VALIDATION, {}, None, False),
    ("cascade80-cap25-both-random", "cascade80-cap25-mobilenet-both", "random", {}, None, True),
    ("cascade80-cap25-both-film", "cascade80-cap25-mobilenet-both", "film", {}, None, False),
    ("cascade80-cap25-wise50-both-random", "cascade80-cap25-wise50-mobilenet-both", "random", {}, None, True),
    ("cascade80-cap25-wise50-both-film", "cascade80-cap25-wise50-mobilenet-both", "film", {}, None, False),
    ("cascade80-cap25-wise50-both-val", "cascade80-cap25-wise50-mobilenet-both", VALIDATION, {}, None, False),
    # The capped cascade from another FER-2013 lineage: a member of the shipped set (v3.5).
    ("cascade80-cap25-long-both-val", "cascade80-cap25-long-mobilenet-both", VALIDATION, {}, None, False),
    ("cascade80-cap25-long-both-random", "cascade80-cap25-long-mobilenet-both", "random", {}, None, True),
    ("cascade80-cap25-long-both-film", "cascade80-cap25-long-mobilenet-both", "film", {}, None, False),
    # Its WiSE-FT half and half, a second lineage of the recipe that moved unseen films most.
    ("cascade80-cap25-long-wise50-both-val", "cascade80-cap25-long-wise50-mobilenet-both", VALIDATION, {}, None, False),
    ("cascade80-cap25-long-wise50-both-random", "cascade80-cap25-long-wise50-mobilenet-both", "random", {}, None, True),
    ("cascade80-cap25-long-wise50-both-film", "cascade80-cap25-long-wise50-mobilenet-both", "film", {}, None, False),
    # Cross-validation of the capped cascades (every training-side film held out once, seed k: fold k): what
    # `ensembles --split cv` and the shipped model's `variants` choose by, 383 faces where val has 94.
    ("cascade80-cap25-both-cv", "cascade80-cap25-mobilenet-both", CROSS_VALIDATION, {}, None, False),
    ("cascade80-cap25-wise50-both-cv", "cascade80-cap25-wise50-mobilenet-both", CROSS_VALIDATION, {}, None, False),
    ("cascade80-cap25-long-both-cv", "cascade80-cap25-long-mobilenet-both", CROSS_VALIDATION, {}, None, False),
    (
        "cascade80-cap25-long-wise50-both-cv",
        "cascade80-cap25-long-wise50-mobilenet-both",
        CROSS_VALIDATION,
        {},
        None,
        False,
    ),
    # The capped cascade serving the moving average of its weights (TrainConfig.ema), on the folds only.
    ("cascade80-cap25-ema-both-cv", "cascade80-cap25-ema-mobilenet-both", CROSS_VALIDATION, {}, None, False),
    # Averaged recipes (no training of their own: the capped cascades' trials above, seed by seed): the two
    # lineages' cascades, and the rule's pick of every set on validation (`python -m training ensembles`).
    ("ensemble-cap25-lineages-val", "ensemble-cap25-lineages", VALIDATION, {}, None, False),
    ("ensemble-cap25-lineages-random", "ensemble-cap25-lineages", "random", {}, None, True),
    ("ensemble-cap25-lineages-film", "ensemble-cap25-lineages", "film", {}, None, False),
    ("ensemble-cap25-lineages-cv", "ensemble-cap25-lineages", CROSS_VALIDATION, {}, None, False),
    ("mirror-cap25-long-val", "mirror-cap25-long", VALIDATION, {}, None, False),
    ("mirror-cap25-long-random", "mirror-cap25-long", "random", {}, None, True),
    ("mirror-cap25-long-film", "mirror-cap25-long", "film", {}, None, False),
    ("cascade-both-random", "cascade-mobilenet-both", "random", {}, None, True),
    ("cascade-light-both-random", "cascade-light-mobilenet-both", "random", {}, None, True),
    ("fer-stage-resnet18", "fer-stage-resnet18", "", {}, None, True),
    ("resnet18-fer-paper-random", "paper-resnet18-fer", "random", {}, None, True),
    ("resnet18-fer-tuned-random", "tuned-resnet18-fer", "random", {}, None, True),
    # The ResNet18 stage trained to convergence (16 more epochs), and the paper's architecture transferred from it:
    # the paper's recipe, the tuned one, and the cascade's recipe.
    ("fer-stage-resnet18-long", "fer-stage-resnet18-long", "", {}, None, True),
    ("cascade-resnet18-both-random", "cascade-resnet18-both", "random", {}, None, True),
    ("cascade-resnet18-both-film", "cascade-resnet18-both", "film", {}, None, False),
    ("resnet18-ferlong-paper-random", "paper-resnet18-ferlong", "random", {}, None, True),
    ("resnet18-ferlong-paper-film", "paper-resnet18-ferlong", "film", {}, None, False),
    ("resnet18-ferlong-tuned-random", "tuned-resnet18-ferlong", "random", {}, None, True),
    ("resnet18-ferlong-tuned-film", "tuned-resnet18-ferlong", "film", {}, None, False),
    # Controls for the ResNet18 rows: the 8-epoch stage's recipe on MobileNetV2 from scratch and from ImageNet,
    # then the tuned recipe on SFEW: is it the architecture or the ImageNet start that carries to movie frames?
    ("fer-stage-mobilenet-scratch", "fer-stage-mobilenet-scratch", "", {}, None, True),
    ("fer-stage-mobilenet-8ep", "fer-stage-mobilenet-8ep", "", {}, None, True),
    ("mobilenet-scratch-fer-tuned-random", "tuned-mobilenet-scratch-fer", "random", {}, None, True),
    ("mobilenet-scratch-fer-tuned-film", "tuned-mobilenet-scratch-fer", "film", {}, None, False),
    ("mobilenet-8ep-fer-tuned-random", "tuned-mobilenet-8ep-fer", "random", {}, None, True),
    ("mobilenet-8ep-fer-tuned-film", "tuned-mobilenet-8ep-fer", "film", {}, None, False),
    ("cascade-random", "cascade-mobilenet", "random", {}, None, True),
    # FER-2013 held-out accuracy does not depend on the SFEW split: scored on the fixed split only.
    ("cascade-both-film", "cascade-mobilenet-both", "film", {}, None, False),
    ("resnet18-fer-paper-film", "paper-resnet18-fer", "film", {}, None, False),
    ("resnet18-fer-tuned-film", "tuned-resnet18-fer", "film", {}, None, False),
    ("cascade-film", "cascade-mobilenet", "film", {}, None, False),
    ("cascade-light-both-film", "cascade-light-mobilenet-both", "film", {}, None, False),
    # The paper-faithful and ImageNet rows (120 px colour).
    ("basecnn-random", "paper-basecnn", "random", {}, None, False),
    ("basecnn-film", "paper-basecnn", "film", {}, None, False),
    ("basecnn-nofp-random", "paper-basecnn-nofp", "random", {}, None, False),
    ("tuned-mobilenet-random", "tuned-mobilenet", "random", {}, None, False),
    ("tuned-mobilenet-film", "tuned-mobilenet", "film", {}, None, False),
    ("frozen-mobilenet-random", "tuned-mobilenet-frozen", "random", {}, None, False),
    ("plain-mobilenet-random", "plain-mobilenet", "random", {}, None, False),
    # ImageNet ResNet18 weights cannot be had offline here: the paper's recipe from scratch.
    ("resnet18-scratch-random", "paper-resnet18", "random", {"init": "none"}, "paper-resnet18-scratch", False),
    ("tuned-resnet18-scratch-random", "tuned-resnet18", "random", {"init": "none"}, "tuned-resnet18-scratch", False),
    ("plain-mobilenet-film", "plain-mobilenet", "film", {}, None, False),
    ("frozen-mobilenet-film", "tuned-mobilenet-frozen", "film", {}, None, False),
]


def run_sweep(data: Path, fer: Path, device: str = "cpu", only: list[str] | None = None) -> None:
    unknown = sorted(set(only or []) - {step for step, *_ in STEPS})
    if unknown:
        # A typo would otherwise run nothing and say nothing.
        raise SystemExit(f"unknown sweep step(s) {', '.join(unknown)}; steps: {', '.join(s for s, *_ in STEPS)}")
    for step, preset, split, overrides, name, score_fer in STEPS:
        if only and step not in only:
            continue
        print(f"=== {step}", flush=True)
        if preset.startswith("fer-"):
            run_fer_stage(fer, preset, device, overrides.get("seed", 0))
            continue
        seeds = [0] if step in ONE_SEED else VAL_SEEDS if split == VALIDATION and step not in FIVE_VAL_SEEDS else SEEDS
        if preset in ENSEMBLES:
            run_ensemble_trials(data / "images", preset, split, seeds, fer if score_fer else None)
            continue
        mixes_fer = make_config(preset).extra_per_epoch > 0
        run_trials(
            data / "images",
            preset,
            split,
            seeds,
            device,
            overrides,
            name=name,
            fer_root=fer if score_fer or mixes_fer else None,
            score_fer=score_fer,
        )
