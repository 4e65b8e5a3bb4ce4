"""The training loop: SGD over uint8 face crops, evaluated every epoch, resumable."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm

from face_pipeline import PreprocessParams
from face_pipeline.preprocess import resize_face
from training.models import build_model, early_layers
from training.presets import TrainConfig, to_input, train_augmentation


@dataclass
class Split:
    crops: np.ndarray  # (N, S, S, 3) uint8
    labels: np.ndarray  # (N,) int64


@dataclass
class FitResult:
    net: nn.Module
    history: list[dict] = field(default_factory=list)
    predictions: dict[str, list[int]] = field(default_factory=dict)  # eval set -> predicted labels


def _loss(config: TrainConfig, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    if config.arch == "basecnn":  # log-softmax output, NLL loss (paper)
        return F.nll_loss(output, target)
    return F.cross_entropy(output, target, label_smoothing=config.label_smoothing)


@torch.no_grad()
def predict(net: nn.Module, crops: np.ndarray, params: PreprocessParams, device: str, batch: int = 128) -> np.ndarray:
    """Class probabilities for uint8 crops, through the shared normalisation."""
    net.eval()
    out = []
    for start in range(0, len(crops), batch):
        x = to_input(crops[start : start + batch], params).to(device)
        out.append(torch.softmax(net(x), dim=1).cpu().numpy())
    return np.concatenate(out) if out else np.empty((0, len(params.classes)), np.float32)


def evaluate(net: nn.Module, split: Split, params: PreprocessParams, config: TrainConfig, device: str) -> dict:
    probs = predict(net, split.crops, params, device)
    target = torch.from_numpy(split.labels)
    p = torch.from_numpy(probs).clamp_min(1e-12)
    loss = float(F.nll_loss(p.log(), target))
    pred = probs.argmax(1)
    return {"loss": loss, "acc": float((pred == split.labels).mean()), "pred": pred.tolist()}


def fit(
    config: TrainConfig,
    params: PreprocessParams,
    train: Split,
    evals: dict[str, Split],
    seed: int,
    device: str = "cpu",
    checkpoint: Path | None = None,
    desc: str = "train",
    extra: Split | None = None,
) -> FitResult:
    """Train from ``config``; if ``checkpoint`` exists, resume from its last finished epoch.

    With ``extra`` (e.g. FER-2013 faces), each epoch also trains on a fresh random sample of
    ``config.extra_per_epoch`` of them, resized to the input size, so that the model keeps
    what an earlier stage learnt while it adapts to the main set.
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = build_model(config.arch, config.init, len(params.classes), config.input_size).to(device)
    if config.freeze_early:
        for module in early_layers(net, config.arch):
            module.requires_grad_(False)
    trainable = [p for p in net.parameters() if p.requires_grad]
    if config.optimizer == "adamw":
        optimizer: torch.optim.Optimizer = torch.optim.AdamW(trainable, lr=config.lr, weight_decay=config.weight_decay)
    else:
        optimizer = torch.optim.SGD(trainable, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    n_extra = min(config.extra_per_epoch, len(extra.labels)) if extra is not None else 0
    steps_per_epoch = math.ceil((len(train.labels) + n_extra) / config.batch_size)
    total_steps = config.epochs * steps_per_epoch

    def lr_at(step: int) -> float:
        if config.schedule == "cosine":
            return config.lr * 0.5 * (1 + math.cos(math.pi * step / total_steps))
        return config.lr

    result = FitResult(net)
    start_epoch = 0
    if checkpoint is not None and checkpoint.exists():
        state = torch.load(checkpoint, map_location=device, weights_only=False)
        net.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        result.history = state["history"]
        start_epoch = state["epoch"]
        rng = np.random.default_rng([seed, start_epoch])
        torch.manual_seed(seed + start_epoch)

    augment = train_augmentation(config.input_size) if config.augment else None
    for epoch in range(start_epoch, config.epochs):
        net.train()
        if config.freeze_early:  # frozen BatchNorm layers keep their ImageNet statistics
            for module in early_layers(net, config.arch):
                module.eval()
        epoch_crops, epoch_labels = train.crops, train.labels
        if n_extra:
            pick = rng.choice(len(extra.labels), n_extra, replace=False)
            sample = Split(extra.crops[pick], extra.labels[pick])
            if sample.crops.shape[1] != config.input_size:
                sample = Split(np.stack([resize_face(c, config.input_size) for c in sample.crops]), sample.labels)
            epoch_crops = np.concatenate([train.crops, sample.crops])
            epoch_labels = np.concatenate([train.labels, sample.labels])
        order = rng.permutation(len(epoch_labels))
        seen = correct = 0
        loss_sum = 0.0
        started = time.time()
        bar = tqdm(
            range(steps_per_epoch),
            desc=f"{desc} epoch {epoch + 1}/{config.epochs}",
            unit="batch",
            leave=False,
            mininterval=5,
        )
        for step in bar:
            idx = order[step * config.batch_size : (step + 1) * config.batch_size]
            crops = epoch_crops[idx]
            if augment is not None:
                # One draw per image: on a batched tensor v2 would share one draw across the batch.
                images = torch.from_numpy(crops).permute(0, 3, 1, 2)
                crops = torch.stack([augment(image) for image in images]).permute(0, 2, 3, 1).contiguous().numpy()
            x = to_input(crops, params).to(device)
            y = torch.from_numpy(epoch_labels[idx]).to(device)
            for group in optimizer.param_groups:
                group["lr"] = lr_at(epoch * steps_per_epoch + step)
            output = net(x)
            loss = _loss(config, output, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            seen += len(idx)
            correct += int((output.argmax(1) == y).sum())
            loss_sum += float(loss.detach()) * len(idx)
            bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}")
        record = {
            "epoch": epoch + 1,
            "train_loss": loss_sum / seen,
            "train_acc": correct / seen,
            "seconds": round(time.time() - started, 1),
            "images_per_s": round(seen / (time.time() - started), 1),
        }
        for name, split in evals.items():
            scores = evaluate(net, split, params, config, device)
            record[f"{name}_loss"], record[f"{name}_acc"] = scores["loss"], scores["acc"]
            result.predictions[name] = scores["pred"]
        result.history.append(record)
        print(
            f"{desc} epoch {epoch + 1}: "
            + ", ".join(f"{k} {v:.3f}" for k, v in record.items() if k != "epoch" and isinstance(v, float)),
            flush=True,
        )
        if checkpoint is not None:
            checkpoint.parent.mkdir(parents=True, exist_ok=True)
            tmp = checkpoint.with_suffix(".tmp")
            torch.save(
                {
                    "model": net.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "epoch": epoch + 1,
                    "history": result.history,
                },
                tmp,
            )
            tmp.replace(checkpoint)
    if start_epoch >= config.epochs:  # resumed a finished run: predictions were not recomputed
        for name, split in evals.items():
            result.predictions[name] = evaluate(net, split, params, config, device)["pred"]
    return result
