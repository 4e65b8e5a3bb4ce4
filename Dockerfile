# syntax=docker/dockerfile:1
# Serving image for the facial-emotion-recognition BentoML service.
#
#   CPU (default):  docker build -t face-emotion:cpu .
#                   docker run -p 3000:3000 face-emotion:cpu
#   GPU:            docker build --build-arg RUNTIME=gpu -t face-emotion:gpu .
#                   docker run --gpus all -p 3000:3000 face-emotion:gpu
#
# Serving dependencies only (no torch, no training code or data): the locked
# requirements in deploy/requirements/ (scripts/container/lock.sh regenerates them
# from pyproject.toml), the face_pipeline and service packages, and the model.
# Layers go from least to most often changed: Python deps, model, code.

# Any Debian-like image with CPython 3.11 and the venv module. Pin it by digest for
# reproducible builds (python:3.11-slim-bookworm@sha256:...).
ARG BASE_IMAGE=python:3.11-slim-bookworm
# cpu: onnxruntime.  gpu: onnxruntime-gpu with the CUDA 13 / cuDNN 9 runtime wheels.
ARG RUNTIME=cpu

# ---------------------------------------------------------------------------------
FROM ${BASE_IMAGE} AS base

ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    LANG=C.UTF-8

# The unprivileged user that runs the server (numeric, so Kubernetes'
# runAsNonRoot can verify it), and an empty virtual environment.
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/app \
        --shell /usr/sbin/nologin app \
    && python3 -m venv /opt/venv

# ---------------------------------------------------------------------------------
FROM base AS deps-cpu
COPY deploy/requirements/serve-cpu.txt /tmp/requirements.txt
# --no-deps: the lock is complete, so nothing unpinned can slip in; pip check
# proves it is consistent. Wheels only: the slim base has no compiler.
RUN pip install --no-deps --only-binary=:all: -r /tmp/requirements.txt \
    && pip check \
    && rm /tmp/requirements.txt

# ---------------------------------------------------------------------------------
FROM base AS deps-gpu
COPY deploy/requirements/serve-gpu.txt /tmp/requirements.txt
RUN pip install --no-deps --only-binary=:all: -r /tmp/requirements.txt \
    && pip check \
    && rm /tmp/requirements.txt
# onnxruntime's CUDA provider finds libcudart/cuBLAS/cuFFT/cuRAND/NVRTC (nvidia/cu13)
# and cuDNN (nvidia/cudnn) from the wheels; the host's NVIDIA container toolkit
# mounts the driver (libcuda) when the container runs with --gpus.
ENV LD_LIBRARY_PATH=/opt/venv/lib/python3.11/site-packages/nvidia/cu13/lib:/opt/venv/lib/python3.11/site-packages/nvidia/cudnn/lib \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility

# ---------------------------------------------------------------------------------
FROM deps-${RUNTIME} AS runtime

WORKDIR /app
# Root-owned and read-only for the server user.
COPY models/face_emotion.onnx models/face_emotion.onnx
COPY bentofile.yaml ./
COPY face_pipeline/ face_pipeline/
COPY service/ service/

ENV EMOTION_MODEL_PATH=/app/models/face_emotion.onnx \
    BENTOML_HOME=/home/app/bentoml \
    BENTOML_HOST=0.0.0.0 \
    BENTOML_PORT=3000 \
    BENTOML_DO_NOT_TRACK=true \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

USER 10001:10001
EXPOSE 3000

# Ready = the model is loaded and the server accepts requests (BentoML's /readyz).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ.get('BENTOML_PORT', '3000'), timeout=4)"]

# "." serves the service named in bentofile.yaml (its `service:` field), so the
# image and the Bento name the service in one place.
CMD ["bentoml", "serve", "."]
