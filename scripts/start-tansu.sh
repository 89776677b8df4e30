#!/usr/bin/env bash
# Starts a Tansu broker in the background on 127.0.0.1:PORT, waits until it
# accepts connections, and prints its pid (stop it with `kill PID`).
#
# Usage: scripts/start-tansu.sh PORT [LOG] [STORAGE]
#   LOG      broker output, default /tmp/tansu-PORT.log
#   STORAGE  Tansu storage engine URL, default memory://tansu/ (two brokers
#            sharing data use e.g. sqlite://run/tansu.db)
# The binary is $TANSU, else `tansu` on PATH, else ~/.cargo/bin/tansu.
# Exit status: 0 started, 2 not started (the log's tail is printed).
set -euo pipefail

port=${1:?usage: scripts/start-tansu.sh PORT [LOG] [STORAGE]}
log=${2:-/tmp/tansu-$port.log}
storage=${3:-memory://tansu/}
tansu=${TANSU:-$(command -v tansu || echo "$HOME/.cargo/bin/tansu")}

if [[ ! -x $tansu ]]; then
    echo "tansu not found; install it with:" >&2
    echo "  cargo install tansu --version 0.6.0 --locked --features dynostore,libsql" >&2
    exit 2
fi
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "port $port is already in use" >&2
    exit 2
fi

url="tcp://127.0.0.1:$port"
"$tansu" broker \
    --listener-url "$url" \
    --advertised-listener-url "$url" \
    --storage-engine "$storage" \
    >"$log" 2>&1 &
pid=$!

for _ in $(seq 1 150); do
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "tansu exited before accepting connections; end of $log:" >&2
        tail -n 20 "$log" >&2
        exit 2
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "$pid"
        exit 0
    fi
    sleep 0.1
done
echo "tansu did not accept connections on 127.0.0.1:$port within 15 s; end of $log:" >&2
tail -n 20 "$log" >&2
kill "$pid" 2>/dev/null || true
exit 2
