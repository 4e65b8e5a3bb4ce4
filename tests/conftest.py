"""Shared fixtures for the service tests: a test model, real face photos, and a real server.

The server is `bentoml serve service.service:EmotionService` run from the repo root, as a user
runs it. At most one runs at a time: ``servers.start(env)`` reuses the running one when its
environment matches and otherwise stops it first, so the whole session normally starts one
(the start-up tests, which need other settings, run last by file name).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"
BENTOML = Path(sys.executable).parent / "bentoml"
START_TIMEOUT_S = 180  # generous: the CI box may be busy training


@pytest.fixture(scope="session")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained base CNN exported exactly as training exports models (metadata included)."""
    import torch

    from face_pipeline import PreprocessParams
    from training.export import export_onnx
    from training.models import build_model

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "test_model.onnx"
    export_onnx(build_model("basecnn").eval(), PreprocessParams(), path, "test-model", "0.0.0-test")
    return path


@pytest.fixture(scope="session")
def face_jpg() -> bytes:
    """The astronaut (NASA, public domain), 256x256 JPEG: one face."""
    return (FIXTURES / "face.jpg").read_bytes()


@pytest.fixture(scope="session")
def two_faces_jpg() -> bytes:
    """The astronaut at 192 px (left) and 256 px (right): two faces, the right one larger."""
    return (FIXTURES / "two_faces.jpg").read_bytes()


@pytest.fixture(scope="session")
def no_face_jpg() -> bytes:
    """A cup of coffee (skimage, CC0): no face."""
    return (FIXTURES / "no_face.jpg").read_bytes()


@dataclass
class Server:
    url: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log_path: Path
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.url, timeout=60)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def status(self, path: str) -> int:
        try:
            return self.client.get(path, timeout=5).status_code
        except httpx.HTTPError:
            return 0

    def stop(self) -> None:
        self.client.close()
        if self.alive():
            # bentoml serve stops its workers on SIGTERM; the group kill is for a hung worker.
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Servers:
    """Owns the one server process of the test session."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.current: Server | None = None
        self.starts = 0

    def start(self, env: dict[str, str], wait_ready: bool = True) -> Server:
        if self.current is not None and self.current.env == env and self.current.alive():
            return self.current
        self.stop()
        self.starts += 1
        port = free_port()
        log_path = self.workdir / f"server-{self.starts}.log"
        full_env = {
            **os.environ,
            "BENTOML_HOME": str(self.workdir / "bentoml_home"),
            "BENTOML_DO_NOT_TRACK": "True",
            # Two small cores shared with training: keep the server's thread pools small.
            "EMOTION_ORT_THREADS": "1",
            "EMOTION_DETECT_THREADS": "2",
            **env,
        }
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [str(BENTOML), "serve", "service.service:EmotionService", "--port", str(port), "--host", "127.0.0.1"],
                cwd=REPO,
                env=full_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        server = Server(f"http://127.0.0.1:{port}", env, process, log_path)
        self.current = server
        self._wait(server, "/readyz" if wait_ready else "/livez")
        return server

    def _wait(self, server: Server, path: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if not server.alive():
                pytest.fail(f"bentoml serve exited with {server.process.returncode}:\n{server.log()[-4000:]}")
            if server.status(path) == 200:
                return
            time.sleep(0.5)
        pytest.fail(f"{path} not 200 after {START_TIMEOUT_S} s:\n{server.log()[-4000:]}")

    def stop(self) -> None:
        if self.current is not None:
            self.current.stop()
            self.current = None


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    manager = Servers(tmp_path_factory.mktemp("servers"))
    yield manager
    manager.stop()


@pytest.fixture
def server(servers: Servers, model_path: Path) -> Server:
    """The default server (the test model, default settings), started once and reused."""
    return servers.start({"EMOTION_MODEL_PATH": str(model_path)})
