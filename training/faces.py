"""The in-memory form every data set takes before training: uint8 face crops and their labels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from face_pipeline.preprocess import resize_face


@dataclass
class Split:
    crops: np.ndarray  # (N, S, S, 3) uint8
    labels: np.ndarray  # (N,) int64
    soft: np.ndarray | None = None  # (N, classes) teacher probabilities, for distillation (training/distill.py)

    def resized(self, size: int) -> Split:
        """The crops at ``size`` px, through the serving path's resize (``resize_face``)."""
        if self.crops.shape[1] == size:
            return self
        return Split(np.stack([resize_face(c, size) for c in self.crops]), self.labels, self.soft)
