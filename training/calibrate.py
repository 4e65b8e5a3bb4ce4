"""Temperature scaling (Guo et al., ICML 2017): one scalar T so that softmax(logits / T) is calibrated.

T is fitted on validation logits by minimising the negative log-likelihood; it never changes which
class wins, only how confident the answer says it is. ``expected_calibration_error`` measures the
gap between confidence and accuracy (15 equal-width confidence bins).
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
from torch.nn import functional as F


def fit_temperature(logits: np.ndarray, labels: np.ndarray, steps: int = 200) -> float:
    """The T > 0 minimising NLL of softmax(logits / T) on (logits, labels)."""
    z = torch.as_tensor(logits, dtype=torch.float64)
    y = torch.as_tensor(labels, dtype=torch.int64)
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)  # T = exp(log_t) stays positive
    optimiser = torch.optim.LBFGS([log_t], lr=0.5, max_iter=steps, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = F.cross_entropy(z / log_t.exp(), y)
        loss.backward()
        return loss

    optimiser.step(closure)
    return float(log_t.detach().exp())


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """Sum over confidence bins of |accuracy - mean confidence|, weighted by the bin's share."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for low, high in itertools.pairwise(edges):
        in_bin = (confidence > low) & (confidence <= high)
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(ece)
