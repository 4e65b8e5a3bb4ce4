#!/usr/bin/env bash
# Headless Chromium and its driver from Debian for the browser test (tests/test_page.py).
# Nothing is downloaded at test time: Selenium is pointed at these system binaries.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "[browser-setup] no chromium here and no apt-get as root: the browser test will skip" >&2
    exit 0
fi
echo "[browser-setup] installing chromium and chromium-driver with apt" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core >/dev/null
