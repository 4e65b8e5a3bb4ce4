#!/usr/bin/env bash
# Build a local Debian bookworm + Python 3.11 base image with debootstrap, for
# machines that cannot pull public images (python:3.11-slim) but reach the Debian
# mirror and PyPI.  The result stands in for BASE_IMAGE in ./Dockerfile.
#
#   scripts/container/build_base.sh [IMAGE]      (default localhost/face-emotion-base:bookworm-py311)
#
# Skips all work when IMAGE already exists (set REBUILD_BASE=1 to force).
# Only this local, test-only base learns about the machine's TLS re-signing CA
# and pip index: the project's Dockerfile stays generic.
set -euo pipefail

IMAGE="${1:-localhost/face-emotion-base:bookworm-py311}"
SUITE=bookworm
HOST_CA=/etc/ssl/certs/ca-certificates.crt

log() { printf '[build-base] %s\n' "$*" >&2; }
die() { printf '[build-base] ERROR: %s\n' "$*" >&2; exit 1; }

# Run on its own: install and configure podman first (container_check.sh has done so).
if [[ -z "${CONTAINERS_CONF:-}" ]]; then
    # shellcheck source=scripts/container/podman_setup.sh
    . "$(dirname "$0")/podman_setup.sh"
    container_setup || die "podman does not work on this machine"
fi

OLD_ID=""
if podman image exists "$IMAGE"; then
    if [[ "${REBUILD_BASE:-0}" != 1 ]]; then
        log "$IMAGE exists, skipping debootstrap (REBUILD_BASE=1 to rebuild)"
        exit 0
    fi
    OLD_ID="$(podman image inspect --format '{{.Id}}' "$IMAGE")"
fi

# --- which Debian mirror does this machine use? --------------------------------
# First enabled "deb" source (deb822 *.sources or one-line *.list) carrying $SUITE.
find_mirror() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f "$f" ]] || continue
        awk -v suite="$SUITE" '
            function flush() { if (types ~ /(^| )deb( |$)/ && suites ~ "(^| )" suite "( |$)" && enabled != "no" && uri != "") { print uri; found=1; exit } }
            /^[[:space:]]*$/ { flush(); types=""; suites=""; uri=""; enabled=""; next }
            /^Types:/   { sub(/^Types:[[:space:]]*/, ""); types=$0 }
            /^Suites:/  { sub(/^Suites:[[:space:]]*/, ""); suites=$0 }
            /^URIs:/    { sub(/^URIs:[[:space:]]*/, ""); split($0, u, /[[:space:]]+/); uri=u[1] }
            /^Enabled:/ { sub(/^Enabled:[[:space:]]*/, ""); enabled=tolower($0) }
            END { if (!found) flush() }' "$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f "$f" ]] || continue
        awk -v suite="$SUITE" '$1 == "deb" { i=2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } if ($(i+1) == suite) { print $i; exit } }' "$f"
    done
}
MIRROR="${DEBIAN_MIRROR:-$(find_mirror | head -n1)}"
[[ -n "$MIRROR" ]] || MIRROR=http://deb.debian.org/debian
log "Debian mirror: $MIRROR"

[[ -s "$HOST_CA" ]] || die "host CA bundle $HOST_CA is missing"

# --- the pip index the host uses (only PyPI-like http(s) indexes matter) --------
# Local file:// indexes and find-links on the host do not exist in a container.
PIP_INDEX=""
if [[ -n "${PIP_INDEX_URL:-}" ]]; then
    PIP_INDEX="$PIP_INDEX_URL"
elif command -v pip >/dev/null 2>&1; then
    PIP_INDEX="$(pip config get global.index-url 2>/dev/null || true)"
fi
[[ "$PIP_INDEX" == http://* || "$PIP_INDEX" == https://* ]] || PIP_INDEX=""
log "pip index in the base: ${PIP_INDEX:-PyPI default}"

# --- debootstrap ---------------------------------------------------------------
WORK="$(mktemp -d /var/tmp/face-emotion-rootfs.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
ROOTFS="$WORK/rootfs"
log "debootstrap $SUITE (minbase + python3) into $ROOTFS"
t0=$SECONDS
# python3-venv brings ensurepip, which the Dockerfile's "python3 -m venv" needs;
# python3-pip stands in for the pip of python:3.11-slim (bentoml containerize uses it).
if ! debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
        "$SUITE" "$ROOTFS" "$MIRROR" >"$WORK/debootstrap.log" 2>&1; then
    tail -n 40 "$WORK/debootstrap.log" >&2
    die "debootstrap failed (log above)"
fi
log "debootstrap took $((SECONDS - t0)) s"

# Trust the same CAs as the host: this network re-signs TLS.
install -m 0644 "$HOST_CA" "$ROOTFS/etc/ssl/certs/ca-certificates.crt"
# Smaller image: no apt lists/caches, docs, man pages or extra locales.
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/var/cache/apt/archives/*.deb \
       "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* \
       "$ROOTFS"/var/log/*.log "$ROOTFS"/var/cache/debconf/*-old
find "$ROOTFS/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name 'locale.alias' -exec rm -rf {} + 2>/dev/null || true
# Behave like python:3.11-slim: a "python" command, and pip may install into the
# system interpreter (no PEP 668 marker; Debian's pip then writes to /usr/local).
ln -sf python3 "$ROOTFS/usr/bin/python"
rm -f "$ROOTFS"/usr/lib/python3*/EXTERNALLY-MANAGED
# Mounted by the runtime anyway; debootstrap leaves the host's resolver config.
: >"$ROOTFS/etc/resolv.conf"
printf 'deb %s %s main\n' "$MIRROR" "$SUITE" >"$ROOTFS/etc/apt/sources.list"

py_version="$(chroot "$ROOTFS" /usr/bin/python3 -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
[[ "$py_version" == 3.11.* ]] || die "expected Python 3.11 in the base, got $py_version"

changes=(
    --change 'ENV LANG=C.UTF-8'
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
    --change "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"
    --change "ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt"
    --change "ENV REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt"
    --change 'CMD ["python3"]'
)
[[ -z "$PIP_INDEX" ]] || changes+=(--change "ENV PIP_INDEX_URL=$PIP_INDEX")

log "importing rootfs as $IMAGE (Python $py_version)"
tar --numeric-owner -C "$ROOTFS" -c . \
    | podman import --quiet "${changes[@]}" --message "debootstrap $SUITE + python3 $py_version (local test base)" - "$IMAGE" >/dev/null
podman image exists "$IMAGE" || die "podman import did not produce $IMAGE"
log "built $IMAGE: $(podman image inspect --format '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}')"
# A rebuild leaves the previous base untagged: drop it unless something still uses it.
[[ -z "$OLD_ID" ]] || podman rmi "$OLD_ID" >/dev/null 2>&1 || true
