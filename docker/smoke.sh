#!/usr/bin/env bash
# Smoke test of docker/compose.yaml without a Docker engine: the compose file's own command
# lines, read from it, run against the release binaries, with the container paths (/secrets,
# /data, /dev/shm/tickd) mapped into a temporary directory:
#   1. token-init's script makes the admin token and the token file;
#   2. tickd's `serve` line, with TICKD_TOKEN_FILE, binds 0.0.0.0 (allowed: it has a token);
#   3. the image's HEALTHCHECK command passes;
#   4. /metrics answers 401 without the token and 200 with it (as Prometheus scrapes);
#   5. the reader's tickctl line reads the rings from shared memory;
#   6. SIGTERM stops tickd cleanly.
# Usage: docker/smoke.sh [BIN_DIR (default target/release)]. Needs docker-compose (v1, Debian's)
# for `config` and its PyYAML, and curl.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="$(cd "${1:-$here/../target/release}" && pwd)"
work="$(mktemp -d)"
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
export PATH="$bin:$PATH"
step() { printf 'smoke: %s\n' "$*"; }

docker-compose -f "$here/compose.yaml" config -q
# A field of the compose file, as JSON (Debian's python3 has PyYAML: docker-compose needs it).
field() {
    /usr/bin/python3 -c 'import json, sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
print(json.dumps(eval(sys.argv[2], {"c": c})))' "$here/compose.yaml" "$1"
}
# Container paths to this run's directories.
map() {
    sed -e "s#/secrets#$work/secrets#g" -e "s#/data#$work/data#g" \
        -e "s#/dev/shm/tickd#$work/shm#g" -e 's/\$\$/$/g'
}
mkdir -p "$work/secrets" "$work/data"

step "token-init"
script="$(field 'c["services"]["token-init"]["command"][0]' | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin))' | map)"
sh -c "$script"
test -s "$work/secrets/admin-token"
grep -q '^admin:[0-9a-f]\{64\}:subscribe+publish+admin$' "$work/secrets/tokens"
token="$(cat "$work/secrets/admin-token")"

step "tickd serve"
mapfile -t args < <(field 'c["services"]["tickd"]["command"]' | /usr/bin/python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin)))' | map)
env_file="$(field 'c["services"]["tickd"]["environment"]["TICKD_TOKEN_FILE"]' | tr -d '"' | map)"
TICKD_TOKEN_FILE="$env_file" tickd "${args[@]}" --shm-dir "$work/shm" > "$work/tickd.log" 2>&1 &
pid=$!

step "HEALTHCHECK"
# The HEALTHCHECK's CMD, a JSON array, as one shell-quoted command line.
health="$(sed -n '/^HEALTHCHECK/,/CMD/ s/^ *CMD \(\[.*\]\)$/\1/p' "$here/Dockerfile" | /usr/bin/python3 -c 'import json, shlex, sys; print(shlex.join(json.load(sys.stdin)))')"
[ -n "$health" ]
# As Docker runs it: every interval until it passes (here 1 s, at most 60 tries).
for _ in $(seq 60); do
    if sh -c "$health" 2>/dev/null; then break; fi
    kill -0 "$pid" 2>/dev/null || { cat "$work/tickd.log"; exit 1; }
    sleep 1
done
sh -c "$health"

step "/metrics with and without the token"
[ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8000/metrics)" = 401 ]
curl -fsS -H "Authorization: Bearer $token" http://127.0.0.1:8000/metrics | grep -q '^tickd_head_seq '

step "reader"
reader="$(field 'c["services"]["reader"]["command"][0]' | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin))' | sed -n 's/^ *\(tickctl .*\)$/\1/p' | map)"
[ -n "$reader" ]
# The synthetic feed defines AAPL with its first tick.
for _ in $(seq 30); do
    if out="$(sh -c "$reader" 2>&1)"; then break; fi
    sleep 1
done
echo "$out" | grep -q '"AAPL"' || { echo "$out"; exit 1; }

step "SIGTERM"
kill -TERM "$pid"
wait "$pid"
pid=
step "ok"
