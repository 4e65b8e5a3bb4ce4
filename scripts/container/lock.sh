#!/usr/bin/env bash
# Regenerate the fully pinned serving requirements that the Dockerfile and
# bentofile.yaml install, from the `serve` / `serve-gpu` extras of pyproject.toml.
# Run after changing those extras (needs uv, which the dev extra installs, and PyPI):
#
#   scripts/container/lock.sh            # rewrite deploy/requirements/*.txt
#   scripts/container/lock.sh --check    # fail if they are out of date with pyproject.toml
set -euo pipefail
cd "$(dirname "$0")/../.."

UV="${UV:-$(command -v uv || echo .venv/bin/uv)}"
OUT=deploy/requirements
# Linux x86_64 wheels for CPython 3.11, whatever machine runs this.
common=(--python-version 3.11 --python-platform x86_64-manylinux_2_28 --no-annotate --quiet
        --custom-compile-command "scripts/container/lock.sh")

lock() {  # lock OUTPUT ARGS...
    local out="$1"; shift
    # uv only reads pyproject.toml and PyPI (not the host's pip.conf), which is what
    # a container build sees.
    "$UV" pip compile pyproject.toml "$@" "${common[@]}" -o "$out"
}

if [[ "${1:-}" == --check ]]; then
    tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
    # Not a re-resolve (that would drift with new upstream releases): every pin of
    # pyproject's base dependencies and serving extras must appear in the lock.
    python3 - "$OUT" <<'EOF'
import re, sys, tomllib
from pathlib import Path
out = Path(sys.argv[1])
proj = tomllib.loads(Path("pyproject.toml").read_text())["project"]
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
def pins(lines):
    found = {}
    for line in lines:
        m = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*==\s*([^\s;#]+)", line)
        if m:
            found[norm(m.group(1))] = m.group(3)
    return found
bad = []
for extra, lock in (("serve", "serve-cpu.txt"), ("serve-gpu", "serve-gpu.txt")):
    want = pins(proj["dependencies"] + proj["optional-dependencies"][extra])
    have = pins((out / lock).read_text().splitlines())
    for name, ver in sorted(want.items()):
        if have.get(name) != ver:
            bad.append(f"{lock}: pyproject pins {name}=={ver}, lock has {have.get(name, 'nothing')}")
if bad:
    print("\n".join(bad), file=sys.stderr)
    print("run scripts/container/lock.sh to refresh deploy/requirements/", file=sys.stderr)
    sys.exit(1)
print("deploy/requirements/*.txt agree with pyproject.toml")
EOF
    exit 0
fi

mkdir -p "$OUT"
lock "$OUT/serve-cpu.txt" --extra serve
# onnxruntime-gpu's own extras pull the CUDA 13 runtime, cuBLAS, cuFFT, cuRAND,
# NVRTC and cuDNN 9 wheels it was built against, so the image needs no CUDA base.
lock "$OUT/serve-gpu.txt" --extra serve-gpu "$OUT/gpu-cuda.in"
echo "wrote $OUT/serve-cpu.txt $OUT/serve-gpu.txt"
