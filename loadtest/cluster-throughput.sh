#!/usr/bin/env bash
# Scale-out throughput: an origin replays N trades at full speed and publishes them to a
# 3-node JetStream cluster (R3, on loopback, started here); E edges follow. Prints when the
# origin has every record acknowledged and when every edge holds them all, and the
# origin -> edge rate from the first acknowledgement to the last edge's last record.
#
#   loadtest/cluster-throughput.sh [RECORDS] [EDGES] [BIN_DIR]     (defaults: 1000000 1 target/release)
#
# Needs nats-server (apt-get install nats-server) and curl. Each tickd is its own process; the
# figures come from their /health, sampled every 50 ms (the resolution of the times printed).
# Not a latency measurement: see the README's scale-out section.
set -euo pipefail
records=${1:-1000000}
edges=${2:-1}
bin=${3:-target/release}
run=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$run"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
health() { curl -sf "http://127.0.0.1:$1/health"; }
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

client=(); route=()
for i in 0 1 2; do client+=("$(port)"); route+=("$(port)"); done
routes="nats-route://127.0.0.1:${route[0]}, nats-route://127.0.0.1:${route[1]}, nats-route://127.0.0.1:${route[2]}"
for i in 0 1 2; do
    cat > "$run/n$i.conf" <<CONF
server_name: n$i
listen: 127.0.0.1:${client[$i]}
jetstream { store_dir: "$run/nats$i", max_memory_store: 64MB, max_file_store: 8GB }
cluster { name: tickd, listen: 127.0.0.1:${route[$i]}, routes: [$routes] }
CONF
    nats-server -c "$run/n$i.conf" -l "$run/n$i.log" &
done
urls="nats://127.0.0.1:${client[0]},nats://127.0.0.1:${client[1]},nats://127.0.0.1:${client[2]}"

python3 - "$run/trades.csv" "$records" <<'PY'
import sys
path, n = sys.argv[1], int(sys.argv[2])
t0 = 1_696_680_000_000_000_000
with open(path, "w") as f:
    f.write("ts_event,symbol,kind,price,size,side,bid_px,bid_sz,ask_px,ask_sz\n")
    for i in range(n):
        f.write(f"{t0 + i * 1_000_000},{('AAPL', 'MSFT', 'IBM', 'SPY')[i % 4]},trade,{100 + i % 97}.25,1,buy,,,,\n")
PY

common=(--tcp 127.0.0.1:0 --quic off --journal-flush none)
ohttp=$(port)
t0=$(date +%s.%N)
"$bin/tickd" serve "${common[@]}" --synthetic off --replay "$run/trades.csv" --speed max \
    --http "127.0.0.1:$ohttp" --shm-dir "$run/o/shm" --data-dir "$run/o/data" \
    --publish-to "$urls" > "$run/origin.log" 2>&1 &
ehttp=()
for i in $(seq 1 "$edges"); do
    ehttp+=("$(port)")
    "$bin/tickd" serve "${common[@]}" --http "127.0.0.1:${ehttp[-1]}" \
        --shm-dir "$run/e$i/shm" --data-dir "$run/e$i/data" --follow "$urls" > "$run/edge$i.log" 2>&1 &
done

first=""; acked_at=""; head=0; first_acked=0
deadline=$(( $(date +%s) + 300 ))
while [ "$(date +%s)" -lt "$deadline" ]; do
    if state=$(health "$ohttp" | field 'd["head_seq"], d["cluster"]["acked_seq"], d["feeds"]["replay"]["state"]' 2>/dev/null); then
        read -r h a s <<<"$(tr -d '(),' <<<"$state" | tr -d "'")"
        if [ -z "$first" ] && [ "$a" -gt 0 ]; then first=$(date +%s.%N); first_acked=$a; fi
        if [ -z "$acked_at" ] && [ "$s" = finished ] && [ "$h" = "$a" ]; then
            acked_at=$(date +%s.%N); head=$h
            printf 'origin: %d records acknowledged %.2f s after start (first acknowledgement at %.2f s)\n' \
                "$head" "$(bc <<<"$acked_at - $t0")" "$(bc <<<"$first - $t0")"
        fi
    fi
    if [ -n "$acked_at" ]; then
        all=1
        for p in "${ehttp[@]}"; do
            e=$(health "$p" | field 'd["head_seq"]' 2>/dev/null || echo 0)
            [ "$e" -ge "$head" ] || all=0
        done
        if [ "$all" = 1 ]; then
            end=$(date +%s.%N)
            printf 'edges (%d): all at %d %.2f s after start\n' "$edges" "$head" "$(bc <<<"$end - $t0")"
            printf 'origin -> edges: %.0f records/s from the first acknowledgement\n' \
                "$(bc -l <<<"($head - $first_acked) / ($end - $first)")"
            grep -o 'elapsed [0-9.]* s' "$run/origin.log" | head -1 | sed 's/^/origin replay /'
            exit 0
        fi
    fi
    sleep 0.05
done
echo "timed out; logs in $run" >&2
trap - EXIT
exit 1
