#!/usr/bin/env bash
# Two Tansu brokers sharing one SQLite storage file, for the chaos-tansu
# scenario (docs/chaos.md): clients list both in their bootstrap and fail
# over to the survivor when one dies.
#
# Usage:
#   scripts/tansu-pair.sh start DIR [PORT_A PORT_B]   start a, then b; prints the bootstrap list
#   scripts/tansu-pair.sh kill9 DIR a|b               kill -9 one broker (waits until it is gone)
#   scripts/tansu-pair.sh restart DIR a|b             start it again on its port, same storage
#   scripts/tansu-pair.sh stop DIR                    stop both
#
# DIR holds the storage (DIR/tansu.db), the logs (a.log, b.log, and
# a.restart.log after a restart), the pids
# (a.pid, b.pid), the ports (a.port, b.port) and DIR/bootstrap. Default
# ports 29192 and 29193 (the scenario's bootstrap). Only 127.0.0.1 is used.
# Exit status: 0 done, 2 failed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cmd=${1:?usage: scripts/tansu-pair.sh start|kill9|restart|stop DIR ...}
dir=${2:?usage: scripts/tansu-pair.sh $cmd DIR ...}

start_one() { # NAME PORT LOG
    local name=$1 port=$2 log=$3
    # The storage URL is relative to the broker's working directory.
    (cd "$dir" && "$here/start-tansu.sh" "$port" "$log" sqlite://tansu.db) >"$dir/$name.pid"
    echo "$port" >"$dir/$name.port"
}

case $cmd in
start)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    port_a=${3:-29192}
    port_b=${4:-29193}
    start_one a "$port_a" "$dir/a.log"
    start_one b "$port_b" "$dir/b.log"
    echo "127.0.0.1:$port_a,127.0.0.1:$port_b" | tee "$dir/bootstrap"
    ;;
kill9)
    name=${3:?which broker: a or b}
    pid=$(cat "$dir/$name.pid")
    kill -9 "$pid"
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || exit 0
        sleep 0.1
    done
    echo "broker $name (pid $pid) still alive after kill -9" >&2
    exit 2
    ;;
restart)
    name=${3:?which broker: a or b}
    dir=$(cd "$dir" && pwd)
    start_one "$name" "$(cat "$dir/$name.port")" "$dir/$name.restart.log"
    ;;
stop)
    for name in a b; do
        [[ -f $dir/$name.pid ]] && kill "$(cat "$dir/$name.pid")" 2>/dev/null || true
    done
    ;;
*)
    echo "unknown command $cmd" >&2
    exit 2
    ;;
esac
