#!/usr/bin/env bash
# Build the rtbfast image with podman on a machine that has no container engine and cannot pull
# images, then exercise it without running a container (docs/deploy.md, "The image here"):
#
#   1. a base image made offline from Debian packages (mmdebstrap bookworm + python3), imported;
#   2. the wheel: $WHEEL if given, else `maturin build --release` of this checkout;
#   3. `podman build --isolation chroot` of deploy/docker/Dockerfile, target runtime, with
#      WHEEL_STAGE=wheel-prebuilt (no Rust toolchain can be downloaded inside a build here);
#   4. the image's filesystem mounted read-only, and chroot into it as the image's user 10001:
#      `rtbfast --version`, `rtbfast build` and `rtbfast templates check` on the examples (the check's
#      JSON compared with the same check run outside the image), then, when the image has
#      `rtbfast serve`, the server started on loopback: /health, /ready, one template check, and
#      the image's own HEALTHCHECK command;
#   5. the image size and a time report per step.
#
# Needs root, and: apt-get install podman mmdebstrap; pip install maturin (for step 2).
# Environment: WHEEL (a built wheel), IMAGE (rtbfast:dev), BASE_IMAGE (localhost/debian-base:bookworm),
# WORK (build files, default /tmp/rtbfast-image), REBUILD_BASE=1 (remake the base), PORT (18080).
# Usage: deploy/build-image.sh [all|exercise]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
IMAGE=${IMAGE:-rtbfast:dev}
BASE_IMAGE=${BASE_IMAGE:-localhost/debian-base:bookworm}
WORK=${WORK:-/tmp/rtbfast-image}
PORT=${PORT:-18080}
MODE=${1:-all}
mkdir -p "$WORK"

# podman cannot set rlimits here: no default ulimits
export CONTAINERS_CONF="$WORK/containers.conf"
printf '[containers]\ndefault_ulimits = []\n' > "$CONTAINERS_CONF"

declare -a TIMES=()
step() { # step NAME COMMAND...: run, and remember how long it took
    local name=$1 start end
    shift
    echo "== $name"
    start=$(date +%s.%N)
    "$@"
    end=$(date +%s.%N)
    TIMES+=("$(printf '%-10s %7.1f s' "$name" "$(echo "$end - $start" | bc)")")
}
report() {
    echo "== time report"
    printf '  %s\n' "${TIMES[@]}"
}
trap report EXIT

for cmd in podman bc; do
    command -v "$cmd" >/dev/null || { echo "build-image: $cmd is not installed (apt-get install podman bc mmdebstrap)" >&2; exit 2; }
done

make_base() {
    if [[ "${REBUILD_BASE:-0}" != 1 ]] && podman image exists "$BASE_IMAGE"; then
        echo "base $BASE_IMAGE exists (REBUILD_BASE=1 remakes it)"
        return
    fi
    command -v mmdebstrap >/dev/null || { echo "build-image: mmdebstrap is not installed" >&2; exit 2; }
    # no documentation, manual pages or translations in the image
    mmdebstrap --variant=apt --include=python3,python3-venv,ca-certificates \
        --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/locale/*' \
        --dpkgopt='path-exclude=/usr/share/info/*' \
        bookworm "$WORK/base.tar"
    podman import "$WORK/base.tar" "$BASE_IMAGE"
    rm -f "$WORK/base.tar"
}

make_wheel() {
    rm -rf "$WORK/context" && mkdir -p "$WORK/context/dist"
    if [[ -n "${WHEEL:-}" ]]; then
        echo "wheel given: $WHEEL"
    else
        rm -rf "$WORK/wheels"
        (cd "$ROOT" && maturin build --release --out "$WORK/wheels")
        WHEEL=$(ls "$WORK"/wheels/rtbfast-*.whl)
    fi
    # a wheel without the native module (a stale or broken build) would make an image that fails late
    # (not `unzip -l | grep -q`: grep's early exit fails the pipe under pipefail)
    WHEEL=$(realpath "$WHEEL")
    python3 -c 'import sys, zipfile; sys.exit(not any(n.startswith("rtbfast/_native") for n in zipfile.ZipFile(sys.argv[1]).namelist()))' \
        "$WHEEL" || { echo "build-image: $WHEEL has no rtbfast/_native" >&2; exit 1; }
    cp "$WHEEL" "$WORK/context/dist/"
}

build_image() {
    # the context holds only the wheel: the prebuilt path reads nothing else; pip inside the build
    # reaches the registry through this machine's CA bundle, mounted for the build only
    # docker format: OCI image configs have no HEALTHCHECK (nor SHELL)
    podman build --isolation chroot --format docker -f "$ROOT/deploy/docker/Dockerfile" --target runtime \
        --build-arg BASE="$BASE_IMAGE" --build-arg WHEEL_STAGE=wheel-prebuilt \
        --volume /etc/ssl/certs:/run/host-certs:ro --build-arg PIP_CERT=/run/host-certs/ca-certificates.crt \
        -t "$IMAGE" "$WORK/context"
    local size
    size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
    echo "image $IMAGE: $size bytes ($(numfmt --to=iec "$size")); base $BASE_IMAGE: $(podman image inspect --format '{{.Size}}' "$BASE_IMAGE" | numfmt --to=iec)"
    podman image inspect --format 'user={{.Config.User}} entrypoint={{.Config.Entrypoint}} cmd={{.Config.Cmd}} ports={{.Config.ExposedPorts}}' "$IMAGE"
}

exercise() {
    "$ROOT/deploy/exercise-image.sh" "$IMAGE" "$PORT"
}

case "$MODE" in
    all)
        step base make_base
        step wheel make_wheel
        step build build_image
        step exercise exercise
        ;;
    exercise)
        step exercise exercise
        ;;
    *)
        echo "usage: $0 [all|exercise]" >&2
        exit 2
        ;;
esac
