#!/bin/bash
# The benchmark of "Over mutual TLS, with authorisation and audit" (BENCHMARKS.md).
# Run from the repository root after `cargo build --release --workspace`; see BENCHMARKS.md
# for the setup (seeded store copies, pki init, the policy). Environment: OLD (required),
# BENCH_DIR, NEW, ROUNDS ("1 2 3"), WARM (1: 20 s of GetReport per server first),
# REUSE (1: servers already running, pids in $BENCH_DIR/pids), KEEP (1: leave them running).
set -u
B=${BENCH_DIR:-/tmp/nb-bench}   # stores store-{old,open,policy,tls}, pki/, policy.toml
NEW=${NEW:-target/release}
OLD=${OLD:?the nianbao binary of commit 0889362, before the authorisation layer}
PKI=$B/pki
R=$B/results; mkdir -p $R

if [ "${REUSE:-0}" = 1 ]; then
  read P_OLD P_OPEN P_POL P_TLS P_ECHO < $B/pids
else
$OLD serve --addr 127.0.0.1:50151 --data-dir $B/store-old --cache-mb 4096 2> $B/old.log &
P_OLD=$!
$NEW/nianbao serve --addr 127.0.0.1:50152 --data-dir $B/store-open --cache-mb 4096 2> $B/open.log &
P_OPEN=$!
$NEW/nianbao serve --addr 127.0.0.1:50153 --data-dir $B/store-policy --cache-mb 4096 \
  --policy $B/policy.toml 2> $B/policy.log &
P_POL=$!
$NEW/nianbao serve --addr 127.0.0.1:50154 --data-dir $B/store-tls --cache-mb 4096 \
  --policy $B/policy.toml --tls-cert $PKI/server.pem --tls-key $PKI/server.key \
  --client-ca $PKI/ca.pem 2> $B/tls.log &
P_TLS=$!
$NEW/nianbao-load echo-server --addr 127.0.0.1:50162 \
  --tls-cert $PKI/server.pem --tls-key $PKI/server.key --client-ca $PKI/ca.pem &
P_ECHO=$!
echo "pids old=$P_OLD open=$P_OPEN policy=$P_POL tls=$P_TLS echo-tls=$P_ECHO"
echo "$P_OLD $P_OPEN $P_POL $P_TLS $P_ECHO" > $B/pids
fi
sleep 5
TLS="--tls-ca $PKI/ca.pem --tls-cert $PKI/clients/bench.pem --tls-key $PKI/clients/bench.key"
REPLY=${REPLY_BYTES:-9080}   # an echo message of 9,083 bytes, as GetReport's

ticks() { for f in /proc/[0-9]*/stat; do sed 's/.*) //' "$f" 2>/dev/null | awk -v p="${f//[^0-9]/}" '{print p, $12 + $13}'; done; }
quiet() {
  while :; do
    ticks > /tmp/nb-ticks.a; sleep 3; ticks > /tmp/nb-ticks.b
    used=$(awk 'NR == FNR {a[$1] = $2; next} ($1 in a) {t += $2 - a[$1]} END {print t + 0}' /tmp/nb-ticks.a /tmp/nb-ticks.b)
    [ "$used" -lt 30 ] && return
    echo "  (busy: $used ticks in 3 s; waiting)"
  done
}
forks() { awk '$1 == "processes" {print $2}' /proc/stat; }
# kept A B F0 F1 SECONDS SERVER...: the processes other than the load generator and
# the servers used < 10 % of a core during the run (per-process ticks A -> B) and at
# most 4 processes were started (the client and its pipe). (The new server does not
# keep both cores busy, so the >= 1.85-cores check of BENCHMARKS.md cannot be used.)
kept() {
  a=$1; b=$2; f0=$3; f1=$4; secs=$5; shift 5
  others=$(awk -v skip=" $* " 'NR == FNR {a[$1] = $2; next} ($1 in a) && index(skip, " " $1 " ") == 0 {t += $2 - a[$1]} END {print t + 0}' $a $b)
  echo "  others: $others ticks in ${secs} s, $((f1 - f0)) processes started" | tee -a $R/lines.txt
  [ "$others" -lt $((secs * 10)) ] && [ $((f1 - f0)) -le 6 ]
}
# run NAME ROUND ARGS...: quiet, run, repeat (up to 3 times) when disturbed.
run() {
  name=$1; round=$2; shift 2
  for attempt in 1 2 3 4; do
    quiet
    ticks > /tmp/nb-run.a; f0=$(forks); t0=$SECONDS
    $NEW/nianbao-load run --scenario get -c 64 --duration 10 --warmup 3 \
      --label "$name-$round" --json $R/$name-$round.json "$@" 2>> $R/stderr.log | tee -a $R/lines.txt
    f1=$(forks); ticks > /tmp/nb-run.b
    if kept /tmp/nb-run.a /tmp/nb-run.b $f0 $f1 $((SECONDS - t0 + 1)) $P_OLD $P_OPEN $P_POL $P_TLS $P_ECHO $$; then return; fi
    echo "  $name-$round disturbed (attempt $attempt); repeating" | tee -a $R/lines.txt
    mv $R/$name-$round.json $R/$name-$round.disturbed-$attempt.json
  done
}
if [ "${WARM:-1}" = 1 ]; then
  # Fill the caches: GetReport over the whole store for 20 s each (not recorded).
  for a in "127.0.0.1:50151" "127.0.0.1:50152" "127.0.0.1:50153 --identity bench" "127.0.0.1:50154 $TLS"; do
    $NEW/nianbao-load run --addr $a --scenario get -c 64 --duration 20 --warmup 0 2>/dev/null | sed 's/^/warm: /'
  done
fi
for round in ${ROUNDS:-1 2 3}; do
  run old    $round --addr 127.0.0.1:50151 --server-pid $P_OLD
  run open   $round --addr 127.0.0.1:50152 --server-pid $P_OPEN
  run policy $round --addr 127.0.0.1:50153 --server-pid $P_POL --identity bench
  run tls    $round --addr 127.0.0.1:50154 --server-pid $P_TLS $TLS \
    --baseline 127.0.0.1:50162 --baseline-pid $P_ECHO --echo-reply-bytes $REPLY
done
if [ "${KEEP:-0}" = 0 ]; then kill $P_OLD $P_OPEN $P_POL $P_TLS $P_ECHO; fi
