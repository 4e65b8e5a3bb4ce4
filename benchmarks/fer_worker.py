"""Runs inside the `fer` library's own virtual environment (.cache/fer-venv), driven by
``benchmarks.fer_library`` over stdin/stdout; imports nothing from this project.

    .cache/fer-venv/bin/python benchmarks/fer_worker.py FRAME.jpg [FRAME.jpg ...]
    .cache/fer-venv/bin/python benchmarks/fer_worker.py --labels

Timing (``benchmarks.fer_library``): it reads every frame's bytes once, warms up on the first,
then answers each stdin line ``START END`` with one JSON line: the seconds
``FER.detect_emotions`` took over frames START..END-1, decoding included, and the faces it found.

Labels (``benchmarks.fer_accuracy``): each stdin line is ``{"path": ..., "box": [x, y, w, h] or
null}``; the answer is one JSON line ``{"faces": [{"box": ..., "emotions": {...}}, ...]}``, fer's
own faces when ``box`` is null, else its classifier on that box.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(paths: list[str]) -> None:
    import cv2
    import numpy as np
    from fer.fer import FER

    logging.getLogger("fer").setLevel(logging.ERROR)
    blobs = [open(p, "rb").read() for p in paths]
    detector = FER()  # the library's defaults: Haar cascade, quantised mini-Xception (TF Lite)

    def run(blob: bytes) -> int:
        bgr = cv2.imdecode(np.frombuffer(blob, np.uint8), cv2.IMREAD_COLOR)
        return len(detector.detect_emotions(bgr))

    run(blobs[0])
    import fer
    import tensorflow as tf

    print(json.dumps({"ready": True, "fer": fer.__version__, "tensorflow": tf.__version__}), flush=True)
    for line in sys.stdin:
        start, end = (int(v) for v in line.split())
        t = time.perf_counter()
        faces = sum(run(b) for b in blobs[start:end])
        print(json.dumps({"seconds": time.perf_counter() - t, "faces": faces}), flush=True)


def labels() -> None:
    import cv2
    from fer.fer import FER

    logging.getLogger("fer").setLevel(logging.ERROR)
    detector = FER()
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        bgr = cv2.imread(request["path"], cv2.IMREAD_COLOR)
        if bgr is None:  # one unreadable image must not end the run
            print(json.dumps({"faces": [], "error": f"cannot read {request['path']}"}), flush=True)
            continue
        boxes = None if request["box"] is None else [tuple(request["box"])]
        faces = detector.detect_emotions(bgr, face_rectangles=boxes)
        print(json.dumps({"faces": [{"box": [int(v) for v in f["box"]], "emotions": f["emotions"]} for f in faces]}))
        sys.stdout.flush()


if __name__ == "__main__":
    if sys.argv[1:] == ["--labels"]:
        labels()
    else:
        main(sys.argv[1:])
