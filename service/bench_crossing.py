"""What it costs to hand face tensors from EmotionService to EmotionClassifier (bentoml.depends).

Run against a server that is already up (it finds the classifier's Unix socket the way the
API worker does, from BENTOML_RUNNER_MAP in that worker's environment, or takes --url):

    python -m service.bench_crossing --model models/face_emotion.onnx [--reps 200]

Prints medians in milliseconds: in-process inference (normalise + run), pickle
(de)serialisation of the batch as float32 tensors and as the uint8 crops actually sent, and the
full depends round trip with uint8 crops (HTTP over the Unix socket, pickle, the adaptive
batcher, inference). Round trip minus in-process inference is the crossing cost.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


def median_ms(func: Callable[[], object], reps: int) -> float:
    func()  # first call pays for lazy set-up
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def classifier_url() -> str:
    """The classifier's address, from a running API worker's BENTOML_RUNNER_MAP."""
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        for entry in environ:
            if entry.startswith(b"BENTOML_RUNNER_MAP="):
                runner_map = json.loads(entry.split(b"=", 1)[1])
                if "EmotionClassifier" in runner_map:
                    return runner_map["EmotionClassifier"]
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
    args = parser.parse_args()

    model = load_model(args.model, "cpu")
    size = model.params.input_size
    # The client bentoml.depends builds: pickle over HTTP on the classifier's socket.
    proxy = SyncHTTPClient(
        args.url or classifier_url(), media_type="application/vnd.bentoml+pickle", service=classifier
    )
    serde = PickleSerde()
    rng = np.random.default_rng(0)
    print(f"model {model.name} {model.version}, {args.reps} reps, medians in ms")
    print("faces  f32_KB  u8_KB  inference  pickle_f32  pickle_u8  round_trip_u8  crossing(rt-inference)")
    info_rt = median_ms(proxy.info, args.reps)
    for n in args.faces:
        x = rng.standard_normal((n, 3, size, size), dtype=np.float32)
        u8 = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
        infer = median_ms(lambda u8=u8: model.predict_crops(u8), args.reps)
        pickle_f32 = median_ms(lambda x=x: serde.deserialize_value(serde.serialize_value({"faces": x})), args.reps)
        pickle_u8 = median_ms(lambda u8=u8: serde.deserialize_value(serde.serialize_value({"faces": u8})), args.reps)
        round_trip = median_ms(lambda u8=u8: proxy.classify(u8), args.reps)
        print(
            f"{n:5d}  {x.nbytes / 1024:6.0f}  {u8.nbytes / 1024:5.0f}  {infer:9.2f}  {pickle_f32:10.3f}"
            f"  {pickle_u8:9.3f}  {round_trip:13.2f}  {round_trip - infer:8.2f}"
        )
    print(f"info() round trip (no tensor, no batcher): {info_rt:.2f} ms")


if __name__ == "__main__":
    main()
