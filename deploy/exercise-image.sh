#!/usr/bin/env bash
# Exercise a built rtbfast image without a container engine: mount its filesystem read-only
# (podman image mount), bind /proc, /dev, a data folder on /data and a scratch /tmp, and run the
# image's own programs in it with chroot, as the image's user (10001), with the image's environment.
# Usage: deploy/exercise-image.sh [IMAGE] [PORT]. Needs root and podman. Exits non-zero on a failure;
# says clearly when the image has no `rtbfast serve` yet (then the server checks are not run).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
IMAGE=${1:-rtbfast:dev}
PORT=${2:-18080}
: "${CONTAINERS_CONF:=/tmp/rtbfast-image/containers.conf}"
export CONTAINERS_CONF
[[ -f "$CONTAINERS_CONF" ]] || { mkdir -p "$(dirname "$CONTAINERS_CONF")"; printf '[containers]\ndefault_ulimits = []\n' > "$CONTAINERS_CONF"; }

scratch=$(mktemp -d /tmp/rtbfast-exercise.XXXXXX)
mkdir -p "$scratch/data/in" "$scratch/tmp"
cp "$ROOT/examples/enodeb_mini_mp.xml" "$ROOT/examples/templates/base_cell.yaml" "$scratch/data/in/"
chown -R 10001:10001 "$scratch/data" "$scratch/tmp"
chmod 1777 "$scratch/tmp"

mnt=$(podman image mount "$IMAGE")
serve_pid=""
mounted=()
cleanup() {
    if [[ -n "$serve_pid" ]]; then kill "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; fi
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount "${mounted[$i]}" || umount -l "${mounted[$i]}"; done
    podman image unmount "$IMAGE" >/dev/null || true
    rm -rf "$scratch"
}
trap cleanup EXIT
bind() { mount --bind "$1" "$mnt$2"; mounted+=("$mnt$2"); }
bind /proc /proc
bind /dev /dev
# a container runtime gives /dev/shm its own tmpfs (multiprocessing's semaphores live there: the
# service's check workers); a bind of /dev does not carry its submounts, so bind it as well
bind /dev/shm /dev/shm
bind "$scratch/data" /data
bind "$scratch/tmp" /tmp

# the image's ENV, as a container would set it
mapfile -t image_env < <(podman image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$IMAGE" | sed '/^$/d')
user=$(podman image inspect --format '{{.Config.User}}' "$IMAGE")
in_image() { chroot --userspec="$user" "$mnt" /usr/bin/env -i "${image_env[@]}" HOME=/tmp "$@"; }
# the same, replacing the calling (background) shell: chroot and env exec, so $! is the program's pid
exec_in_image() { exec chroot --userspec="$user" "$mnt" /usr/bin/env -i "${image_env[@]}" HOME=/tmp "$@"; }

echo "-- the image's HEALTHCHECK (kept only in docker format)"
mapfile -t hc < <(podman image inspect --format '{{if .Config.Healthcheck}}{{range .Config.Healthcheck.Test}}{{println .}}{{end}}{{end}}' "$IMAGE" | sed '/^$/d')
[[ "${hc[0]:-}" == CMD && "${hc[*]}" == *"/health"* ]] || { echo "FAIL: no HEALTHCHECK on /health in the image: ${hc[*]:-none}" >&2; exit 1; }
echo "ok: ${hc[*]:0:3} ..."

echo "-- the root filesystem is read-only"
if in_image /bin/sh -c 'touch /opt/venv/x' 2>/dev/null; then echo "FAIL: wrote into the image" >&2; exit 1; fi
echo "ok: $(in_image /bin/sh -c 'id -u'):$(in_image /bin/sh -c 'id -g') cannot write /opt/venv"

echo "-- rtbfast --version; --help"
in_image rtbfast --version
in_image rtbfast --help >/dev/null

echo "-- rtbfast build + templates check inside the image, compared with the same check outside"
in_image rtbfast build /data/in/enodeb_mini_mp.xml -o /data/catalogs/example >/dev/null
set +e
in_image rtbfast templates check /data/in/base_cell.yaml --catalog /data/catalogs/example --format json > "$scratch/inside.json"
inside_rc=$?
# outside: this checkout when its native module is built in place, else the rtbfast installed
outside_env=()
[[ -e "$ROOT/python/rtbfast/_native.abi3.so" ]] && outside_env=(PYTHONPATH="$ROOT/python")
(cd "$ROOT" && env "${outside_env[@]}" python3 -m rtbfast.cli templates check examples/templates/base_cell.yaml \
    --catalog examples/enodeb_mini_mp.xml --format json) > "$scratch/outside.json"
outside_rc=$?
set -e
python3 - "$scratch/inside.json" "$scratch/outside.json" "$inside_rc" "$outside_rc" <<'EOF'
import json, sys
inside, outside = (json.load(open(p)) for p in sys.argv[1:3])
def strip(doc):  # the template's path differs (inside: /data/in/...), nothing else may
    text = json.dumps(doc, sort_keys=True)
    return text.replace("/data/in/base_cell.yaml", "T").replace("examples/templates/base_cell.yaml", "T")
assert sys.argv[3] == sys.argv[4], f"exit codes differ: image {sys.argv[3]}, host {sys.argv[4]}"
assert strip(inside) == strip(outside), "the image's check differs from the host's"
print(f"ok: same findings inside and outside the image (exit {sys.argv[3]}, {len(strip(inside))} bytes of JSON)")
EOF

echo "-- rtbfast serve"
if ! in_image rtbfast serve --help >/dev/null 2>&1; then
    echo "SERVE ABSENT: this image's rtbfast has no 'serve' command (branch serve not merged yet);"
    echo "              /health, /ready, the template check over HTTP and the HEALTHCHECK were not run"
    exit 0
fi
exec_in_image rtbfast serve --catalog example=/data/catalogs/example --host 127.0.0.1 --port "$PORT" \
    --jobs-dir /data/jobs --journals-dir /data/journals --data-dir /data > "$scratch/serve.log" 2>&1 &
serve_pid=$!
python3 - "$PORT" "$scratch/data/in/base_cell.yaml" "$scratch/inside.json" "$ROOT/deploy/monitoring/metrics.txt" <<'EOF' || { echo "-- the server's log:"; cat "$scratch/serve.log"; exit 1; }
import json, sys, time, urllib.error, urllib.request
port, template, cli_json, metrics_txt = sys.argv[1:5]
base = f"http://127.0.0.1:{port}"
deadline = time.monotonic() + 60
while True:
    try:
        with urllib.request.urlopen(base + "/health", timeout=2) as r:
            assert r.status == 200, r.status
            break
    except (urllib.error.URLError, ConnectionError):
        if time.monotonic() > deadline:
            sys.exit("FAIL: /health did not answer in 60 s")
        time.sleep(0.5)
print("ok: /health 200")
while True:
    try:
        with urllib.request.urlopen(base + "/ready", timeout=5) as r:
            print(f"ok: /ready {r.status}")
            break
    except urllib.error.HTTPError as e:
        if time.monotonic() > deadline:
            sys.exit(f"FAIL: /ready answered {e.code}")
        time.sleep(0.5)
# one template check: the template as the body, its file name in ?name= (as `rtbfast serve` takes
# one template); the findings must be those of `rtbfast templates check` run in the image above
body = open(template, "rb").read()
req = urllib.request.Request(base + "/v1/templates/check?catalog=example&name=base_cell.yaml", data=body,
                             headers={"Content-Type": "application/yaml"}, method="POST")
try:
    with urllib.request.urlopen(req, timeout=30) as r:
        answer = json.load(r)
except urllib.error.HTTPError as e:
    sys.exit(f"FAIL: POST /v1/templates/check answered {e.code}: {e.read()[:500]!r}")
key = lambda f: (f["path"], f["line"], f["column"], f["severity"], f["code"], f["message"])
over_http = sorted(map(key, answer["findings"]))
by_cli = sorted(map(key, json.load(open(cli_json))["findings"]))  # the CLI's object: a summary and the findings
if over_http != by_cli:
    sys.exit(f"FAIL: the server's findings differ from the CLI's:\n{over_http}\n{by_cli}")
print(f"ok: POST /v1/templates/check 200: {answer['values_checked']} values, {answer['errors']} errors, "
      f"{answer['warnings']} warnings, {len(over_http)} findings, the same as the CLI's")
# every metric of the contract (deploy/monitoring/metrics.txt) is exported, with its type
with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
    exposition = r.read().decode()
types = dict(line.split()[2:4] for line in exposition.splitlines() if line.startswith("# TYPE "))
missing = []
for line in open(metrics_txt):
    if line.strip() and not line.startswith("#"):
        name, kind = line.split()[:2]
        if types.get(name, types.get(name.removesuffix("_total"))) != kind:
            missing.append(f"{name} ({kind})")
if missing:
    sys.exit(f"FAIL: /metrics lacks {missing}")
print(f"ok: /metrics exports all {sum(1 for l in open(metrics_txt) if l.strip() and not l.startswith('#'))} metrics of metrics.txt")
EOF
echo "-- the image's HEALTHCHECK command, run in the image"
# it probes port 8080; the server here listens on $PORT, so the command runs with that port
probe=("${hc[@]:1}")
probe[-1]=${probe[-1]//127.0.0.1:8080/127.0.0.1:$PORT}
in_image "${probe[@]}"
echo "ok: HEALTHCHECK (${hc[*]:1:2} ...) exit 0"
