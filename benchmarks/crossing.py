"""What it costs to hand face crops from EmotionService to EmotionClassifier (bentoml.depends).

Run against a server that is already up (it finds the classifier's Unix socket the way the
API worker does, from BENTOML_RUNNER_MAP in that worker's environment, or takes --url):

    EMOTION_ORT_THREADS=1 bentoml serve service.service:EmotionService &
    python -m benchmarks.crossing --model models/face_emotion.onnx --image tests/fixtures/face.jpg

Prints medians in milliseconds. Per batch size: in-process inference (normalise + run), pickle
(de)serialisation of the batch as the uint8 crops that are sent and as float32 tensors, and
the depends round trip (HTTP over the Unix socket, pickle, the adaptive batcher, inference);
round trip minus inference is the crossing cost. The float32 tensors of N faces are as many
bytes as the uint8 crops of 4N faces, so the 4N row also prices sending float32. With --image:
one whole /predict over HTTP against the same work done in-process.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from service.model import EmotionModel


def median_ms(func: Callable[[], object], reps: int) -> float:
    func()  # first call pays for lazy set-up
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def service_url(name: str) -> str:
    """A service's address, from a running API worker's BENTOML_RUNNER_MAP."""
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        for entry in environ:
            if entry.startswith(b"BENTOML_RUNNER_MAP="):
                runner_map = json.loads(entry.split(b"=", 1)[1])
                if name in runner_map:
                    return runner_map[name]
    raise SystemExit("no running EmotionService worker found; start `bentoml serve service.service:EmotionService`")


def main() -> None:
    from _bentoml_impl.client.http import SyncHTTPClient
    from _bentoml_impl.serde import PickleSerde

    from service.model import load_model
    from service.service import EmotionService

    EmotionService.inject_config()  # what `bentoml serve` does before building clients
    classifier = EmotionService.dependencies["classifier"].on

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--url", default=None, help="the classifier's address (default: found from the server)")
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--faces", type=int, nargs="+", default=[1, 4, 16, 64])
    parser.add_argument("--ort-threads", type=int, default=1, help="match the server's EMOTION_ORT_THREADS")
    parser.add_argument("--image", type=Path, default=None, help="also time /predict on this image")
    args = parser.parse_args()

    model = load_model(args.model, "cpu", args.ort_threads)
    size = model.params.input_size
    # The client bentoml.depends builds: pickle over HTTP on the classifier's socket.
    proxy = SyncHTTPClient(
        args.url or service_url("EmotionClassifier"), media_type="application/vnd.bentoml+pickle", service=classifier
    )
    serde = PickleSerde()
    rng = np.random.default_rng(0)
    print(f"model {model.name} {model.version}, {args.reps} reps, medians in ms")
    print("faces  u8_KB  f32_KB  inference  pickle_u8  pickle_f32  round_trip  crossing")
    info_rt = median_ms(proxy.info, args.reps)
    for n in args.faces:
        x = rng.standard_normal((n, 3, size, size), dtype=np.float32)
        u8 = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
        infer = median_ms(lambda u8=u8: model.predict_crops(u8), args.reps)
        pickle_f32 = median_ms(lambda x=x: serde.deserialize_value(serde.serialize_value({"faces": x})), args.reps)
        pickle_u8 = median_ms(lambda u8=u8: serde.deserialize_value(serde.serialize_value({"faces": u8})), args.reps)
        round_trip = median_ms(lambda u8=u8: proxy.classify(u8), args.reps)
        print(
            f"{n:5d}  {u8.nbytes / 1024:5.0f}  {x.nbytes / 1024:6.0f}  {infer:9.2f}  {pickle_u8:9.3f}"
            f"  {pickle_f32:10.3f}  {round_trip:10.2f}  {round_trip - infer:8.2f}"
        )
    print(f"info() round trip (no tensor, no batcher): {info_rt:.2f} ms")
    if args.image:
        end_to_end(args.image, model, args.reps)


def end_to_end(image: Path, model: EmotionModel, reps: int) -> None:
    import httpx

    from service.pipeline import Limits, Options, detect

    params = model.params
    limits = Limits(1 << 30, 1 << 40)
    local = median_ms(lambda: model.predict_crops(detect(image, params, Options(), limits).crops), reps)
    data = image.read_bytes()
    with httpx.Client(base_url=service_url("EmotionService"), timeout=30) as client:
        remote = median_ms(
            lambda: client.post("/predict", files={"image": (image.name, data)}).raise_for_status(), reps
        )
    print(f"{image.name}: in-process decode+detect+crop+classify {local:.2f} ms, POST /predict {remote:.2f} ms")


if __name__ == "__main__":
    main()
