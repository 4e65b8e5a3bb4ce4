"""Temperature scaling: the fit recovers a known temperature, and the exported model carries it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from face_pipeline import PreprocessParams
from face_pipeline.metadata import temperature_from_metadata
from training.calibrate import expected_calibration_error, fit_temperature, softmax
from training.export import export_onnx
from training.models import build_model


def synthetic(temperature: float, n: int = 20000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Logits whose labels are drawn from softmax(logits / temperature): calibrated exactly at that T."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 3, (n, 7))
    probs = softmax(logits, temperature)
    labels = np.array([rng.choice(7, p=p) for p in probs])
    return logits, labels


def test_fit_recovers_a_known_temperature() -> None:
    for true_t in (0.5, 2.5):
        logits, labels = synthetic(true_t)
        assert abs(fit_temperature(logits, labels) - true_t) < 0.06 * true_t


def test_calibration_error_drops_after_the_fit() -> None:
    logits, labels = synthetic(2.5, seed=1)
    t = fit_temperature(logits[::2], labels[::2])
    before = expected_calibration_error(softmax(logits[1::2]), labels[1::2])
    after = expected_calibration_error(softmax(logits[1::2], t), labels[1::2])
    assert before > 0.1 and after < 0.02


def test_expected_calibration_error_of_known_cases() -> None:
    labels = np.array([0, 0, 1, 1])
    sure_and_right = np.eye(7)[labels]
    assert expected_calibration_error(sure_and_right, labels) == 0.0
    sure_and_wrong = np.eye(7)[1 - labels]
    assert expected_calibration_error(sure_and_wrong, labels) == 1.0


def test_temperature_round_trips_through_the_exported_model(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = build_model("basecnn").eval()
    path = tmp_path / "m.onnx"
    export_onnx(net, PreprocessParams(), path, "t", "1", temperature=1.7)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert temperature_from_metadata(session.get_modelmeta().custom_metadata_map) == 1.7
    x = torch.randn(4, 3, 120, 120)
    with torch.no_grad():
        expected = softmax(net(x).numpy(), 1.7)  # the base CNN's log-softmax output is a valid logit vector
    got = session.run(["probabilities"], {"input": x.numpy()})[0]
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert temperature_from_metadata({}) == 1.0  # models exported before calibration
