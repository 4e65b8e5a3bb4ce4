"""The training loop, the torchvision way: ``train_one_epoch``, ``evaluate``, and ``fit`` that runs
them with a resumable checkpoint. Inputs are uint8 face crops; every batch goes through the shared
``face_pipeline.normalize``, exactly as in serving."""

from __future__ import annotations

import copy
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
from training import augment
from training.faces import Split
from training.models import WeightAverage, build_model, early_layers, interpolate_weights
from training.presets import TrainConfig, to_input, train_augmentation

# Distillation (training/distill.py) softens the teachers' and the network's outputs alike by this much,
# so that the ranking of the wrong classes carries over.
DISTILL_TEMPERATURE = 2.0

__all__ = ["FitResult", "Split", "evaluate", "fit", "predict", "train_one_epoch"]


@dataclass
class FitResult:
    net: nn.Module
    history: list[dict] = field(default_factory=list)
    predictions: dict[str, list[int]] = field(default_factory=dict)  # eval set -> predicted labels


def _loss(
    config: TrainConfig, output: torch.Tensor, target: torch.Tensor, soft: torch.Tensor | None = None
) -> torch.Tensor:
    if config.arch == "basecnn":  # log-softmax output, NLL loss (paper)
        return F.nll_loss(output, target)
    hard = F.cross_entropy(output, target, label_smoothing=config.label_smoothing)
    if soft is None or not config.distill:
        return hard
    t = DISTILL_TEMPERATURE  # the temperature the soft targets were made at; t*t keeps gradient scale
    distilled = F.kl_div(F.log_softmax(output / t, dim=1), soft, reduction="batchmean") * t * t
    return (1 - config.distill) * hard + config.distill * distilled


@torch.no_grad()
def logits(net: nn.Module, crops: np.ndarray, params: PreprocessParams, device: str, batch: int = 256) -> np.ndarray:
    """Raw network outputs for uint8 crops, through the shared normalisation."""
    net.eval()
    out = [net(to_input(crops[i : i + batch], params).to(device)).cpu().numpy() for i in range(0, len(crops), batch)]
    return np.concatenate(out) if out else np.empty((0, len(params.classes)), np.float32)


def predict(net: nn.Module, crops: np.ndarray, params: PreprocessParams, device: str) -> np.ndarray:
    """Class probabilities for uint8 crops (softmax of ``logits``)."""
    return torch.softmax(torch.from_numpy(logits(net, crops, params, device)), dim=1).numpy()


def evaluate(net: nn.Module, split: Split, params: PreprocessParams, device: str) -> dict:
    probs = predict(net, split.crops, params, device)
    p = torch.from_numpy(probs).clamp_min(1e-12)
    loss = float(F.nll_loss(p.log(), torch.from_numpy(split.labels)))
    pred = probs.argmax(1)
    return {"loss": loss, "acc": float((pred == split.labels).mean()), "pred": pred.tolist()}


def make_optimizer(config: TrainConfig, net: nn.Module) -> torch.optim.Optimizer:
    trainable = [p for p in net.parameters() if p.requires_grad]
    if config.optimizer == "adamw":
        return torch.optim.AdamW(trainable, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(trainable, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)


def lr_at(config: TrainConfig, step: int, total_steps: int) -> float:
    """constant; cosine to zero; or onecycle (linear warm-up over the first 10%, then cosine)."""
    if config.schedule == "cosine":
        return config.lr * 0.5 * (1 + math.cos(math.pi * step / total_steps))
    if config.schedule == "onecycle":
        warm = max(1, total_steps // 10)
        if step < warm:
            return config.lr * (step + 1) / warm
        return config.lr * 0.5 * (1 + math.cos(math.pi * (step - warm) / (total_steps - warm)))
    return config.lr


def epoch_data(config: TrainConfig, train: Split, extra: Split | None, rng: np.random.Generator) -> Split:
    """The main set plus this epoch's fresh sample of ``extra`` faces (resized to the main set's size)."""
    if extra is None or not config.extra_per_epoch:
        return train
    if train.soft is not None:
        raise ValueError("distillation cannot mix in extra faces: they have no soft labels")
    pick = rng.choice(len(extra.labels), min(config.extra_per_epoch, len(extra.labels)), replace=False)
    sample = Split(extra.crops[pick], extra.labels[pick]).resized(train.crops.shape[1])
    return Split(np.concatenate([train.crops, sample.crops]), np.concatenate([train.labels, sample.labels]))


def _augmented(config: TrainConfig, crops: np.ndarray, gen: torch.Generator) -> np.ndarray:
    if config.augment in ("robust", "light"):
        strength = augment.ROBUST if config.augment == "robust" else augment.LIGHT
        return augment.robust(crops, config.input_size, gen, strength)
    if config.augment == "jitter":
        # One draw per image: on a batched tensor v2 would share one draw across the batch.
        jitter = train_augmentation(config.input_size)
        images = torch.from_numpy(crops).permute(0, 3, 1, 2)
        return torch.stack([jitter(image) for image in images]).permute(0, 2, 3, 1).contiguous().numpy()
    return crops


def mixup_batch(
    config: TrainConfig, x: torch.Tensor, rng: np.random.Generator, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Each face blended with another of the batch (``other``), ``lam`` of it kept; the loss then
    weighs both labels the same way: a smoother fit for a small set of films."""
    lam = float(rng.beta(config.mixup, config.mixup))
    other = torch.randperm(len(x), generator=gen).to(x.device)
    return lam * x + (1 - lam) * x[other], other, lam


def train_one_epoch(
    net: nn.Module,
    optimizer: torch.optim.Optimizer,
    config: TrainConfig,
    params: PreprocessParams,
    data: Split,
    epoch: int,
    rng: np.random.Generator,
    gen: torch.Generator,
    device: str,
    desc: str,
    average: WeightAverage | None = None,
) -> dict:
    net.train()
    if config.freeze_early:  # frozen BatchNorm layers keep their ImageNet statistics
        for module in early_layers(net, config.arch):
            module.eval()
    steps = math.ceil(len(data.labels) / config.batch_size)
    order = rng.permutation(len(data.labels))
    seen = correct = 0
    loss_sum = 0.0
    started = time.time()
    bar = tqdm(
        range(steps), desc=f"{desc} epoch {epoch + 1}/{config.epochs}", unit="batch", leave=False, mininterval=10
    )
    for step in bar:
        idx = order[step * config.batch_size : (step + 1) * config.batch_size]
        x = to_input(_augmented(config, data.crops[idx], gen), params).to(device, memory_format=torch.channels_last)
        y = torch.from_numpy(data.labels[idx]).to(device)
        soft = None if data.soft is None else torch.from_numpy(data.soft[idx]).to(device)
        for group in optimizer.param_groups:
            group["lr"] = lr_at(config, epoch * steps + step, config.epochs * steps)
        if config.mixup:
            x, other, lam = mixup_batch(config, x, rng, gen)
        output = net(x)
        loss = _loss(config, output, y, soft)
        if config.mixup:
            loss = lam * loss + (1 - lam) * _loss(config, output, y[other], None if soft is None else soft[other])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if average is not None:
            average.update(net)
        seen += len(idx)
        correct += int((output.argmax(1) == y).sum())
        loss_sum += float(loss.detach()) * len(idx)
        bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}")
    elapsed = time.time() - started
    return {
        "epoch": epoch + 1,
        "train_loss": loss_sum / seen,
        "train_acc": correct / seen,
        "seconds": round(elapsed, 1),
        "images_per_s": round(seen / elapsed, 1),
    }


def save_checkpoint(
    path: Path,
    net: nn.Module,
    optimizer: torch.optim.Optimizer,
    history: list[dict],
    average: WeightAverage | None = None,
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    state = {"model": net.state_dict(), "optimizer": optimizer.state_dict(), "history": history}
    if average is not None:
        state["average"] = average.state_dict()
    torch.save(state, tmp)
    tmp.replace(path)  # a session killed mid-write leaves the previous epoch's checkpoint intact


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
    """Train from ``config``; if ``checkpoint`` exists, resume after its last finished epoch.

    With ``extra`` (e.g. FER-2013 faces), each epoch also trains on a fresh random sample of
    ``config.extra_per_epoch`` of them, so that the model keeps what an earlier stage learnt
    while it adapts to the main set.
    """
    torch.manual_seed(seed)
    net = build_model(config.arch, config.init, len(params.classes), config.input_size).to(device)
    net = net.to(memory_format=torch.channels_last)
    if config.wise != 1 and (config.init in ("none", "", "imagenet") or not 0 <= config.wise <= 1):
        raise ValueError("wise (0..1) averages the trained network with its init: a checkpoint of ours")
    # With wise < 1 the network evaluated, returned and saved is the average with the init's weights; the
    # checkpoint keeps the trained one, so a resumed run goes on training what it trained.
    init_state = {k: v.detach().clone() for k, v in net.state_dict().items()} if config.wise != 1 else None
    # With ema the moving average of the weights stands in for the trained network (and is what wise averages).
    average = WeightAverage(net, config.ema) if config.ema else None
    served = net if init_state is None and average is None else copy.deepcopy(net)

    def refresh_served() -> None:
        trained = net.state_dict() if average is None else average.state
        if init_state is not None:
            served.load_state_dict(interpolate_weights(init_state, trained, config.wise))
        elif average is not None:
            served.load_state_dict(trained)

    if config.freeze_early:
        for module in early_layers(net, config.arch):
            module.requires_grad_(False)
    optimizer = make_optimizer(config, net)
    result = FitResult(served)
    if checkpoint is not None and checkpoint.exists():
        state = torch.load(checkpoint, map_location=device, weights_only=False)
        net.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        result.history = state["history"]
        if average is not None:
            average.load_state_dict(state["average"])
    first = len(result.history)
    for epoch in range(first, config.epochs):
        # Seeded per epoch, so a resumed run draws what an uninterrupted one would have.
        rng = np.random.default_rng([seed, epoch])
        gen = torch.Generator().manual_seed(seed * 1000 + epoch)
        data = epoch_data(config, train, extra, rng)
        record = train_one_epoch(net, optimizer, config, params, data, epoch, rng, gen, device, desc, average)
        refresh_served()
        for name, split in evals.items():
            scores = evaluate(served, split, params, device)
            record[f"{name}_loss"], record[f"{name}_acc"] = scores["loss"], scores["acc"]
            result.predictions[name] = scores["pred"]
        result.history.append(record)
        print(
            f"{desc} epoch {epoch + 1}: "
            + ", ".join(f"{k} {v:.3f}" for k, v in record.items() if k != "epoch" and isinstance(v, float)),
            flush=True,
        )
        if checkpoint is not None:
            save_checkpoint(checkpoint, net, optimizer, result.history, average)
    if first >= config.epochs:  # resumed a finished run: predictions were not recomputed
        refresh_served()
        for name, split in evals.items():
            result.predictions[name] = evaluate(served, split, params, device)["pred"]
    return result
