#!/usr/bin/env bash
# A real single-member etcd (v3.4, Debian's etcd-server) on 127.0.0.1, for the cluster's
# system tests and for trying `weir coordinator --ha etcd://...` by hand.
#
#   scripts/etcd.sh start DIR [PORT]   start etcd with its data in DIR/data (kept across
#                                      restarts), pid in DIR/etcd.pid, log in DIR/etcd.log;
#                                      wait until healthy; print the client endpoint HOST:PORT
#                                      (PORT: a free one when not given; the peer port is free)
#   scripts/etcd.sh stop DIR           stop it (SIGTERM, SIGKILL after 10 s)
#
# WEIR_ETCD_BINARY overrides /usr/bin/etcd.
set -euo pipefail

usage() { echo "usage: etcd.sh start DIR [PORT] | stop DIR" >&2; exit 2; }
cmd="${1:-}"
dir="${2:-}"
[ -n "$cmd" ] && [ -n "$dir" ] || usage
etcd="${WEIR_ETCD_BINARY:-/usr/bin/etcd}"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

running() { [ -f "$dir/etcd.pid" ] && kill -0 "$(cat "$dir/etcd.pid")" 2>/dev/null; }

case "$cmd" in
  start)
    [ -x "$etcd" ] || { echo "etcd.sh: $etcd not found (apt-get install etcd-server, or scripts/install-deps.sh)" >&2; exit 1; }
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    if running; then
      echo "etcd.sh: an etcd started with $dir is running (pid $(cat "$dir/etcd.pid")); stop it first" >&2
      exit 1
    fi
    port="${3:-$(free_port)}"
    peer="$(free_port)"
    [ "$peer" != "$port" ] || peer="$(free_port)"
    client_url="http://127.0.0.1:$port"
    peer_url="http://127.0.0.1:$peer"
    # A plain background process (not a daemon): its pid is the one in etcd.pid.
    nohup "$etcd" --name weir --data-dir "$dir/data" \
      --listen-client-urls "$client_url" --advertise-client-urls "$client_url" \
      --listen-peer-urls "$peer_url" --initial-advertise-peer-urls "$peer_url" \
      --initial-cluster "weir=$peer_url" --logger zap --log-level warn \
      </dev/null >>"$dir/etcd.log" 2>&1 &
    echo $! >"$dir/etcd.pid"
    for _ in $(seq 1 300); do
      if ! running; then
        echo "etcd.sh: etcd exited while starting; the end of $dir/etcd.log:" >&2
        tail -20 "$dir/etcd.log" >&2
        exit 1
      fi
      if curl -fsS -m 1 "$client_url/health" 2>/dev/null | grep -q '"health":"true"'; then
        echo "127.0.0.1:$port"
        exit 0
      fi
      sleep 0.1
    done
    echo "etcd.sh: etcd did not become healthy within 30 s; the end of $dir/etcd.log:" >&2
    tail -20 "$dir/etcd.log" >&2
    kill -KILL "$(cat "$dir/etcd.pid")" 2>/dev/null || true
    exit 1
    ;;
  stop)
    if ! running; then
      rm -f "$dir/etcd.pid"
      exit 0
    fi
    pid="$(cat "$dir/etcd.pid")"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || { rm -f "$dir/etcd.pid"; exit 0; }
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$dir/etcd.pid"
    ;;
  *) usage ;;
esac
