"""The service's modules without a server: config, model loading, the crop path, no torch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from conftest import FIXTURES, REPO
from onnx import TensorProto, helper

from face_pipeline import FAST_DETECTOR, PAPER_DETECTOR, PreprocessParams, decode_image, face_tensors
from face_pipeline.metadata import SHIPPED_MODEL, metadata_props
from face_pipeline.params import with_detector
from face_pipeline.preprocess import normalize
from service.config import DEFAULT_MODEL_PATH, ROOT, ConfigError, Settings, available_cpus, cgroup_cpu_limit
from service.model import CPU, CUDA, EmotionModel, ModelLoadError, cuda_available, load_model, padded_batch_size
from service.pipeline import Options, face_crops


def test_serving_never_imports_torch() -> None:
    code = "import sys, service.service; assert 'torch' not in sys.modules, 'torch was imported'; print('ok')"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]


def test_default_model_path_does_not_depend_on_the_working_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("EMOTION_MODEL_PATH", raising=False)
    monkeypatch.chdir(tmp_path)
    assert Settings.from_env().model_path == DEFAULT_MODEL_PATH == ROOT / SHIPPED_MODEL
    assert ROOT == REPO
    monkeypatch.setenv("EMOTION_MODEL_PATH", "elsewhere/m.onnx")
    assert Settings.from_env().model_path == tmp_path / "elsewhere" / "m.onnx"


def test_settings_defaults_and_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("EMOTION_DETECTOR", "EMOTION_MAX_BATCH_SIZE", "EMOTION_MAX_UPLOAD_BYTES", "EMOTION_DEVICE"):
        monkeypatch.delenv(name, raising=False)
    defaults = Settings.from_env()
    assert defaults.detector == "model" and defaults.device == "auto"
    assert defaults.max_batch_size == 64 and defaults.max_upload_bytes == 20 * 1024 * 1024
    assert defaults.max_pixels == 40_000_000
    monkeypatch.setenv("EMOTION_DETECTOR", "viola-jones")
    monkeypatch.setenv("EMOTION_MAX_BATCH_SIZE", "1")
    overridden = Settings.from_env()
    assert overridden.detector == "viola-jones" and overridden.max_batch_size == 1


def test_classifier_process_only_where_it_pays(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EMOTION_CLASSIFY_IN_API", raising=False)
    monkeypatch.setenv("EMOTION_DEVICE", "cpu")
    assert Settings.from_env().classify_in_api  # on CPU the API worker classifies: no hop
    monkeypatch.setenv("EMOTION_DEVICE", "cuda")
    assert not Settings.from_env().classify_in_api  # on a GPU the classifier process batches
    monkeypatch.setenv("EMOTION_CLASSIFY_IN_API", "1")
    assert Settings.from_env().classify_in_api
    monkeypatch.setenv("EMOTION_DEVICE", "cpu")
    monkeypatch.setenv("EMOTION_CLASSIFY_IN_API", "0")
    assert not Settings.from_env().classify_in_api


def test_each_model_call_gets_its_share_of_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("EMOTION_ORT_THREADS", "EMOTION_OPENCV_THREADS", "EMOTION_DETECT_THREADS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EMOTION_DEVICE", "cpu")
    monkeypatch.setenv("EMOTION_CLASSIFY_IN_API", "1")
    monkeypatch.setattr("service.config.available_cpus", lambda: 2)
    two = Settings.from_env()  # two calls at once on two cores: one thread each; OpenCV decides its own
    assert (two.detect_threads, two.ort_threads, two.opencv_threads) == (2, 1, 0)
    monkeypatch.setattr("service.config.available_cpus", lambda: 16)
    many = Settings.from_env()
    assert (many.detect_threads, many.ort_threads) == (4, 4)
    monkeypatch.setenv("EMOTION_CLASSIFY_IN_API", "0")  # the classifier process runs one batch at a time
    assert Settings.from_env().ort_threads == 0
    monkeypatch.setenv("EMOTION_CLASSIFY_IN_API", "1")
    monkeypatch.setenv("EMOTION_ORT_THREADS", "0")  # 0 still hands the choice to onnxruntime
    assert Settings.from_env().ort_threads == 0


def test_cores_come_from_the_containers_cpu_limit(tmp_path: Path) -> None:
    own = len(os.sched_getaffinity(0))
    assert available_cpus(tmp_path) == own  # no cgroup files: affinity alone
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cgroup_cpu_limit(tmp_path) is None and available_cpus(tmp_path) == own
    (tmp_path / "cpu.max").write_text("150000 100000\n")  # --cpus 1.5
    assert cgroup_cpu_limit(tmp_path) == 1.5 and available_cpus(tmp_path) == min(own, 2)
    (tmp_path / "cpu.max").write_text("50000 100000\n")  # half a core still gets one thread
    assert available_cpus(tmp_path) == 1
    (tmp_path / "cpu.max").unlink()
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("100000\n")  # cgroup v1
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert cgroup_cpu_limit(tmp_path) == 1.0 and available_cpus(tmp_path) == 1
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert cgroup_cpu_limit(tmp_path) is None


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("EMOTION_MAX_BATCH_SIZE", "lots", "not an integer"),
        ("EMOTION_MAX_BATCH_SIZE", "0", "below the minimum"),
        ("EMOTION_DEVICE", "tpu", "auto, cpu or cuda"),
        ("EMOTION_CLASSIFY_IN_API", "maybe", "use 1 or 0"),
    ],
)
def test_bad_settings_say_which_variable(monkeypatch: pytest.MonkeyPatch, name: str, value: str, words: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name) as raised:
        Settings.from_env()
    assert words in str(raised.value)


def test_request_detector_overrides_the_deployments() -> None:
    rgb = decode_image((FIXTURES / "two_faces.jpg").read_bytes())
    params = PreprocessParams(detector=FAST_DETECTOR)
    default_boxes, _ = face_crops(rgb, params, Options())
    assert default_boxes == face_crops(rgb, with_detector(params, "fast"), Options())[0]
    for name in ("viola-jones", "yunet"):
        boxes, crops = face_crops(rgb, params, Options(detector=name))
        expected_boxes, expected = face_tensors(rgb, with_detector(params, name))
        assert boxes == expected_boxes and np.array_equal(normalize(crops, params), expected)
    assert with_detector(params, "viola-jones").detector == PAPER_DETECTOR


def test_unknown_detector_preset_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMOTION_DETECTOR", "turbo")
    with pytest.raises(ConfigError, match="EMOTION_DETECTOR"):
        Settings.from_env()


@pytest.mark.parametrize("name", ["face.jpg", "two_faces.jpg", "no_face.jpg"])
@pytest.mark.parametrize("fallback", [False, True])
def test_crops_sent_to_the_classifier_are_the_shared_pipelines_tensors(name: str, fallback: bool) -> None:
    rgb = decode_image((FIXTURES / name).read_bytes())
    params = PreprocessParams()
    boxes, crops = face_crops(rgb, params, Options(max_faces=5, whole_image_fallback=fallback))
    expected_boxes, expected = face_tensors(rgb, params, max_faces=5, whole_image_fallback=fallback)
    assert boxes == expected_boxes
    assert crops.dtype == np.uint8 and crops.shape == (len(boxes), 120, 120, 3)
    np.testing.assert_array_equal(normalize(crops, params), expected)


# --- loading the model -----------------------------------------------------------------


def test_load_the_exported_model(model_path: Path) -> None:
    model = load_model(model_path, "cpu")
    assert (model.name, model.version) == ("test-model", "0.0.0-test")
    assert model.params == PreprocessParams()
    assert model.providers == [CPU]
    crops = np.random.default_rng(0).integers(0, 256, (3, 120, 120, 3), dtype=np.uint8)
    probabilities = model.predict_crops(crops)
    assert probabilities.shape == (3, 7) and np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    assert model.predict_crops(crops[:0]).shape == (0, 7)
    with pytest.raises(ValueError, match="uint8"):
        model.predict_crops(crops.astype(np.float32))


def onnx_file(path: Path, side: int, output_shape: list, props: dict[str, str] | None) -> Path:
    """A one-node model: input (batch,3,side,side) reshaped to output_shape, named like ours."""
    shape = helper.make_tensor("shape", TensorProto.INT64, [len(output_shape)], output_shape)
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["input", "shape"], ["probabilities"])],
        "fake",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, side, side])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, None)],
        initializer=[shape],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10)
    if props:
        helper.set_model_props(model, props)
    onnx.save_model(model, str(path))
    return path


def test_missing_model_file(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"no model file at .*EMOTION_MODEL_PATH"):
        load_model(tmp_path / "absent.onnx")


def test_garbage_model_file(tmp_path: Path) -> None:
    path = tmp_path / "garbage.onnx"
    path.write_bytes(b"this is not a protobuf" * 100)
    with pytest.raises(ModelLoadError, match="not a loadable ONNX model"):
        load_model(path)


def test_model_without_pipeline_metadata(tmp_path: Path) -> None:
    path = onnx_file(tmp_path / "bare.onnx", 120, [-1, 7], None)
    with pytest.raises(ModelLoadError, match=r"face_pipeline\.preprocess"):
        load_model(path)


def test_model_whose_input_size_disagrees_with_its_metadata(tmp_path: Path) -> None:
    props = metadata_props(PreprocessParams(), "fake", "1")
    path = onnx_file(tmp_path / "wrong_size.onnx", 64, [-1, 7], props)
    with pytest.raises(ModelLoadError, match=r"does not match \(batch, 3, 120, 120\)"):
        load_model(path)


def test_model_that_does_not_output_probabilities(tmp_path: Path) -> None:
    props = metadata_props(PreprocessParams(), "fake", "1")
    path = onnx_file(tmp_path / "not_probabilities.onnx", 120, [-1, 3 * 120 * 120], props)
    with pytest.raises(ModelLoadError, match="warm-up"):
        load_model(path)


def test_asking_for_cuda_without_it_is_a_clear_error(model_path: Path) -> None:
    if cuda_available():
        pytest.skip("this onnxruntime has CUDA")
    with pytest.raises(ModelLoadError, match="onnxruntime-gpu"):
        load_model(model_path, "cuda")


@pytest.mark.gpu
@pytest.mark.skipif(not cuda_available(), reason="onnxruntime has no CUDA provider (install onnxruntime-gpu)")
def test_cuda_provider_is_active_when_asked_for(model_path: Path) -> None:
    model = load_model(model_path, "cuda")
    assert model.providers[0] == CUDA
    crops = np.zeros((4, 120, 120, 3), np.uint8)
    np.testing.assert_allclose(
        model.predict_crops(crops), load_model(model_path, "cpu").predict_crops(crops), atol=1e-4
    )


class RecordingSession:
    """Stands in for an onnxruntime session on a given provider and records the batch shapes run."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.shapes: list[tuple[int, ...]] = []

    def get_providers(self) -> list[str]:
        return [self.provider, CPU]

    def run(self, outputs: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = feeds["input"]
        self.shapes.append(x.shape)
        # Each row's "probabilities" depend on that row, so padding rows leaking in would show.
        return [np.repeat(x.reshape(len(x), -1)[:, :1], 7, axis=1).astype(np.float32)]


@pytest.mark.parametrize(("provider", "ran"), [(CUDA, 8), (CPU, 5)])
def test_cuda_batches_are_padded_to_a_power_of_two_and_trimmed(provider: str, ran: int) -> None:
    """On CUDA only a few batch shapes reach the GPU (each warmed up); CPU runs the exact batch."""
    session = RecordingSession(provider)
    model = EmotionModel(session=session, params=PreprocessParams(), name="m", version="1", path=Path("m"))
    faces = np.arange(5, dtype=np.float32)[:, None, None, None] * np.ones((5, 3, 120, 120), np.float32)
    out = model.predict(faces)
    assert session.shapes == [(ran, 3, 120, 120)]
    np.testing.assert_array_equal(out[:, 0], np.arange(5))
    assert [padded_batch_size(n) for n in (1, 2, 3, 8, 9, 64, 65)] == [1, 2, 4, 8, 16, 64, 128]


def test_classifier_call_is_retried_once_when_its_connection_drops() -> None:
    """A pooled connection the classifier closed (bentoml/BentoML#4971) must not become a 500."""
    import asyncio
    from types import SimpleNamespace

    import aiohttp

    from service.service import EmotionService

    calls = []

    async def classify(batch: np.ndarray) -> np.ndarray:
        calls.append(len(batch))
        if len(calls) == 1:
            raise aiohttp.ServerDisconnectedError()
        return np.full((len(batch), 7), 1 / 7, np.float32)

    api = EmotionService.inner.__new__(EmotionService.inner)
    api.classifier = SimpleNamespace(to_async=SimpleNamespace(classify=classify))
    api.model = None  # the classifier process does the work (EMOTION_CLASSIFY_IN_API=0)
    faces = np.zeros((2, 120, 120, 3), np.uint8)
    probabilities = asyncio.run(api._classify([faces]))
    assert probabilities.shape == (2, 7) and calls == [2, 2]


def test_a_hung_classifier_call_is_retried_and_a_second_failure_is_a_503(monkeypatch: pytest.MonkeyPatch) -> None:
    """A call that never answers must not hold the request to its 30 s timeout (a 504)."""
    import asyncio
    from types import SimpleNamespace

    from bentoml.exceptions import ServiceUnavailable

    from service import service

    monkeypatch.setattr(service, "CLASSIFY_ATTEMPT_S", 0.05)
    calls = []

    def make_classify(hangs: int):
        async def classify(batch: np.ndarray) -> np.ndarray:
            calls.append(len(batch))
            if len(calls) <= hangs:
                await asyncio.sleep(60)
            return np.full((len(batch), 7), 1 / 7, np.float32)

        return classify

    api = service.EmotionService.inner.__new__(service.EmotionService.inner)
    api.model = None
    faces = np.zeros((3, 120, 120, 3), np.uint8)

    api.classifier = SimpleNamespace(to_async=SimpleNamespace(classify=make_classify(hangs=1)))
    assert asyncio.run(asyncio.wait_for(api._classify([faces]), 5)).shape == (3, 7)
    assert calls == [3, 3]

    calls.clear()
    api.classifier = SimpleNamespace(to_async=SimpleNamespace(classify=make_classify(hangs=2)))
    with pytest.raises(ServiceUnavailable, match="did not answer"):
        asyncio.run(asyncio.wait_for(api._classify([faces]), 5))
    assert calls == [3, 3]


def test_client_errors_are_logged_as_one_line_and_server_errors_keep_their_traceback() -> None:
    import logging

    from pydantic import BaseModel

    from service.logs import ClientErrorFilter

    class Form(BaseModel):
        max_faces: int

    def record(exc: BaseException) -> logging.LogRecord:
        try:
            raise exc
        except BaseException:
            info = sys.exc_info()
        return logging.LogRecord("x", logging.ERROR, "f", 1, "Exception on %s [%s]", ("/predict", "POST"), info)

    try:
        Form(max_faces="many")
    except Exception as exc:  # pydantic's ValidationError
        client = record(exc)
    assert ClientErrorFilter().filter(client)
    assert client.levelno == logging.WARNING and client.exc_info is None
    assert client.getMessage().startswith("client error on /predict [POST]: max_faces: ")
    server = record(RuntimeError("boom"))
    assert ClientErrorFilter().filter(server)
    assert server.levelno == logging.ERROR and server.exc_info is not None
