#!/usr/bin/env bash
# GPU serving check: install the GPU serving stack, prove ONNX Runtime's CUDA provider is
# active, sweep inference batch sizes on CUDA (and CPU, same run), run the service under
# locust for 60 s. Everything it writes goes to one folder: $OUT if set (the device tool sets
# it), else loadtests/results/gpu_check-<timestamp>/ (git-ignored).
#
# Two modes:
#
#   scripts/gpu_check.sh prepare   # HERE, with internet: fetch the Python 3.12 wheels
#   scripts/gpu_check.sh           # THERE, on the GPU machine (no internet): the check
#
# The GPU machine has Python 3.12 with torch (CUDA 13 libraries as nvidia-* wheels), numpy,
# OpenCV, Pillow and the CPU onnxruntime, but no onnxruntime-gpu, BentoML or locust, and no
# network. `prepare` puts what it lacks under .wheels/gpu-py312/ (git-ignored):
#
#   deps/    the serving and load-test wheels (deploy/requirements/serve-gpu.txt without the
#            packages the machine has, plus locust 2.47.0 and its needs), about 23 MB, and
#            ort.sha256, ort.parts: the checksum and part count of the onnxruntime-gpu payload;
#   ort-1/ .. ort-5/   onnxruntime_gpu-1.31.1-cp312 (255 MB as a wheel, built for CUDA 13 +
#            cuDNN 9), its files re-compressed as one tar.xz (193 MiB: the wheel's deflate
#            leaves the 284 MB CUDA provider library nearly as large), cut into parts: a call to
#            the device machine carries at most 64 MiB including the working tree (~11 MiB),
#            so ort-1 (26 MiB) travels with deps and ort-2.. (44 MiB) one call each. This
#            script joins them, checks the sha256, rebuilds the wheel, checks every file
#            against the wheel's own RECORD hashes, and pip-installs it;
#   cv-1/ cv-2/   opencv-python-headless 4.14.0.94 (59 MiB) in two parts: the machine's OpenCV
#            is 5.x, which has no CascadeClassifier.
#
# Carrying them with the device tool (each call must follow the last within the machine's
# 30 s warm window, or the parts already there are lost with the machine):
#
#   run(command="ls .wheels/gpu-py312", carry=[".wheels/gpu-py312/deps", ".wheels/gpu-py312/ort-1"])
#   run(command="ls .wheels/gpu-py312", carry=[".wheels/gpu-py312/ort-2"])
#   run(command="ls .wheels/gpu-py312", carry=[".wheels/gpu-py312/ort-3"])
#   run(command="ls .wheels/gpu-py312", carry=[".wheels/gpu-py312/ort-4"])
#   run(command="ls .wheels/gpu-py312", carry=[".wheels/gpu-py312/ort-5", ".wheels/gpu-py312/cv-1"])
#   run(command="bash scripts/gpu_check.sh", timeout_s=480, carry=[".wheels/gpu-py312/cv-2"])
#
# On an H100 (16 cores) the check took 137 s: install and CUDA proof ~20 s, stage benchmark
# ~35 s, service start, 60 s of locust and the summary ~80 s. Carrying the parts took ~1 min.
#
# Settings (environment): EMOTION_MODEL_PATH (default models/face_emotion.onnx; without one a
# dev MobileNetV2 with random weights is exported there with the machine's torch, fine for
# timings), GPU_USERS (32), GPU_DURATION (60s), GPU_DETECT_THREADS (cores - 2), GPU_SKIP_STAGES
# (1: skip the stage benchmark, e.g. to re-run only the load test on what device time is left).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WHEELS=$ROOT/.wheels/gpu-py312
ORT_WHEEL=onnxruntime_gpu-1.31.1-cp312-cp312-manylinux_2_28_x86_64.whl
OPENCV_VERSION=4.14.0.94
OPENCV_WHEEL=opencv_python_headless-$OPENCV_VERSION-cp37-abi3-manylinux_2_28_x86_64.whl
PLATFORMS=(--only-binary=:all: --python-version 3.12 --implementation cp
  --platform manylinux_2_34_x86_64 --platform manylinux_2_31_x86_64 --platform manylinux_2_28_x86_64
  --platform manylinux_2_27_x86_64 --platform manylinux_2_26_x86_64 --platform manylinux_2_24_x86_64
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64)

prepare() {
  local pip=${PIP:-$ROOT/.venv/bin/pip}
  local tmp
  tmp=$(mktemp -d)
  rm -rf "$WHEELS"
  mkdir -p "$WHEELS/deps"
  # What the machine already has (numpy, OpenCV, Pillow, the CUDA 13 nvidia-* libraries) stays out.
  grep -v '^#' deploy/requirements/serve-gpu.txt | grep -v '^ ' |
    grep -v -E '^((numpy|opencv-python-headless|pillow|onnxruntime-gpu)==|nvidia-)' >"$tmp/serve.txt"
  "$pip" download -q --no-deps "${PLATFORMS[@]}" -d "$WHEELS/deps" -r "$tmp/serve.txt"
  "$pip" download -q "${PLATFORMS[@]}" -d "$tmp/locust" locust==2.47.0
  for wheel in "$tmp"/locust/*.whl; do
    name=$(basename "$wheel" | sed -E 's/-[0-9].*//' | tr 'A-Z_' 'a-z-')
    if ! find "$WHEELS/deps" -name '*.whl' -printf '%f\n' | sed -E 's/-[0-9].*//' | tr 'A-Z_' 'a-z-' | grep -qx "$name"; then
      case $name in pytest | pluggy | iniconfig) ;; *) cp "$wheel" "$WHEELS/deps/" ;; esac
    fi
  done
  "$pip" download -q --no-deps "${PLATFORMS[@]}" -d "$tmp/ort" onnxruntime-gpu==1.31.1
  mkdir -p "$tmp/ort/files"
  (cd "$tmp/ort/files" && python3 -m zipfile -e "../$ORT_WHEEL" .)
  tar -C "$tmp/ort/files" -cf - . | xz -9e -T0 >"$tmp/ort/ort.tar.xz"
  (cd "$tmp/ort" && sha256sum ort.tar.xz) >"$WHEELS/deps/ort.sha256"
  # The first part shares its call with deps/, the others have a call each (64 MiB with the tree).
  head -c 26M "$tmp/ort/ort.tar.xz" >"$tmp/ort/part-0"
  tail -c +$((26 * 1024 * 1024 + 1)) "$tmp/ort/ort.tar.xz" | split -b 44M -d -a 1 - "$tmp/ort/rest-"
  local i=1
  for part in "$tmp/ort/part-0" "$tmp"/ort/rest-*; do
    mkdir -p "$WHEELS/ort-$i"
    mv "$part" "$WHEELS/ort-$i/ort.tar.xz.part-$i"
    i=$((i + 1))
  done
  echo $((i - 1)) >"$WHEELS/deps/ort.parts"
  # The machine's OpenCV is 5.x, which has no CascadeClassifier: carry the pinned 4.x (59 MiB),
  # 15 MiB with ort-5 and the rest alone.
  "$pip" download -q --no-deps "${PLATFORMS[@]}" -d "$tmp/cv" "opencv-python-headless==$OPENCV_VERSION"
  (cd "$tmp/cv" && sha256sum "$OPENCV_WHEEL") >"$WHEELS/deps/cv.sha256"
  mkdir -p "$WHEELS/cv-1" "$WHEELS/cv-2"
  head -c 15M "$tmp/cv/$OPENCV_WHEEL" >"$WHEELS/cv-1/$OPENCV_WHEEL.part-1"
  tail -c +$((15 * 1024 * 1024 + 1)) "$tmp/cv/$OPENCV_WHEEL" >"$WHEELS/cv-2/$OPENCV_WHEEL.part-2"
  rm -rf "$tmp"
  du -sh "$WHEELS"/*
  echo "ready: carry .wheels/gpu-py312/deps, ort-1 .. ort-$((i - 1)), cv-1 and cv-2, in the order of this script's header"
}

check() {
  OUT=${OUT:-$ROOT/loadtests/results/gpu_check-$(date +%Y%m%d-%H%M%S)}
  mkdir -p "$OUT"
  exec > >(tee "$OUT/gpu_check.log") 2>&1
  export PYTHONUNBUFFERED=1
  local started=$SECONDS
  echo "== machine"
  nvidia-smi -L || { echo "no NVIDIA GPU visible"; exit 1; }
  python3 -V
  local cores
  cores=$(nproc)

  echo "== onnxruntime-gpu: join the parts, check, install (CPU onnxruntime removed first)"
  local stage=/tmp/gpu-wheels
  mkdir -p "$stage"
  local parts=("$WHEELS"/ort-*/ort.tar.xz.part-*)  # ort-1 .. ort-N, N < 10: glob order is part order
  if [ ! -f "${parts[0]}" ] || [ "${#parts[@]}" != "$(cat "$WHEELS/deps/ort.parts")" ]; then
    echo "onnxruntime-gpu parts missing: have ${#parts[@]} of $(cat "$WHEELS/deps/ort.parts" 2>/dev/null || echo '?')"
    exit 1
  fi
  cat "${parts[@]}" >"$stage/ort.tar.xz"
  (cd "$stage" && sha256sum -c "$WHEELS/deps/ort.sha256")
  rm -rf "$stage/files" && mkdir -p "$stage/files"
  tar -C "$stage/files" -xJf "$stage/ort.tar.xz"
  # Rebuild the wheel (stored, not deflated: it is installed once, right here) and check every
  # file against the hashes in its own RECORD, so what pip installs is byte-for-byte the release.
  python3 - "$stage/files" "$stage/$ORT_WHEEL" <<'PY'
import base64, csv, hashlib, pathlib, sys, zipfile
root, wheel = pathlib.Path(sys.argv[1]), sys.argv[2]
record = next(root.glob("*.dist-info/RECORD"))
checked = 0
with zipfile.ZipFile(wheel, "w", zipfile.ZIP_STORED) as out:
    for name, digest, _ in csv.reader(record.read_text().splitlines()):
        data = (root / name).read_bytes()
        if digest:
            algo, want = digest.split("=", 1)
            got = base64.urlsafe_b64encode(hashlib.new(algo, data).digest()).rstrip(b"=").decode()
            if got != want:
                sys.exit(f"{name}: hash differs from the wheel's RECORD")
            checked += 1
        out.writestr(name, data)
print(f"onnxruntime-gpu wheel rebuilt, {checked} files match RECORD")
PY
  cat "$WHEELS"/cv-1/"$OPENCV_WHEEL".part-1 "$WHEELS"/cv-2/"$OPENCV_WHEEL".part-2 >"$stage/$OPENCV_WHEEL"
  (cd "$stage" && sha256sum -c "$WHEELS/deps/cv.sha256")
  python3 -m pip uninstall -y -q onnxruntime onnxruntime-gpu 2>/dev/null || true
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site \
    "$WHEELS"/deps/*.whl "$stage/$ORT_WHEEL" "$stage/$OPENCV_WHEEL"
  export PYTHONPATH=/tmp/site:$ROOT
  export PATH=/tmp/site/bin:$PATH
  # ONNX Runtime's CUDA provider dlopens libcublas.so.13, libcudart.so.13, libcudnn.so.9, ...:
  # the machine has them as torch's nvidia-* wheels, outside the loader's search path.
  LD_LIBRARY_PATH=$(python3 - <<'PY'
import glob, os, site
dirs = set()
for base in site.getsitepackages():
    dirs.update(os.path.dirname(p) for p in glob.glob(os.path.join(base, "nvidia", "*", "lib", "lib*.so*")))
    dirs.update(os.path.dirname(p) for p in glob.glob(os.path.join(base, "nvidia", "cu13", "lib", "lib*.so*")))
print(":".join(sorted(dirs)))
PY
  )${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export LD_LIBRARY_PATH
  python3 -c "import onnxruntime as o, sys; print('onnxruntime', o.__version__, o.__file__, o.get_available_providers())"
  python3 -c "import cv2; print('opencv', cv2.__version__, cv2.__file__); cv2.CascadeClassifier"

  echo "== model"
  MODEL=${EMOTION_MODEL_PATH:-$ROOT/models/face_emotion.onnx}
  if [ ! -f "$MODEL" ]; then
    MODEL=/tmp/dev_mobilenet.onnx
    echo "no shipped model: exporting an untrained MobileNetV2 (timings only) to $MODEL"
    python3 -c "from pathlib import Path; from training.models import build_model; from training.export import export_onnx; from face_pipeline import PreprocessParams; export_onnx(build_model('mobilenet_v2', 'none').eval(), PreprocessParams(), Path('$MODEL'), 'dev-mobilenet', '0.0.0-dev')"
  fi
  export EMOTION_MODEL_PATH=$MODEL

  echo "== proof: the CUDA provider is active and agrees with the CPU one"
  python3 - "$MODEL" "$OUT/cuda_check.json" <<'PY'
import json, sys, time
import numpy as np
import onnxruntime as ort
model, out = sys.argv[1], sys.argv[2]
x = np.random.default_rng(0).standard_normal((64, 3, 120, 120)).astype(np.float32)
cuda = ort.InferenceSession(model, providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
cpu = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
active = cuda.get_providers()
y_cuda = cuda.run(None, {"input": x})[0]
y_cpu = cpu.run(None, {"input": x})[0]
t = time.perf_counter()
for _ in range(20):
    cuda.run(None, {"input": x})
ms = (time.perf_counter() - t) / 20 * 1000
report = {
    "available_providers": ort.get_available_providers(),
    "session_providers": active,
    "cuda_active": active[0] == "CUDAExecutionProvider",
    "device": ort.get_device(),
    "max_abs_diff_vs_cpu": float(np.abs(y_cuda - y_cpu).max()),
    "batch64_ms": ms,
    "onnxruntime": ort.__version__,
}
print(json.dumps(report, indent=1))
json.dump(report, open(out, "w"), indent=1)
if not report["cuda_active"] or report["max_abs_diff_vs_cpu"] > 1e-3:
    sys.exit("CUDA provider NOT active (or disagrees with CPU)")
PY

  echo "== stage benchmark: CUDA and CPU batch sweep, same run ($((SECONDS - started)) s so far)"
  [ "${GPU_SKIP_STAGES:-0}" = 1 ] || python3 -m benchmarks.stages --synthetic --frames 16 --providers cuda,cpu --min-seconds 0.5 \
    --model "$MODEL" --out "$OUT/stages"

  echo "== service under locust, 60 s on CUDA ($((SECONDS - started)) s so far)"
  local threads=${GPU_DETECT_THREADS:-$((cores > 3 ? cores - 2 : 1))}
  set +e
  python3 -m loadtests.run --name gpu --users "${GPU_USERS:-32}" --duration "${GPU_DURATION:-60s}" \
    --model "$MODEL" --env EMOTION_DEVICE=cuda --env "EMOTION_DETECT_THREADS=$threads" \
    --env EMOTION_MAX_CONCURRENCY=64 --env EMOTION_OPENCV_THREADS=1
  local gate=$?
  set -e
  cp loadtests/results/gpu/summary.json "$OUT/loadtest_summary.json" || true
  cp loadtests/results/gpu/summary.md "$OUT/loadtest_summary.md" || true
  tar czf "$OUT/all_results.tar.gz" loadtests/results/gpu "$OUT"/stages.* "$OUT/cuda_check.json" 2>/dev/null || true
  echo "== done in $((SECONDS - started)) s; load-test gate exit code $gate; results in $OUT"
  return "$gate"
}

case "${1:-check}" in
  prepare) prepare ;;
  check) check ;;
  *) echo "usage: $0 [prepare|check]" >&2; exit 2 ;;
esac
