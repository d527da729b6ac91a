#!/usr/bin/env bash
# The interoperability suite: a stock Python gRPC client (grpcio, with stubs generated
# from proto/ at test time) against running `nianbao serve` processes.
#
#   1. a venv in target/interop-venv with tests/interop/requirements.txt (pinned)
#   2. cargo build --release --locked (into $CARGO_TARGET_DIR when set, else target/)
#   3. three servers on free loopback ports, each with a fresh data dir:
#        main   default limits
#        small  --max-request-bytes 65536 (the oversize tests)
#        slow   --request-timeout-secs 1 (the server's own deadline)
#   4. wait until grpc.health.v1 says SERVING, run pytest, stop the servers (always).
#   5. the same over mutual TLS: `nianbao pki init` makes a CA and client certificates,
#      run.sh writes an access policy, three more servers start with --tls-cert,
#      --tls-key, --client-ca and --policy, and pytest runs again (every test, plus
#      test_mtls.py) with a client certificate on every channel.
#
# Exits non-zero when anything fails. Needs python3 (3.11+) with venv and pip, cargo,
# and the package registries. Server logs: target/interop-logs/.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$(pwd)

VENV=target/interop-venv
LOGS=target/interop-logs
SMALL_LIMIT=65536
PY_MIN="3.9"

# The servers read NIANBAO_* from the environment: leave none of the caller's behind
# (NIANBAO_INTEROP_CORPUS, where the tests find the corpus, is the suite's own).
while read -r var; do unset "$var"; done < <(compgen -e | grep '^NIANBAO_' | grep -v '^NIANBAO_INTEROP_CORPUS$' || true)

say() { printf '\n--> %s\n' "$*"; }

# ------------------------------------------------------------------ venv

python=${PYTHON:-python3}
"$python" - <<EOF
import sys
if sys.version_info < tuple(int(x) for x in "$PY_MIN".split(".")):
    sys.exit(f"run.sh: python {sys.version.split()[0]} is too old; $PY_MIN or later is needed")
EOF

make_venv() {
  rm -rf "$VENV"
  "$python" -m venv "$VENV"
}

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
  say "venv $VENV"
  if ! make_venv; then
    # Debian ships ensurepip separately (python3.X-venv).
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      pyver=$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
      echo "run.sh: python3 -m venv failed; installing Debian's venv support"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "python${pyver}-venv" >/dev/null \
        || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      make_venv
    else
      echo "run.sh: cannot create a venv (python3 -m venv failed)" >&2
      exit 1
    fi
  fi
fi
PY="$ROOT/$VENV/bin/python"
say "pip install -r tests/interop/requirements.txt"
"$PY" -m pip install --quiet --disable-pip-version-check -r tests/interop/requirements.txt
"$PY" -m pip --disable-pip-version-check check

# ------------------------------------------------------------------ server

say "cargo build --release --locked"
cargo build --release --locked
# Where cargo put it: $CARGO_TARGET_DIR (relative to the repository when relative).
TARGET_DIR=${CARGO_TARGET_DIR:-target}
case $TARGET_DIR in
  /*) ;;
  *) TARGET_DIR="$ROOT/$TARGET_DIR" ;;
esac
BIN="$TARGET_DIR/release/nianbao"

mkdir -p "$LOGS"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/nianbao-interop.XXXXXX")
PIDS=()

cleanup() {
  local status=$?
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "run.sh: server $pid did not stop on SIGTERM within 10 s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
  if [ "$status" -ne 0 ]; then
    for log in "$LOGS"/*.log; do
      [ -f "$log" ] || continue
      echo "---- last lines of $log" >&2
      tail -n 20 "$log" >&2 || true
    done
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Waits until the server at $1 reports SERVING for "", the registry and the validator.
wait_serving() {
  "$PY" - "$1" <<'EOF'
import os, sys, time
import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

addr = sys.argv[1]
services = ["", "nianbao.v1.ReportRegistry", "nianbao.v1.ReportValidator"]
deadline = time.monotonic() + 60
last = None
tls = os.environ.get("NIANBAO_INTEROP_TLS_DIR")
if tls:
    read = lambda name: open(os.path.join(tls, name), "rb").read()
    who = os.environ["NIANBAO_INTEROP_IDENTITY"]
    creds = grpc.ssl_channel_credentials(read("ca.pem"), read(f"clients/{who}.key"), read(f"clients/{who}.pem"))
    channel = grpc.secure_channel(addr, creds)
else:
    channel = grpc.insecure_channel(addr)
with channel as ch:
    stub = health_pb2_grpc.HealthStub(ch)
    while time.monotonic() < deadline:
        try:
            got = [stub.Check(health_pb2.HealthCheckRequest(service=s), timeout=2).status for s in services]
            if all(g == health_pb2.HealthCheckResponse.SERVING for g in got):
                sys.exit(0)
            last = got
        except grpc.RpcError as e:
            last = e.code()
        time.sleep(0.2)
sys.exit(f"{addr} is not SERVING after 60 s (last: {last})")
EOF
}

# start NAME FLAGS...: starts a server on a free port and sets ADDR_<NAME> (retries
# on another port when it does not come up: a free port can be taken in between).
start() {
  local name=$1
  shift
  local attempt port addr pid
  for attempt in 1 2 3; do
    port=$(free_port)
    addr="127.0.0.1:$port"
    mkdir -p "$WORK/$name"
    "$BIN" serve --addr "$addr" --data-dir "$WORK/$name/data" --color never "$@" \
      >"$LOGS/$name.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    if wait_serving "$addr"; then
      if kill -0 "$pid" 2>/dev/null; then
        printf -v "ADDR_${name}" '%s' "$addr"
        echo "server $name: pid $pid on $addr ($*)"
        return 0
      fi
    fi
    echo "run.sh: server $name did not come up on $addr (attempt $attempt)" >&2
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unset 'PIDS[-1]'
    rm -rf "$WORK/$name"
  done
  return 1
}

export NIANBAO_INTEROP_SMALL_LIMIT=$SMALL_LIMIT
export NIANBAO_INTEROP_GEN="$ROOT/target/interop-gen"
export PYTHONDONTWRITEBYTECODE=1

# run_pass LABEL PYTEST-ARGS...: pytest against ADDR_main/small/slow; sets rc on failure.
rc=0
run_pass() {
  local label=$1 got
  shift
  export NIANBAO_INTEROP_ADDR=$ADDR_main
  export NIANBAO_INTEROP_SMALL_ADDR=$ADDR_small
  export NIANBAO_INTEROP_SLOW_ADDR=$ADDR_slow
  say "pytest tests/interop ($label)"
  set +e
  timeout 1200 "$PY" -m pytest -c tests/interop/pytest.ini tests/interop "$@"
  got=$?
  set -e
  case $got in
    0) ;;
    5) echo "run.sh: pytest collected no tests ($label)" >&2 ;;
    124) echo "run.sh: the interop tests took longer than 20 minutes ($label)" >&2 ;;
  esac
  [ "$got" -eq 0 ] || rc=$got
}

say "start the servers (plaintext)"
start main
start small --max-request-bytes "$SMALL_LIMIT"
start slow --request-timeout-secs 1
run_pass plaintext --ignore=tests/interop/test_mtls.py "$@"

# ------------------------------------------------------------------ mutual TLS

PKI="$WORK/pki"
"$BIN" pki init "$PKI" --server-name localhost \
  --client interop --client reader-js --client stranger >"$LOGS/pki.log"
# The suite's identity may do everything; reader-js reads Jiangsu (32) only;
# "stranger" holds a good certificate but is not in the policy.
cat >"$PKI/interop-policy.toml" <<'POLICY'
[[caller]]
identity = "interop"
roles = ["admin"]
read_scopes = [""]
write_scopes = [""]

[[caller]]
identity = "reader-js"
roles = ["reader"]
read_scopes = ["32"]
POLICY
export NIANBAO_INTEROP_TLS_DIR=$PKI
export NIANBAO_INTEROP_IDENTITY=interop
TLS_FLAGS=(--tls-cert "$PKI/server.pem" --tls-key "$PKI/server.key"
  --client-ca "$PKI/ca.pem" --policy "$PKI/interop-policy.toml")
say "start the servers (mutual TLS)"
start main_tls "${TLS_FLAGS[@]}"
start small_tls "${TLS_FLAGS[@]}" --max-request-bytes "$SMALL_LIMIT"
start slow_tls "${TLS_FLAGS[@]}" --request-timeout-secs 1
ADDR_main=$ADDR_main_tls
ADDR_small=$ADDR_small_tls
ADDR_slow=$ADDR_slow_tls
run_pass "mutual TLS" "$@"

# The servers must have survived every test.
for pid in "${PIDS[@]}"; do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "run.sh: a server (pid $pid) exited during the tests" >&2
    [ "$rc" -ne 0 ] || rc=1
  fi
done
exit "$rc"
