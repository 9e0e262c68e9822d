#!/usr/bin/env bash
# What the load test's baselines and drivers need, from Debian apt: wrk (REST), nats-server
# and redis-server (TCP fan-out). Run as root, or with sudo.
set -euo pipefail
missing=()
for program in wrk nats-server redis-server; do
    command -v "$program" >/dev/null || [ -x "/usr/sbin/$program" ] || missing+=("$program")
done
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The apt packages enable system services; the load test starts its own servers.
for service in nats-server redis-server; do
    if command -v systemctl >/dev/null && systemctl is-active --quiet "$service" 2>/dev/null; then
        systemctl stop "$service" || true
    fi
done
echo "load test tools: $(command -v wrk) $(command -v nats-server || echo /usr/sbin/nats-server) $(command -v redis-server)"
