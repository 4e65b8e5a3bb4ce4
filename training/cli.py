"""One entry point for every training-side job; each subcommand names the module doing it."""

from __future__ import annotations

import argparse
from pathlib import Path

from face_pipeline.metadata import SHIPPED_MODEL
from training.presets import ENSEMBLES, PRESETS
from training.sfew import CROSS_VALIDATION, SPLITS, VALIDATION

DEFAULT_SFEW = Path("../shared/data/sfew675")
DEFAULT_FER = Path("../shared/data/fer2013/train")
DATA_LAYOUTS = {
    "data": "the SFEW 675 folder: <data>/images/<Angry|Disgust|...|Surprise>/*.jpg (and lpq_phog_features.csv)",
    "fer": "the FER-2013 train folder: <fer>/<angry|disgust|...|surprise>/*.png",
}


def _presets_help() -> str:
    return "one of: " + ", ".join(sorted([*PRESETS, *ENSEMBLES]))


def _cmd_split(args: argparse.Namespace) -> None:
    from training.sfew import MANIFEST_PATH, check_data_matches, make_manifest, read_manifest, write_manifest

    if args.check:
        check_data_matches(args.data / "images", read_manifest())
        print(f"{args.data} matches {MANIFEST_PATH}")
        return
    samples = make_manifest(args.data / "images")
    write_manifest(samples)
    for which in ("random", "film"):
        test = sum(s.split(which) == "test" for s in samples)
        print(f"{which:>6} split: {len(samples) - test} train / {test} test")
    print(f"wrote {MANIFEST_PATH}")


def _cmd_table1(args: argparse.Namespace) -> None:
    from training.table1 import write_table1

    write_table1(args.data / "images", args.out)


def _cmd_fer_split(args: argparse.Namespace) -> None:
    from training.fer2013 import VAL_MANIFEST, write_val_manifest

    val = write_val_manifest(args.fer)
    print(f"wrote {VAL_MANIFEST}: {len(val)} held-out images")


def _cmd_box_map(args: argparse.Namespace) -> None:
    from training.box_map import fit_box_map

    fit_box_map(args.data / "images", args.out)


def _cmd_end_to_end(args: argparse.Namespace) -> None:
    from training.end_to_end import end_to_end

    end_to_end(args.data / "images", args.model, args.out, args.film_model, args.fer)


def _seeds(text: str) -> list[int]:
    if "-" in text:
        lo, hi = text.split("-")
        return list(range(int(lo), int(hi) + 1))
    return [int(v) for v in text.split(",")]


def _cmd_train(args: argparse.Namespace) -> None:
    from training.sfew_trials import run_trials

    if args.preset in ENSEMBLES:  # an averaged recipe: its members' finished trials, nothing to train
        from training.ensemble_trials import run_ensemble_trials

        if any(v is not None for v in (args.init, args.epochs, args.lr, args.optimizer, args.weight_decay, args.name)):
            raise ValueError(f"{args.preset} averages finished trials and trains nothing: drop the training options")

        for split in args.split:
            run_ensemble_trials(args.data / "images", args.preset, split, _seeds(args.seeds), args.fer)
        return

    overrides = {
        "init": args.init,
        "epochs": args.epochs,
        "lr": args.lr,
        "optimizer": args.optimizer,
        "weight_decay": args.weight_decay,
    }
    for split in args.split:
        run_trials(
            args.data / "images",
            args.preset,
            split,
            _seeds(args.seeds),
            args.device,
            overrides,
            name=args.name,
            fer_root=args.fer,
        )


def _cmd_fer_stage(args: argparse.Namespace) -> None:
    from training.fer_stage import run_fer_stage

    run_fer_stage(args.fer, args.preset, args.device, args.seed)


def _cmd_sweep(args: argparse.Namespace) -> None:
    from training.sweep import run_sweep

    run_sweep(args.data, args.fer, args.device, args.only)


def _cmd_table2(args: argparse.Namespace) -> None:
    from training.table2 import write_table2

    write_table2(args.data / "lpq_phog_features.csv", args.out)


def _cmd_export(args: argparse.Namespace) -> None:
    from training.ship import ship

    ship(args.runs, args.out, args.fer, args.data / "images", args.mirror)


def _cmd_variants(args: argparse.Namespace) -> None:
    from training.ship import compare_variants

    compare_variants(args.runs, args.fer, args.out, args.val_runs, args.data / "images")


def _cmd_ensembles(args: argparse.Namespace) -> None:
    from training.ensemble_trials import compare_ensembles

    out = args.out or Path(f"reports/ensembles_{args.split}.md")
    compare_ensembles(args.data / "images", args.recipes, args.split, _seeds(args.seeds), out)


def _cmd_transfer(args: argparse.Namespace) -> None:
    from training.ship import stage_transfer

    stage_transfer(args.stages, args.data / "images", args.out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("split", help="rewrite the fixed split manifest from the data")
    p.add_argument("--data", type=Path, default=DEFAULT_SFEW, help="SFEW 675 folder (with images/)")
    p.add_argument("--check", action="store_true", help="only check the data matches the committed manifest")
    p.set_defaults(func=_cmd_split)

    p = sub.add_parser("table1", help="build the face crops and the Table 1 detection report")
    p.add_argument("--data", type=Path, default=DEFAULT_SFEW, help="SFEW 675 folder (with images/)")
    p.add_argument("--out", type=Path, default=Path("reports/table1"))
    p.set_defaults(func=_cmd_table1)

    p = sub.add_parser("fer-split", help="rewrite the FER-2013 held-out manifest (10%% of each class)")
    p.add_argument("--fer", type=Path, default=DEFAULT_FER, help="FER-2013 train folder: <class>/*.png")
    p.set_defaults(func=_cmd_fer_split)

    p = sub.add_parser("box-map", help="fit the YuNet -> Viola-Jones box mapping on SFEW and measure it")
    p.add_argument("--data", type=Path, default=DEFAULT_SFEW, help="SFEW 675 folder (with images/)")
    p.add_argument("--out", type=Path, default=Path("reports/detectors"))
    p.set_defaults(func=_cmd_box_map)

    p = sub.add_parser("variants", help="averaged seeds and mirroring: validation gain and cost")
    p.add_argument("--runs", type=Path, nargs="+", required=True)
    p.add_argument("--fer", type=Path, default=DEFAULT_FER)
    p.add_argument(
        "--val-runs",
        type=Path,
        nargs="+",
        help="the same networks from validation: SFEW trials' val counterparts (runs/<preset>/val/seed<k>) or "
        "their cv folders (runs/<preset>/cv: all folds, pooled); FER-2013 stages as they are",
    )
    p.add_argument("--data", type=Path, default=DEFAULT_SFEW, help="SFEW 675 folder (with images/)")
    p.add_argument("--out", type=Path, default=Path("reports/shipped_variants.md"))
    p.set_defaults(func=_cmd_variants)

    p = sub.add_parser("ensembles", help="every set of some recipes' trials averaged, per seed, on one split")
    p.add_argument("--recipes", nargs="+", required=True, help="presets whose trials (runs/<preset>/) are finished")
    p.add_argument("--split", default=VALIDATION, choices=[*SPLITS, VALIDATION, CROSS_VALIDATION])
    p.add_argument("--seeds", default="0-4", help="e.g. 0-4 or 0,3")
    p.add_argument("--data", type=Path, default=DEFAULT_SFEW, help="SFEW 675 folder (with images/)")
    p.add_argument("--out", type=Path, help="default: reports/ensembles_<split>.md")
    p.set_defaults(func=_cmd_ensembles)

    p = sub.add_parser("transfer", help="FER-2013 stages on SFEW's training-side faces: another domain")
    p.add_argument("--stages", type=Path, nargs="+", required=True, help="models/stages/<preset>.pt")
    p.add_argument("--data", type=Path, default=DEFAULT_SFEW, help="SFEW 675 folder (with images/)")
    p.add_argument("--out", type=Path, default=Path("reports/stage_transfer.md"))
    p.set_defaults(func=_cmd_transfer)

    p = sub.add_parser("end-to-end", help="the shipped model on SFEW test frames, per detector, as /predict runs")
    p.add_argument("--data", type=Path, default=DEFAULT_SFEW, help="SFEW 675 folder (with images/)")
    p.add_argument("--model", type=Path, default=Path(SHIPPED_MODEL))
    p.add_argument("--film-model", type=Path, help="the same recipe exported from its film-split trial")
    p.add_argument("--fer", type=Path, default=DEFAULT_FER, help="FER-2013 train folder: 48 px faces held out")
    p.add_argument("--out", type=Path, default=Path("reports/detectors"))
    p.set_defaults(func=_cmd_end_to_end)

    p = sub.add_parser("train", help="SFEW trials of one preset (resumable: finished seeds are skipped)")
    p.add_argument(
        "--preset", required=True, choices=sorted([*PRESETS, *ENSEMBLES]), metavar="PRESET", help=_presets_help()
    )
    p.add_argument(
        "--split",
        nargs="+",
        default=["random"],
        choices=[*SPLITS, VALIDATION, CROSS_VALIDATION],
        help="val: held-out films of the fixed split's training side, for choosing recipes; cv: every such film held "
        "out once, in 5 folds (seed k: fold k)",
    )
    p.add_argument("--seeds", default="0-4", help="e.g. 0-4 or 0,3")
    p.add_argument("--init", help="override: none | imagenet | path to a checkpoint")
    p.add_argument("--epochs", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--optimizer", choices=["sgd", "adamw"])
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--name", help="run folder name under runs/ (default: the preset)")
    p.add_argument("--data", type=Path, default=DEFAULT_SFEW, help="SFEW 675 folder (with images/)")
    p.add_argument("--fer", type=Path, help="FER-2013 train folder: held-out part scored; mixed in if the preset says")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("fer-stage", help="train a backbone on FER-2013 (stage 1 of the cascade)")
    p.add_argument("--preset", default="fer-stage-mobilenet", choices=[p for p in PRESETS if p.startswith("fer-")])
    p.add_argument("--fer", type=Path, default=DEFAULT_FER)
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0, help="another seed: models/stages/<preset>-seed<n>.pt")
    p.set_defaults(func=_cmd_fer_stage)

    p = sub.add_parser("sweep", help="every Table 2 experiment in priority order (resumable)")
    p.add_argument("--data", type=Path, default=DEFAULT_SFEW, help="SFEW 675 folder (with images/)")
    p.add_argument("--fer", type=Path, default=DEFAULT_FER)
    p.add_argument("--device", default="cpu")
    p.add_argument("--only", nargs="*", help="run only these steps (names as printed)")
    p.set_defaults(func=_cmd_sweep)

    p = sub.add_parser("table2", help="Table 2 report from the finished trials under runs/")
    p.add_argument("--data", type=Path, default=DEFAULT_SFEW, help="SFEW 675 folder (with images/)")
    p.add_argument("--out", type=Path, default=Path("reports/table2"))
    p.set_defaults(func=_cmd_table2)

    p = sub.add_parser("export", help="export a finished trial to ONNX with its metadata (the shipped model)")
    p.add_argument("--runs", type=Path, nargs="+", default=[Path("runs/cascade-mobilenet-both/random/seed0")])
    p.add_argument("--mirror", action="store_true", help="also average each network over the mirrored face")
    p.add_argument("--out", type=Path, default=Path(SHIPPED_MODEL))
    p.add_argument("--data", type=Path, default=DEFAULT_SFEW, help="SFEW folder (with images/): calibration report")
    p.add_argument("--fer", type=Path, default=DEFAULT_FER, help="FER-2013 train folder: the held-out part")
    p.set_defaults(func=_cmd_export)

    args = parser.parse_args(argv)
    for name, layout in DATA_LAYOUTS.items():
        path = getattr(args, name, None)
        if path is not None and not path.is_dir():
            parser.exit(2, f"error: --{name} {path} is not a folder; expected {layout}\n")
    try:
        args.func(args)
    except (FileNotFoundError, ValueError) as exc:  # bad data or arguments: one line, no traceback
        parser.exit(2, f"error: {exc}\n")
