"""Averaged recipes on SFEW: the finished trials of several recipes, one seed, their logits averaged.

A deep ensemble is a recipe too: train each member recipe with seed s and serve the mean of their logits
(each also on the mirrored face when the ensemble says so), which is what ``models.Averaged``, and so the
exported model, computes. Its trial for seed s averages the members' seed-s trials of the same split, so
it trains nothing itself; it is scored on the same test faces, and its record has the trial format, so
Table 2 reads it like any other row. Its figure is its final networks' accuracy (an average of networks
has no epochs), where a single recipe's row is the mean of its last ``stable_epochs`` epochs; each
member's last epoch is kept in the record beside it.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import torch

from face_pipeline import PreprocessParams
from training.faces import Split
from training.fer2013 import load_fer
from training.loop import logits
from training.models import Averaged, load_net
from training.presets import ENSEMBLES, TrainConfig
from training.sfew import CROSS_VALIDATION, manifest_hash
from training.sfew_trials import RUNS_DIR, finished_record, fold_of, git_commit, sfew_faces
from training.ship import COST_BUDGET_MS, check_members, onnx_ms_per_face, variant_accuracy, view_logits


def member_trials(members: tuple[str, ...], split: str, seed: int) -> tuple[list[dict], list[torch.nn.Module]]:
    """Each member recipe's finished trial of ``split`` and ``seed``, checked to be one model's parts."""
    records, nets = [], []
    for member in members:
        run = RUNS_DIR / member / split / f"seed{seed}"
        if finished_record(run / "metrics.json") is None or not (run / "model.pt").exists():
            raise FileNotFoundError(
                f"{run} has no finished trial with its weights; train it first: python -m training train "
                f"--preset {member} --split {split} --seeds {seed} --fer ../shared/data/fer2013/train"
            )
        record, net = load_net(run)
        records.append(record)
        nets.append(net)
    check_members(records)
    if any(r["preprocess"] != records[0]["preprocess"] for r in records):
        # The test faces are cut once, with the first member's detector and framing.
        raise ValueError(f"{', '.join(members)}: an averaged recipe's members must share their preprocessing")
    return records, nets


def averaged(nets: list[torch.nn.Module], mirror: bool, crops: np.ndarray, params: PreprocessParams) -> np.ndarray:
    """The ensemble's logits for uint8 crops: the exported model's computation (``Averaged``)."""
    return logits(Averaged(nets, mirror).eval(), crops, params, "cpu")


def run_ensemble_trials(
    root: Path, name: str, split: str, seeds: list[int], fer_root: Path | None = None
) -> list[dict]:
    """One record per seed under runs/<name>/<split>/ (``fer_root``: FER-2013's held-out part scored too)."""
    members, mirror = ENSEMBLES[name]
    fer_val = load_fer(fer_root)[1] if fer_root is not None else None
    records = []
    faces: dict[int, tuple[Split, Split]] = {}  # every seed's members share one recipe each: one cut per fold
    for seed in seeds:
        out = RUNS_DIR / name / split / f"seed{seed}"
        if (finished := finished_record(out / "metrics.json")) is not None:
            records.append(finished)
            print(f"{out / 'metrics.json'} is complete; skipped")
            continue
        parts, nets = member_trials(members, split, seed)
        params = PreprocessParams.from_dict(parts[0]["preprocess"])
        fold = fold_of(split, seed)
        if fold not in faces:
            faces[fold] = sfew_faces(root, TrainConfig(**parts[0]["config"]), split, fold)
        train, test = faces[fold]
        pred = averaged(nets, mirror, test.crops, params).argmax(1)
        record = {
            "preset": name,
            "name": name,
            "split": split,
            "seed": seed,
            "config": {"members": list(members), "mirror": mirror, "arch": parts[0]["config"]["arch"]},
            "preprocess": parts[0]["preprocess"],
            "manifest_hash": manifest_hash(),
            "git_commit": git_commit(),
            "n_train": len(train.labels),
            "n_test": len(test.labels),
            "test_acc_stable": float((pred == test.labels).mean()),
            "train_acc_eval": float((averaged(nets, mirror, train.crops, params).argmax(1) == train.labels).mean()),
            "members_last_epoch_test_acc": [p["history"][-1]["test_acc"] for p in parts],
            "history": [],
            "test_labels": test.labels.tolist(),
            "test_pred": pred.tolist(),
            "done": True,
        }
        if fer_val is not None:
            fer_faces = fer_val.resized(params.input_size)
            fer_pred = averaged(nets, mirror, fer_faces.crops, params).argmax(1)
            record["fer_val_acc"] = float((fer_pred == fer_faces.labels).mean())
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(json.dumps(record, indent=1))
        print(
            f"{name}/{split}/seed{seed}: test {record['test_acc_stable']:.3f} (members' last epochs "
            f"{', '.join(f'{a:.3f}' for a in record['members_last_epoch_test_acc'])}), "
            f"FER-2013 val {record.get('fer_val_acc', float('nan')):.3f}",
            flush=True,
        )
        records.append(record)
    return records


def subset_accuracies(
    views: list[list[np.ndarray]], labels: list[np.ndarray], members: tuple[int, ...], mirror: bool
) -> list[float]:
    """Per seed, the accuracy of averaging ``members`` (indices into each seed's ``view_logits``)."""
    return [variant_accuracy(seed_views, y, members, mirror) for seed_views, y in zip(views, labels, strict=True)]


def compare_ensembles(root: Path, recipes: list[str], split: str, seeds: list[int], out: Path) -> list[dict]:
    """Every set of ``recipes`` (alone too), with and without the mirror, as an averaged recipe: per seed
    on ``split``'s test side, its median and, on ``cv`` (a seed per fold, every training-side face
    once), the accuracy over all folds' faces pooled. The rule, fixed before looking: the best median
    (on ``cv``: the best pooled accuracy) within COST_BUDGET_MS per face; between equal ones, the cheaper."""
    if not seeds or not recipes:
        raise ValueError("give at least one recipe and one seed")
    views, labels, nets_of_seed0 = [], [], []
    tests: dict[int, Split] = {}  # one recipe per member: the same test faces for every seed of a fold
    for seed in seeds:
        records, nets = member_trials(tuple(recipes), split, seed)
        params = PreprocessParams.from_dict(records[0]["preprocess"])
        fold = fold_of(split, seed)
        if fold not in tests:
            tests[fold] = sfew_faces(root, TrainConfig(**records[0]["config"]), split, fold)[1]
        views.append([view_logits(net, tests[fold], params) for net in nets])
        labels.append(tests[fold].labels)
        nets_of_seed0 = nets_of_seed0 or nets
    sizes = np.array([len(y) for y in labels])
    figure = "pooled" if split == CROSS_VALIDATION else "median"
    cost: dict[tuple[int, bool], float] = {}  # the members are one architecture: cost depends on their number
    rows = []
    for k in range(1, len(recipes) + 1):
        for members in itertools.combinations(range(len(recipes)), k):
            for mirror in (False, True):
                if (k, mirror) not in cost:
                    cost[(k, mirror)] = round(onnx_ms_per_face(Averaged(nets_of_seed0[:k], mirror).eval(), params), 3)
                accs = subset_accuracies(views, labels, members, mirror)
                rows.append(
                    {
                        "recipes": [recipes[m] for m in members],
                        "mirror": mirror,
                        "per_seed": [round(100 * a, 1) for a in accs],
                        "median": round(100 * float(np.median(accs)), 1),
                        "pooled": round(100 * float(np.dot(accs, sizes) / sizes.sum()), 1),
                        "ms_per_face": cost[(k, mirror)],
                    }
                )
    affordable = [r for r in rows if r["ms_per_face"] <= COST_BUDGET_MS]
    chosen = min(affordable, key=lambda r: (-r[figure], r["ms_per_face"])) if affordable else None
    faces_words = (
        f"fold k's trials on fold k's {', '.join(map(str, sizes))} faces ({sizes.sum()} pooled: every training-side "
        "face of the fixed split once)"
        if split == CROSS_VALIDATION
        else f"on the split's {sizes[0]} test faces"
    )
    lines = [
        f"# Averaged recipes compared on SFEW's `{split}` split",
        "",
        f"Command: `python -m training ensembles --recipes {' '.join(recipes)} --split {split} "
        f"--seeds {','.join(map(str, seeds))}`. Each set of the recipes' trials of one seed, their logits averaged "
        f"(and over the mirrored face with the mirror), scored {faces_words}. Rule, fixed before looking: the "
        f"best {figure} accuracy within {COST_BUDGET_MS} ms per face (ONNX Runtime, batch 8, 2 cores); between "
        "equal ones, the cheaper. Best first.",
        "",
        f"| recipes averaged | mirror | per {'fold' if split == CROSS_VALIDATION else 'seed'} | median "
        + ("| pooled " if split == CROSS_VALIDATION else "")
        + "| ms per face | chosen |",
        "|---|---|---|---|" + ("---|" if split == CROSS_VALIDATION else "") + "---|---|",
    ]
    for r in sorted(rows, key=lambda r: (-r[figure], r["ms_per_face"])):
        lines.append(
            f"| {' + '.join(f'`{n}`' for n in r['recipes'])} | {'yes' if r['mirror'] else 'no'} "
            f"| {', '.join(f'{a:.1f}' for a in r['per_seed'])} | {r['median']:.1f}% "
            + (f"| {r['pooled']:.1f}% " if split == CROSS_VALIDATION else "")
            + f"| {r['ms_per_face']:.2f} | {'**yes**' if r is chosen else ''} |"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return rows
