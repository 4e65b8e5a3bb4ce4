# syntax=docker/dockerfile:1
# Serving image for the facial-emotion-recognition BentoML service.
#
#   CPU (default):  docker build -t face-emotion:cpu .
#                   docker run -p 3000:3000 face-emotion:cpu
#   GPU:            docker build --target gpu -t face-emotion:gpu .
#                   docker run --gpus all -p 3000:3000 face-emotion:gpu
#
# Serving dependencies only (no torch, no training code or data): the locked
# requirements in deploy/requirements/ (scripts/container/lock.sh regenerates them
# from pyproject.toml), the face_pipeline and service packages, and the model.
# Layers go from least to most often changed: Python deps, model, code.

# Any Debian-like image with CPython 3.11 and the venv module. Pin it by digest for
# reproducible builds (python:3.11-slim-bookworm@sha256:...).
ARG BASE_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------------------------
# What both variants share; the settings below are inherited by the final stages.
FROM ${BASE_IMAGE} AS base

ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    LANG=C.UTF-8

# The unprivileged user that runs the server (numeric, so Kubernetes'
# runAsNonRoot can verify it), and an empty virtual environment.
RUN useradd --uid 10001 --user-group --no-log-init --create-home --home-dir /home/app \
        --shell /usr/sbin/nologin app \
    && python3 -m venv /opt/venv

WORKDIR /app
ENV EMOTION_MODEL_PATH=/app/models/face_emotion.onnx \
    BENTOML_HOME=/tmp/bentoml \
    BENTOML_HOST=0.0.0.0 \
    BENTOML_PORT=3000 \
    BENTOML_DO_NOT_TRACK=true \
    ORT_DISABLE_TELEMETRY=1 \
    PYTHONUNBUFFERED=1
EXPOSE 3000

# Healthy = the model is loaded and the server takes requests (BentoML's /readyz).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ.get('BENTOML_PORT', '3000'), timeout=4)"]

# "." serves the service that bentofile.yaml names (its `service:` field), so the
# image and the Bento name the service in one place.
CMD ["bentoml", "serve", "."]

# ---------------------------------------------------------------------------------
FROM base AS deps-cpu
COPY deploy/requirements/serve-cpu.txt /tmp/requirements.txt
# --no-deps: the lock is complete, so nothing unpinned can slip in, and pip check
# proves it consistent. Wheels only: the slim base has no compiler.
RUN pip install --no-deps --only-binary=:all: -r /tmp/requirements.txt \
    && pip check \
    && rm /tmp/requirements.txt

# ---------------------------------------------------------------------------------
FROM base AS deps-gpu
COPY deploy/requirements/serve-gpu.txt /tmp/requirements.txt
# (The CUDA wheels' static libraries are for building, not running: dropped.)
RUN pip install --no-deps --only-binary=:all: -r /tmp/requirements.txt \
    && pip check \
    && find /opt/venv/lib/python3.11/site-packages/nvidia -name '*.a' -delete \
    && rm /tmp/requirements.txt
# onnxruntime's CUDA provider finds libcudart, cuBLAS, cuFFT, cuRAND and NVRTC
# (nvidia/cu13) and cuDNN (nvidia/cudnn) in the wheels; the NVIDIA container toolkit
# mounts the host's driver (libcuda) when the container runs with --gpus.
# EMOTION_DEVICE=cuda: never fall back to the CPU silently (the service stays
# unready and says why); set EMOTION_DEVICE=auto to allow the fallback.
ENV LD_LIBRARY_PATH=/opt/venv/lib/python3.11/site-packages/nvidia/cu13/lib:/opt/venv/lib/python3.11/site-packages/nvidia/cudnn/lib \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    EMOTION_DEVICE=cuda

# ---------------------------------------------------------------------------------
# The application files, root-owned and so read-only for the server user: the
# model (changes rarely) before the code (changes often).
FROM scratch AS app
COPY models/face_emotion.onnx /app/models/face_emotion.onnx
COPY bentofile.yaml /app/code/
COPY face_pipeline/ /app/code/face_pipeline/
COPY service/ /app/code/service/

# ---------------------------------------------------------------------------------
FROM deps-gpu AS gpu
COPY --from=app /app/models/ /app/models/
COPY --from=app /app/code/ /app/
USER 10001:10001

# ---------------------------------------------------------------------------------
# The default target (last stage): CPU.
FROM deps-cpu AS cpu
COPY --from=app /app/models/ /app/models/
COPY --from=app /app/code/ /app/
USER 10001:10001
