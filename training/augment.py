"""Batched augmentation for face crops: one vectorised pass per batch, one random draw per image.

``robust`` is what the shipped recipe trains with: it makes faces from every source look like
faces from every other one, since users send tight 48-px greyscale crops, loose movie-frame
crops and full-resolution photos alike. Per image: mirror, rotation, zoom in or out (tight and
loose crops), shift, a trip through a lower resolution (small or blurred faces), brightness and
contrast, and an erased patch (occlusion). It ends at the network's input size as uint8, so the
shared ``face_pipeline.normalize`` still does the rest, exactly as in serving.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F


def _uniform(n: int, low: float, high: float, gen: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=gen)


@dataclass(frozen=True)
class Strength:
    rotation_deg: float
    zoom: tuple[float, float]
    shift: float
    low_res_p: float
    contrast: tuple[float, float]
    brightness: float
    occlusion_p: float


ROBUST = Strength(15, (0.8, 1.25), 0.08, 0.33, (0.6, 1.4), 40, 0.25)
# The same kinds of change, milder: for polishing a network trained with ROBUST, and for training
# from scratch in few epochs, where ROBUST under-fits.
LIGHT = Strength(8, (0.9, 1.12), 0.05, 0.1, (0.8, 1.2), 20, 0.0)


def robust(crops: np.ndarray, size: int, gen: torch.Generator, strength: Strength = ROBUST) -> np.ndarray:
    """uint8 (N,H,W,3) crops of any one size -> augmented uint8 (N,size,size,3)."""
    st = strength
    x = torch.from_numpy(crops).permute(0, 3, 1, 2).float()
    n = len(x)
    if x.shape[-1] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)

    # Geometry: zoom > 1 crops tighter, < 1 looser (edges repeat), as detectors frame faces differently.
    angle = _uniform(n, -st.rotation_deg, st.rotation_deg, gen) * math.pi / 180
    zoom = torch.exp(_uniform(n, math.log(st.zoom[0]), math.log(st.zoom[1]), gen))
    flip = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0)
    shift = _uniform(2 * n, -st.shift, st.shift, gen).view(n, 2)
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack(
        [torch.stack([cos * flip, -sin, shift[:, 0]], 1), torch.stack([sin * flip, cos, shift[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta, [n, 3, size, size], align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)

    # Resolution: some faces pass through 12..size*3/4 px, as a small or soft face would.
    for i in torch.nonzero(torch.rand(n, generator=gen) < st.low_res_p).flatten().tolist():
        low = int(torch.randint(12, max(13, size * 3 // 4), (1,), generator=gen))
        small = F.interpolate(x[i : i + 1], size=(low, low), mode="bilinear", antialias=True, align_corners=False)
        x[i : i + 1] = F.interpolate(small, size=(size, size), mode="bilinear", align_corners=False)

    # Light: contrast around each image's mean, then brightness.
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    contrast = _uniform(n, *st.contrast, gen).view(n, 1, 1, 1)
    brightness = _uniform(n, -st.brightness, st.brightness, gen).view(n, 1, 1, 1)
    x = (x - mean) * contrast + mean + brightness

    # Occlusion: some faces lose a patch of 4-20% of their area to flat grey.
    for i in torch.nonzero(torch.rand(n, generator=gen) < st.occlusion_p).flatten().tolist():
        area = float(_uniform(1, 0.04, 0.2, gen)) * size * size
        aspect = math.exp(float(_uniform(1, math.log(0.5), math.log(2.0), gen)))
        h = min(size, int(round(math.sqrt(area * aspect))))
        w = min(size, int(round(math.sqrt(area / aspect))))
        top = int(torch.randint(0, size - h + 1, (1,), generator=gen))
        left = int(torch.randint(0, size - w + 1, (1,), generator=gen))
        x[i, :, top : top + h, left : left + w] = float(_uniform(1, 0, 255, gen))

    return x.clamp_(0, 255).round_().to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()
