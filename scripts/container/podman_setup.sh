#!/usr/bin/env bash
# Install podman/buildah/runc/debootstrap and write a private containers.conf that
# works inside this sandbox (no systemd, cgroup v1, no journald, no raising rlimits).
#
# Source it (". scripts/container/podman_setup.sh") so that CONTAINERS_CONF stays
# exported for podman, buildah and `bentoml containerize --backend podman`.
# Nothing under /etc/containers is changed.

_cc_log() { printf '[container-setup] %s\n' "$*" >&2; }

container_setup() {
    local need=()
    local tool
    for tool in podman buildah runc debootstrap; do
        command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
    done
    if ((${#need[@]})); then
        _cc_log "installing with apt: ${need[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        # netavark/aardvark-dns/iptables come as podman dependencies; fuse-overlayfs
        # is only a fallback when the kernel refuses native overlay mounts.
        apt-get install -y -qq --no-install-recommends \
            podman buildah runc debootstrap uidmap fuse-overlayfs ca-certificates >/dev/null
    fi

    local conf_dir="${CONTAINER_CHECK_STATE:-/var/tmp/face-emotion-container}"
    mkdir -p "$conf_dir"
    CONTAINERS_CONF="$conf_dir/containers.conf"
    cat >"$CONTAINERS_CONF" <<'EOF'
# Written by scripts/container/podman_setup.sh for a sandboxed CI machine.
[containers]
# The sandbox forbids raising resource limits above the caller's, so give every
# container limits it is allowed to set.
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[engine]
runtime = "runc"
# No systemd in the sandbox: manage cgroups directly and log events to a file.
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
    export CONTAINERS_CONF
    _cc_log "CONTAINERS_CONF=$CONTAINERS_CONF"

    # Fail early, with podman's own words, when the engine cannot work here at all.
    local info
    if ! info=$(podman info --format '{{.Host.OCIRuntime.Name}} {{.Host.CgroupManager}} {{.Store.GraphDriverName}}' 2>&1); then
        _cc_log "podman info failed: $info"
        return 1
    fi
    _cc_log "podman $(podman --version | awk '{print $3}'): runtime/cgroups/storage = $info"
}
