#!/usr/bin/env bash
# End-to-end check of the container deployment, on a machine with no Docker engine
# and no access to public registries (root, Debian bookworm, apt and PyPI reachable):
#
#   1. install podman/buildah/runc/debootstrap, configure podman for the sandbox
#   2. build (or reuse) a local Debian bookworm + Python 3.11 base with debootstrap
#   3. build ./Dockerfile on it, run it read-only and unprivileged, wait for /readyz,
#      POST a face to /predict, check the JSON, the user, the HEALTHCHECK and contents
#   4. the same through `bentoml build` + `bentoml containerize --backend podman`
#   5. print phase timings and image sizes
#
# Fails (non-zero, with the reason and the container's log) as soon as something
# does not work. Environment knobs:
#   CONTAINER_CHECK_STATE=/var/tmp/face-emotion-container  podman config, Bento store
#   CONTAINER_CHECK_DEV_MODEL=auto|0   auto: without models/face_emotion.onnx, export an
#                                      untrained dev model for the check and delete it after
#   CONTAINER_CHECK_GPU=1              also build the gpu target and check its CUDA libraries
#                                      resolve (no GPU needed; downloads ~3 GB of wheels)
#   CONTAINER_CHECK_BENTO=0            skip the bentoml build/containerize half
#   REBUILD_BASE=1                     redo debootstrap even if the base image exists
#   CONTAINER_CHECK_CLEAN=1            only remove what this script made, then exit
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

STATE="${CONTAINER_CHECK_STATE:-/var/tmp/face-emotion-container}"
export CONTAINER_CHECK_STATE="$STATE"
BASE_IMAGE=localhost/face-emotion-base:bookworm-py311
IMAGE=localhost/face-emotion:check
GPU_IMAGE=localhost/face-emotion:check-gpu
BENTO_IMAGE=localhost/face-emotion-bento:check
BENTO_NAME=face-emotion
MODEL=models/face_emotion.onnx
FIXTURE="${CONTAINER_CHECK_IMAGE:-tests/fixtures/face.jpg}"
VENV="${VENV:-$ROOT/.venv}"

RED=$'\e[31m'; GREEN=$'\e[32m'; BOLD=$'\e[1m'; RESET=$'\e[0m'
[[ -t 2 ]] || { RED=""; GREEN=""; BOLD=""; RESET=""; }
log()  { printf '%s[container-check]%s %s\n' "$BOLD" "$RESET" "$*" >&2; }
warn() { printf '%s[container-check] WARNING:%s %s\n' "$BOLD" "$RESET" "$*" >&2; }
die()  { printf '%s[container-check] FAILED:%s %s\n' "$RED$BOLD" "$RESET" "$*" >&2; exit 1; }

# --- bookkeeping: phase timings, cleanup --------------------------------------------
declare -a TIMINGS=()
PHASE=""; PHASE_T0=0
phase() {  # phase NAME: end the previous phase, start NAME
    phase_end
    PHASE="$1"; PHASE_T0=$SECONDS
    log "${BOLD}== $PHASE${RESET}"
}
phase_end() {
    [[ -n "$PHASE" ]] || return 0
    TIMINGS+=("$(printf '%-62s %5d s' "$PHASE" $((SECONDS - PHASE_T0)))")
    PHASE=""
}

CONTAINERS=()      # containers to remove on exit
CREATED_MODEL=0    # we exported a dev model and must delete it
ALIAS_TAGGED=""    # the base-image alias we tagged, to untag on exit
LOGDIR=""
cleanup() {
    local rc=$?
    local c
    for c in "${CONTAINERS[@]}"; do podman rm -f -t 2 "$c" >/dev/null 2>&1 || true; done
    # "podman untag IMAGE" alone would drop every name of the image: name the one.
    [[ -z "$ALIAS_TAGGED" ]] || podman untag "$ALIAS_TAGGED" "$ALIAS_TAGGED" >/dev/null 2>&1 || true
    ((CREATED_MODEL == 0)) || rm -f "$MODEL"
    if ((rc != 0)); then
        [[ -z "$PHASE" ]] || printf '%s[container-check] failed during: %s%s\n' "$RED$BOLD" "$PHASE" "$RESET" >&2
        [[ -z "$LOGDIR" ]] || printf '[container-check] logs kept in %s\n' "$LOGDIR" >&2
    elif [[ -n "$LOGDIR" ]]; then
        rm -rf "$LOGDIR"
    fi
    exit "$rc"
}
trap cleanup EXIT

[[ $EUID -eq 0 ]] || die "run as root (podman with runc and cgroupfs, apt-get)"

# --- 1. podman -----------------------------------------------------------------------
phase "setup: podman, buildah, runc, debootstrap"
# shellcheck source=scripts/container/podman_setup.sh
. scripts/container/podman_setup.sh
container_setup || die "podman does not work on this machine"
LOGDIR="$(mktemp -d "${TMPDIR:-/tmp}/container-check.XXXXXX")"

if [[ "${CONTAINER_CHECK_CLEAN:-0}" == 1 ]]; then
    podman rm -f -t 2 fe-check-docker fe-check-bento >/dev/null 2>&1 || true
    podman rmi -f "$IMAGE" "$GPU_IMAGE" "$BENTO_IMAGE" "$BASE_IMAGE" >/dev/null 2>&1 || true
    podman image prune -f >/dev/null
    rm -rf "$STATE/bentoml"
    log "removed the check images, the base image, the build cache and $STATE/bentoml"
    PHASE=""; exit 0
fi

# --- inputs ----------------------------------------------------------------------------
phase "inputs: model, fixture, locked requirements"
if [[ ! -f "$MODEL" ]]; then
    case "${CONTAINER_CHECK_DEV_MODEL:-auto}" in
        0|no|false) die "$MODEL is missing (the image ships it): export the shipped model first" ;;
    esac
    [[ -x "$VENV/bin/python" ]] || die "$MODEL is missing and there is no $VENV to export a dev model with"
    warn "$MODEL is missing: exporting an UNTRAINED dev model just for this check (deleted afterwards)"
    CREATED_MODEL=1
    "$VENV/bin/python" -c "
from pathlib import Path
from training.models import build_model
from training.export import export_onnx
from face_pipeline import PreprocessParams
export_onnx(build_model('basecnn').eval(), PreprocessParams(), Path('$MODEL'), 'untrained-basecnn', '0.0.0-dev')
" >"$LOGDIR/dev-model.log" 2>&1 || { tail -n 30 "$LOGDIR/dev-model.log" >&2; die "could not export the dev model"; }
fi
log "model: $MODEL ($(du -h "$MODEL" | cut -f1))"

EXPECT_FACE=1
if [[ ! -f "$FIXTURE" ]]; then
    warn "$FIXTURE is missing: posting a generated image (no face expected in it)"
    FIXTURE="$LOGDIR/generated.png"
    python3 - "$FIXTURE" <<'EOF'
import struct, sys, zlib
w = h = 96  # a grey gradient PNG, written with the standard library only
raw = b"".join(b"\0" + bytes((x + y) % 256 for x in range(w)) for y in range(h))
chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                              + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
EOF
    EXPECT_FACE=0
fi
log "request image: $FIXTURE"

bash scripts/container/lock.sh --check || die "deploy/requirements/ is out of date with pyproject.toml"

# --- 2. base image ---------------------------------------------------------------------
phase "base image (debootstrap bookworm + python 3.11)"
bash scripts/container/build_base.sh "$BASE_IMAGE" || die "could not build the local base image"

# --- helpers for the run checks ----------------------------------------------------------
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

show_logs() {  # show_logs CONTAINER
    printf '%s---- last 60 lines of the log of %s ----%s\n' "$RED" "$1" "$RESET" >&2
    podman logs --tail 60 "$1" >&2 2>&1 || true
    printf '%s----%s\n' "$RED" "$RESET" >&2
}

# smoke_test NAME IMAGE [podman run options...]: start it, wait until ready, exercise it.
smoke_test() {
    local name="$1" image="$2"; shift 2
    local port; port="$(free_port)"
    local url="http://127.0.0.1:$port"
    podman rm -f -t 2 "$name" >/dev/null 2>&1 || true
    CONTAINERS+=("$name")
    # --health-interval disable: podman's periodic checks need systemd timers, which
    # this machine lacks; the HEALTHCHECK itself is run by hand below.
    podman run -d --name "$name" --health-interval disable -p "127.0.0.1:$port:3000" "$@" "$image" \
        >"$LOGDIR/$name.run" 2>&1 || { cat "$LOGDIR/$name.run" >&2; die "$image: podman run failed"; }

    local t0=$SECONDS limit=180 code=""
    while :; do
        code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$url/readyz" || true)"
        [[ "$code" == 200 ]] && break
        if [[ "$(podman inspect -f '{{.State.Running}}' "$name" 2>/dev/null)" != true ]]; then
            show_logs "$name"
            die "$image: the container exited before it was ready (exit code $(podman inspect -f '{{.State.ExitCode}}' "$name" 2>/dev/null))"
        fi
        # The service stays up but unready without a model (service/service.py): say so now.
        if podman logs "$name" 2>&1 | grep -q 'MODEL NOT LOADED'; then
            show_logs "$name"
            die "$image: the service could not load its model"
        fi
        if ((SECONDS - t0 > limit)); then
            show_logs "$name"
            die "$image: /readyz still answers '${code:-no connection}' after ${limit}s"
        fi
        sleep 1
    done
    log "$image: /readyz 200 after $((SECONDS - t0)) s"

    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$url/livez" || true)"
    [[ "$code" == 200 ]] || { show_logs "$name"; die "$image: /livez answered '$code'"; }

    # A real request: multipart upload of the face image to /predict.
    local body="$LOGDIR/$name.predict.json"
    code="$(curl -s -o "$body" -w '%{http_code}' --max-time 60 -F "image=@$FIXTURE" "$url/predict" || true)"
    if [[ "$code" != 200 ]]; then
        show_logs "$name"; head -c 2000 "$body" >&2 || true; echo >&2
        die "$image: POST /predict answered '$code'"
    fi
    python3 - "$body" "$EXPECT_FACE" <<'EOF' || { show_logs "$name"; die "$image: /predict returned unexpected JSON (above)"; }
import json, math, sys
raw = open(sys.argv[1]).read()
expect_face = sys.argv[2] == "1"
try:
    r = json.loads(raw)
    assert isinstance(r.get("width"), int) and r["width"] > 0, "width"
    assert isinstance(r.get("height"), int) and r["height"] > 0, "height"
    assert isinstance(r.get("faces"), list), "faces is not a list"
    assert isinstance(r.get("model"), dict) and r["model"].get("name") and r["model"].get("version"), "model"
    if expect_face:
        assert len(r["faces"]) >= 1, "no face found in the face fixture"
    for f in r["faces"]:
        p = f["probabilities"]
        assert f["emotion"] in p, "emotion not among the classes"
        assert math.isclose(sum(p.values()), 1.0, abs_tol=1e-3), f"probabilities sum to {sum(p.values())}"
        assert math.isclose(f["confidence"], max(p.values()), abs_tol=1e-6), "confidence is not the top probability"
        b = f["box"]
        assert all(isinstance(b[k], int) for k in ("x", "y", "width", "height")), "box"
except Exception as e:
    print(f"bad /predict response ({e}): {raw[:2000]}", file=sys.stderr)
    sys.exit(1)
faces = ", ".join(f"{f['emotion']} {f['confidence']:.2f}" for f in r["faces"]) or "no face"
print(f"/predict {r['width']}x{r['height']}: {faces} (model {r['model']['name']} {r['model']['version']})")
EOF

    # The page for people at / and the OpenAPI page at /docs, served from inside the image.
    local page="$LOGDIR/$name.page.html"
    code="$(curl -s -o "$page" -w '%{http_code}' --max-time 10 "$url/" || true)"
    [[ "$code" == 200 ]] && grep -q 'fetch("/predict"' "$page" || { show_logs "$name"; die "$image: GET / is not the page ('$code')"; }
    code="$(curl -s -o "$page" -w '%{http_code}' --max-time 10 "$url/docs" || true)"
    [[ "$code" == 200 ]] && grep -qi swagger "$page" || { show_logs "$name"; die "$image: GET /docs is not the OpenAPI page ('$code')"; }
    log "$image: the page (/) and the OpenAPI page (/docs) load"

    # Not root: every process of the container, as the host's /proc sees it.
    local users
    users="$(podman top "$name" huser user | tail -n +2)"
    [[ -n "$users" ]] || die "$image: podman top shows no process"
    if awk '$1 == "0" || $2 == "root" { bad = 1 } END { exit !bad }' <<<"$users"; then
        echo "$users" >&2; die "$image: a server process runs as root"
    fi
    log "$image: server processes run as uid $(awk '{print $1}' <<<"$users" | sort -u | paste -sd, -) ($(awk '{print $2}' <<<"$users" | sort -u | paste -sd, -)), not root"

    # The image's own HEALTHCHECK, where it has one.
    if podman image inspect "$image" | python3 -c 'import json, sys; d = json.load(sys.stdin)[0]; sys.exit(not (d.get("Healthcheck") or d.get("Config", {}).get("Healthcheck")))'; then
        podman healthcheck run "$name" >/dev/null 2>&1 || { show_logs "$name"; die "$image: its HEALTHCHECK fails"; }
        log "$image: HEALTHCHECK passes"
    fi

    if podman logs "$name" 2>&1 | grep -q 'Traceback (most recent call last)'; then
        show_logs "$name"; die "$image: the server logged a traceback"
    fi
    podman rm -f -t 5 "$name" >/dev/null 2>&1 || die "$image: could not remove the container"
    log "${GREEN}$image works${RESET}; container removed"
}

# --- 3. ./Dockerfile ---------------------------------------------------------------------
phase "build ./Dockerfile (cpu target)"
# --format docker keeps HEALTHCHECK (the OCI format has no such field).
podman build --format docker --layers --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$IMAGE" . \
    >"$LOGDIR/build-docker.log" 2>&1 || { tail -n 60 "$LOGDIR/build-docker.log" >&2; die "podman build of ./Dockerfile failed"; }

phase "run ./Dockerfile image"
# Contents: serving dependencies only.
podman run --rm --health-interval disable "$IMAGE" python -c '
import importlib.metadata as md, importlib.util as u, os, sys
dists = {d.metadata["Name"].lower() for d in md.distributions()}
bad = [m for m in ("torch", "torchvision", "sklearn", "matplotlib", "training") if u.find_spec(m)]
bad += [d for d in ("opencv-python", "onnxruntime-gpu") if d in dists]
assert "opencv-python-headless" in dists and "onnxruntime" in dists, "serving packages missing"
assert os.path.isfile(os.environ["EMOTION_MODEL_PATH"]), "no model at EMOTION_MODEL_PATH"
assert not os.path.exists("/app/tests"), "tests copied into the image"
sys.exit("not serving-only: " + ", ".join(bad) if bad else 0)
' >"$LOGDIR/contents.log" 2>&1 || { cat "$LOGDIR/contents.log" >&2; die "$IMAGE: unexpected image contents"; }
log "$IMAGE: serving dependencies only (no torch/training code, opencv headless), model at EMOTION_MODEL_PATH"
# As hardened as deploy/kubernetes.yaml: read-only root (podman mounts a tmpfs on
# /tmp, like the manifest's emptyDir), no capabilities, no privilege escalation.
smoke_test fe-check-docker "$IMAGE" --read-only --cap-drop=all --security-opt no-new-privileges

phase "deploy/kubernetes.yaml: schema and agreement with the image"
KV="$STATE/kubernetes-validate"
if [[ ! -x "$KV/bin/kubernetes-validate" ]]; then
    python3 -m venv "$KV" && "$KV/bin/pip" install -q "kubernetes-validate==1.37.0" >"$LOGDIR/kv.log" 2>&1 \
        || { cat "$LOGDIR/kv.log" >&2; rm -rf "$KV"; die "could not install kubernetes-validate"; }
fi
"$KV/bin/kubernetes-validate" --strict --quiet deploy/kubernetes.yaml deploy/kubernetes-gpu.yaml \
    || die "deploy/kubernetes.yaml or deploy/kubernetes-gpu.yaml fails Kubernetes schema validation"
podman image inspect "$IMAGE" >"$LOGDIR/image.json"
"$KV/bin/python" - deploy/kubernetes.yaml "$LOGDIR/image.json" service/config.py <<'EOF' || die "deploy/kubernetes.yaml disagrees with the image (above)"
import json, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
image = json.load(open(sys.argv[2]))[0]
config_src = open(sys.argv[3]).read()
dep = next(d for d in docs if d["kind"] == "Deployment")
svc = next(d for d in docs if d["kind"] == "Service")
pod = dep["spec"]["template"]["spec"]
c = pod["containers"][0]
user = (image.get("Config") or {}).get("User") or image.get("User") or ""
exposed = (image.get("Config") or {}).get("ExposedPorts") or {}
problems = []
if str(pod["securityContext"].get("runAsUser")) != user.split(":")[0]:
    problems.append(f"runAsUser {pod['securityContext'].get('runAsUser')} != the image's USER {user!r}")
ports = {p["name"]: p["containerPort"] for p in c["ports"]}
if f"{ports.get('http')}/tcp" not in exposed:
    problems.append(f"containerPort {ports.get('http')} is not EXPOSEd by the image ({sorted(exposed)})")
if c["readinessProbe"]["httpGet"]["path"] != "/readyz":
    problems.append("the readiness probe is not /readyz")
if c["livenessProbe"]["httpGet"]["path"] != "/livez":
    problems.append("the liveness probe is not /livez")
if svc["spec"]["selector"] != dep["spec"]["selector"]["matchLabels"]:
    problems.append("the Service selects other pods than the Deployment's")
for e in c.get("env", []):
    if e["name"].startswith("EMOTION_") and f'"{e["name"]}"' not in config_src:
        problems.append(f"{e['name']} is not a setting of service/config.py")
if c["securityContext"].get("readOnlyRootFilesystem") and not any(
    m["mountPath"] == "/tmp" for m in c.get("volumeMounts", [])
):
    problems.append("read-only root without a writable /tmp (BENTOML_HOME)")
if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
EOF
log "deploy/kubernetes.yaml: valid (strict, Kubernetes 1.37) and agrees with $IMAGE (uid, port, probes, env names)"

# --- optional: the gpu target -------------------------------------------------------------
if [[ "${CONTAINER_CHECK_GPU:-0}" == 1 ]]; then
    phase "build ./Dockerfile (gpu target) and check its CUDA libraries"
    podman build --format docker --layers --target gpu --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$GPU_IMAGE" . \
        >"$LOGDIR/build-gpu.log" 2>&1 || { tail -n 60 "$LOGDIR/build-gpu.log" >&2; die "podman build --target gpu failed"; }
    # Every library the CUDA provider links must resolve inside the image, except the
    # driver's libcuda, which the NVIDIA container toolkit mounts at run time.
    podman run --rm --health-interval disable "$GPU_IMAGE" sh -c '
        set -e
        python -c "import onnxruntime as o; p = o.get_available_providers(); print(o.__version__, p); assert \"CUDAExecutionProvider\" in p"
        so=$(python -c "import onnxruntime, os; print(os.path.join(os.path.dirname(onnxruntime.__file__), \"capi\", \"libonnxruntime_providers_cuda.so\"))")
        missing=$(ldd "$so" | awk "/not found/ {print \$1}" | grep -v "^libcuda\.so" || true)
        for lib in libcudnn_ops.so.9 libcudnn_cnn.so.9 libcudnn_engines_precompiled.so.9; do
            for d in $(echo "$LD_LIBRARY_PATH" | tr : " "); do [ -e "$d/$lib" ] && continue 2; done
            missing="$missing $lib"
        done
        [ -z "$missing" ] || { echo "unresolved: $missing"; exit 1; }
        echo "CUDA provider libraries resolve (libcuda comes from the host driver)"
    ' >"$LOGDIR/gpu-libs.log" 2>&1 || { cat "$LOGDIR/gpu-libs.log" >&2; die "$GPU_IMAGE: CUDA libraries do not resolve"; }
    log "$(tail -n 1 "$LOGDIR/gpu-libs.log")"
fi

# --- 4. bentoml build + containerize ------------------------------------------------------
if [[ "${CONTAINER_CHECK_BENTO:-1}" != 0 ]]; then
    phase "bentoml build"
    BENTOML="$VENV/bin/bentoml"
    [[ -x "$BENTOML" ]] || BENTOML="$(command -v bentoml || true)"
    [[ -n "$BENTOML" ]] || die "no bentoml CLI (install the serve extra into $VENV)"
    export BENTOML_HOME="$STATE/bentoml" BENTOML_DO_NOT_TRACK=true
    # Never write a file:// URL of the local bentoml install into the Bento.
    export BENTOML_NO_LOCAL_URL=1
    "$BENTOML" build --output tag >"$LOGDIR/bento-build.log" 2>&1 \
        || { tail -n 40 "$LOGDIR/bento-build.log" >&2; die "bentoml build failed"; }
    BENTO_TAG="$(grep -o "__tag__:$BENTO_NAME:[A-Za-z0-9._-]*" "$LOGDIR/bento-build.log" | tail -n1 | sed 's/^__tag__://')"
    [[ -n "$BENTO_TAG" ]] || { cat "$LOGDIR/bento-build.log" >&2; die "bentoml build printed no tag"; }
    BENTO_DIR="$BENTOML_HOME/bentos/${BENTO_TAG%%:*}/${BENTO_TAG#*:}"
    [[ -f "$BENTO_DIR/src/$MODEL" ]] || die "the Bento $BENTO_TAG does not contain $MODEL"
    log "built Bento $BENTO_TAG ($(du -sh "$BENTO_DIR" | cut -f1), model included)"

    phase "bentoml containerize --backend podman"
    # The generated Dockerfile starts FROM bentofile.yaml's docker.base_image, which
    # cannot be pulled here: let the local base answer to that name, for this build only.
    want="$(sed -n 's/^[[:space:]]*base_image:[[:space:]]*//p' bentofile.yaml | tr -d "\"'" | head -n1)"
    [[ -n "$want" ]] || die "bentofile.yaml names no docker.base_image"
    case "$want" in
        */*/*) alias_ref="$want" ;;
        */*)   alias_ref="docker.io/$want" ;;
        *)     alias_ref="docker.io/library/$want" ;;
    esac
    if podman image exists "$alias_ref"; then
        log "using the existing $alias_ref"
    else
        podman tag "$BASE_IMAGE" "$alias_ref"
        ALIAS_TAGGED="$alias_ref"
        log "tagged $BASE_IMAGE as $alias_ref for the build"
    fi
    "$BENTOML" containerize "$BENTO_TAG" --backend podman -t "$BENTO_IMAGE" \
        >"$LOGDIR/bento-containerize.log" 2>&1 \
        || { tail -n 60 "$LOGDIR/bento-containerize.log" >&2; die "bentoml containerize failed"; }
    if [[ -n "$ALIAS_TAGGED" ]]; then podman untag "$ALIAS_TAGGED" "$ALIAS_TAGGED"; ALIAS_TAGGED=""; fi
    podman image exists "$BENTO_IMAGE" || die "bentoml containerize made no $BENTO_IMAGE"

    phase "run the Bento image"
    smoke_test fe-check-bento "$BENTO_IMAGE"
fi
phase_end

# --- 5. summary ----------------------------------------------------------------------------
size() { podman image inspect -f '{{.Size}}' "$1" | awk '{printf "%7.0f MB", $1 / 1e6}'; }
{
    echo
    echo "${BOLD}Phase timings${RESET}"
    printf '  %s\n' "${TIMINGS[@]}"
    echo "${BOLD}Image sizes${RESET} (uncompressed, base layers included)"
    printf '  %-62s %s\n' "$BASE_IMAGE" "$(size "$BASE_IMAGE")"
    printf '  %-62s %s\n' "$IMAGE (./Dockerfile, cpu)" "$(size "$IMAGE")"
    if [[ "${CONTAINER_CHECK_GPU:-0}" == 1 ]]; then printf '  %-62s %s\n' "$GPU_IMAGE (./Dockerfile, gpu)" "$(size "$GPU_IMAGE")"; fi
    if [[ "${CONTAINER_CHECK_BENTO:-1}" != 0 ]]; then printf '  %-62s %s\n' "$BENTO_IMAGE (bentoml containerize)" "$(size "$BENTO_IMAGE")"; fi
    echo "${GREEN}${BOLD}container check passed${RESET} in $SECONDS s"
} >&2
