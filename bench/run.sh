#!/usr/bin/env bash
# bench/run.sh: run every workload on gort and on Go, alternating, and print
# a side-by-side table of medians with the targets. `make bench` runs it as
# `B=build/default ./bench/run.sh` after building $B/bench/bench_*,
# $B/tools/echo-load and $B/examples/*.
#
# usage: bench/run.sh [-p "1 2"] [-r RUNS] [-d SECS] [-c "100 1000 8000"] [BENCH...]
#   -p  processor counts (GORT_MAXPROCS / GOMAXPROCS)  (env PROCS, default "1 2")
#   -r  runs of each (bench, procs, impl)               (env RUNS, default 3)
#   -d  seconds per echo/http load run                  (env SECS, default 3)
#   -c  echo connection counts                          (env CONNS, default "100 1000 8000")
#   BENCH: spawn park skynet pingpong yield chanmpmc select mutex atomic
#          threadring sleep fib echo http yieldmany alive schedlat hog
#          spawnburst httpcpu kvhttp kvhttpwrap (default: all, or env BENCH)
# Env: QUICK=1 (1 run, 1 s loads, echo at 100 and 1000, park only n=100000,
#      alive only n=10000 and 100000),
#      ECHO_PORT (9000), HTTP_PORT (8080), BENCH_TIMEOUT (s per run, 300),
#      PARK_BIG_RUNS (how many of the runs include park -n 1000000; 1),
#      ALIVE_BIG_RUNS (the same for alive -n 1000000; 1),
#      ALIVE_BIG_IMPLS (which impls run alive -n 1000000: "gort"; Go takes
#      6+ minutes a run there, so add "go" by hand: ALIVE_BIG_IMPLS="gort go"),
#      ALIVE_TIMEOUT (s per alive run at n <= 100000; 120),
#      ALIVE_BIG_TIMEOUT (s per alive run at n = 1000000; 1200; an impl whose
#      alive run timed out skips the larger sizes at that P),
#      HTTPCPU_WORK_US (compute per request in the httpcpu row; 200),
#      KV_POOL (Redis connections each kvhttp server keeps; 64),
#      STRICT=1 (exit 1 when a target is missed, not only when a run fails),
#      TRACE=DIR (each gort run writes an event trace, DIR/BENCH-pP-nN-K.json,
#      for tools/trace-summary.py, tools/trace-svg.py or ui.perfetto.dev;
#      its timings then include tracing: pick one workload, few runs),
#      TABLE_FROM="FILE..." (no runs: the table of those raw result files).
# Go is used when `go` is installed (bench/go is built into $B/bench-go);
# otherwise twins already in $B/bench-go are used (they are static: build
# them here, carry them to another machine), else only gort runs and the Go
# column is empty. http, httpcpu and the kvhttp rows need wrk; the kvhttp
# rows also redis-server and redis-cli: a private server on a Unix socket
# in a temporary directory, started before the first such run, seeded
# with the keys bench/kvhttp.lua reads, and stopped at the end. kvhttp
# runs docs/examples/kvhttp.c through libgort-hook ($B/examples/kvhttp-hook),
# kvhttpwrap the same code with GORT_SYSCALL and no hooks; Go's twin is
# bench/go/kvhttp in both rows. hog runs gort with
# GORT_DEBUG=asyncpreempt=1 added (its workers never call the runtime).
# Output: progress on stderr; raw result lines in $B/bench/results-*.txt
# (also copied to $B/bench/results.txt); the table on stdout and in
# $B/bench/table.txt; SVG charts of the medians (tools/plot-bench.py, when
# gnuplot is installed) in $B/bench/bench-ratio.svg and bench-scaling.svg.
# Exit 1 if any run failed its check, crashed or hung.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
B=${B:-build/default}
QUICK=${QUICK:-0}
if [[ $QUICK == 1 ]]; then
  RUNS=${RUNS:-1} SECS=${SECS:-1} CONNS=${CONNS:-"100 1000"}
fi
PROCS=${PROCS:-"1 2"} RUNS=${RUNS:-3} SECS=${SECS:-3} CONNS=${CONNS:-"100 1000 8000"}
while getopts p:r:d:c:h opt; do
  case $opt in
    p) PROCS=$OPTARG ;; r) RUNS=$OPTARG ;; d) SECS=$OPTARG ;; c) CONNS=$OPTARG ;;
    *) sed -n '2,/^set /p' "$0" | sed '$d' >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
ALL="spawn park skynet pingpong yield chanmpmc select mutex atomic threadring sleep fib echo http
     yieldmany alive schedlat hog spawnburst httpcpu kvhttp kvhttpwrap"
BENCHES=${*:-${BENCH:-$ALL}}
ECHO_PORT=${ECHO_PORT:-9000} HTTP_PORT=${HTTP_PORT:-8080}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-300} PARK_BIG_RUNS=${PARK_BIG_RUNS:-1}
ALIVE_BIG_RUNS=${ALIVE_BIG_RUNS:-1} ALIVE_TIMEOUT=${ALIVE_TIMEOUT:-120}
ALIVE_BIG_IMPLS=${ALIVE_BIG_IMPLS:-gort}
ALIVE_BIG_TIMEOUT=${ALIVE_BIG_TIMEOUT:-1200} HTTPCPU_WORK_US=${HTTPCPU_WORK_US:-200}
KV_POOL=${KV_POOL:-64}
CLK_TCK=$(getconf CLK_TCK)
OUT=$B/bench
GOBIN=$B/bench-go
[[ $GOBIN == /* ]] || GOBIN=$ROOT/$GOBIN # go build runs in bench/go
mkdir -p "$OUT" "$GOBIN"
STAMP=$(date +%Y%m%d-%H%M%S)
RESULTS=$OUT/results-$STAMP.txt
FAILS=$OUT/failures-$STAMP.txt
: >"$RESULTS"; : >"$FAILS"
FAILED=0 TRACE_SEQ=0
T_START=$(date +%s)

log() { echo "run.sh: $*" >&2; }

# ---- Go side --------------------------------------------------------------
IMPLS="gort go"
if ! command -v go >/dev/null 2>&1; then
  if [[ -x $GOBIN/skynet ]]; then
    # Twins built elsewhere and carried here (Go binaries are static).
    log "note: go is not installed; using the Go twins already in $GOBIN"
  else
    log "note: go is not installed; running gort only (apt-get install golang-go for the Go column)"
    IMPLS="gort"
  fi
else
  [[ -w ${HOME:-/nonexistent} ]] || export GOCACHE=$ROOT/build/go-cache GOPATH=$ROOT/build/go-path
  log "building the Go twins into $GOBIN"
  if ! (cd bench/go && GOPROXY=off GOFLAGS=-mod=mod go build -o "$GOBIN/" ./...) >&2; then
    log "note: building bench/go failed; running gort only"
    IMPLS="gort"
  fi
fi

# bin IMPL NAME: the program for one workload or server.
bin() {
  case $1:$2 in
    gort:echo | gort:http) echo "$B/examples/$2" ;;
    *:httpcpu) bin "$1" http ;;
    gort:kvhttp) echo "$B/examples/kvhttp-hook" ;;
    gort:kvhttpwrap) echo "$B/examples/kvhttp" ;;
    go:kvhttpwrap) echo "$GOBIN/kvhttp" ;;
    gort:hog) echo "$B/bench/bench_schedlat" ;; # schedlat -hog=1
    go:hog) echo "$GOBIN/schedlat" ;;
    gort:*) echo "$B/bench/bench_$2" ;;
    go:*) echo "$GOBIN/$2" ;;
  esac
}
# procs_env IMPL P: the environment variable that sets the processor count.
procs_env() { [[ $1 == gort ]] && echo "GORT_MAXPROCS=$2" || echo "GOMAXPROCS=$2"; }

# fail IMPL BENCH PROCS SIZE WHY: record a failed run.
fail() {
  log "FAIL $1 $2 procs=$3 ${4:+size=$4}: $5"
  echo "$2 $1 $3 ${4:--}" >>"$FAILS"
  FAILED=1
}

# run_prog IMPL BENCH PROCS [ARGS...]: run one workload once, keep its line.
# Env: RUN_TIMEOUT (seconds; default BENCH_TIMEOUT), GORT_ENV (one more
# NAME=VALUE for gort's run only). Sets LAST_RC (124: timed out).
run_prog() {
  local impl=$1 b=$2 p=$3 exe out err rc size t0 tmo=${RUN_TIMEOUT:-$BENCH_TIMEOUT} extra=()
  shift 3
  exe=$(bin "$impl" "$b")
  size=$(sed -n 's/.*-n \([0-9]*\).*/\1/p' <<<"$*")
  LAST_RC=0
  if [[ ! -x $exe ]]; then fail "$impl" "$b" "$p" "$size" "$exe is missing (not built)"; LAST_RC=127; return; fi
  [[ $impl == gort && -n ${GORT_ENV:-} ]] && extra=("$GORT_ENV")
  [[ $impl == gort && -n ${TRACE:-} ]] && mkdir -p "$TRACE" &&
    extra+=("GORT_TRACE=$TRACE/$b-p$p${size:+-n$size}-$((++TRACE_SEQ)).json")
  out=$(mktemp) err=$(mktemp) t0=$SECONDS
  env "$(procs_env "$impl" "$p")" ${extra[@]+"${extra[@]}"} timeout -k 5 "$tmo" "$exe" "$@" >"$out" 2>"$err"
  rc=$?
  ((rc == 137 && SECONDS - t0 >= tmo)) && rc=124 # timed out, KILLed after the TERM
  LAST_RC=$rc
  if ((rc != 0)); then
    if ((rc == 124)); then
      fail "$impl" "$b" "$p" "$size" "timed out after ${tmo}s"
    else
      fail "$impl" "$b" "$p" "$size" "exit $rc: $(tail -c 300 "$err" | tr '\n' ' ')"
    fi
  elif ! grep -q '^bench=' "$out"; then
    fail "$impl" "$b" "$p" "$size" "no result line"
  else
    grep '^bench=' "$out" | tee -a "$RESULTS" >&2
  fi
  rm -f "$out" "$err"
}

# ---- servers --------------------------------------------------------------
SERVER_PID= SERVER_LOG= REDIS_PID= REDIS_DIR=
cleanup() {
  [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null
  rm -f "$OUT"/server.$$.log
  stop_redis
}
trap cleanup EXIT

# start_server IMPL NAME PORT PROCS [ARGS...]: start it, wait until it says
# "listening".
start_server() {
  local exe
  exe=$(bin "$1" "$2")
  [[ -x $exe ]] || { log "$exe is missing (not built)"; return 1; }
  SERVER_LOG=$OUT/server.$$.log
  env "$(procs_env "$1" "$4")" "$exe" -port "$3" "${@:5}" >"$SERVER_LOG" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 100); do
    grep -q listening "$SERVER_LOG" && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.05
  done
  log "$exe did not start listening:"; cat "$SERVER_LOG" >&2
  stop_server; return 1
}
# server_cpu: the server's user+sys CPU so far, in clock ticks.
server_cpu() {
  [[ -r /proc/$SERVER_PID/stat ]] || { echo 0; return; }
  sed 's/.*) //' "/proc/$SERVER_PID/stat" | awk '{print $12 + $13}'
}
# stop_server: set HWM (VmHWM, KiB) and stop the server.
stop_server() {
  HWM=$(awk '/^VmHWM:/ {print $2}' "/proc/$SERVER_PID/status" 2>/dev/null)
  HWM=${HWM:-0}
  kill "$SERVER_PID" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.05; done
  kill -9 "$SERVER_PID" 2>/dev/null
  wait "$SERVER_PID" 2>/dev/null
  SERVER_PID=
}

run_echo() { # IMPL PROCS
  local impl=$1 p=$2 c line cpu0 cpu1 rc
  for c in $CONNS; do
    start_server "$impl" echo "$ECHO_PORT" "$p" || { fail "$impl" echo "$p" "$c" "server did not start"; continue; }
    cpu0=$(server_cpu)
    line=$(timeout -k 5 $((SECS + 120)) "$B/tools/echo-load" -p "$ECHO_PORT" -c "$c" -d "$SECS")
    rc=$?
    cpu1=$(server_cpu)
    kill -0 "$SERVER_PID" 2>/dev/null || { rc=99; log "the $impl echo server died: $(tail -c 300 "$SERVER_LOG")"; }
    stop_server
    if ((rc != 0)) || [[ $line != bench=echo* ]]; then
      fail "$impl" echo "$p" "$c" "echo-load exit $rc: $line"; continue
    fi
    line=$(awk -v impl="$impl" -v p="$p" -v hwm="$HWM" -v ticks=$((cpu1 - cpu0)) -v hz="$CLK_TCK" '{
        for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        ms = ticks * 1000 / hz; m = v["msgs"] + v["drained"]
        sub(/^bench=echo /, "bench=echo impl=" impl " procs=" p " ")
        printf "%s server_hwm_kb=%d server_cpu_ms=%.0f cpu_us_per_msg=%.3f\n", $0, hwm, ms, m ? ms * 1000 / m : 0
      }' <<<"$line")
    echo "$line" | tee -a "$RESULTS" >&2
  done
}

# wrk_result NAME IMPL PROCS WRK-OUTPUT CPU-TICKS: turn wrk --latency's
# report into a result line (errors: socket errors and non-2xx answers);
# a run with errors or no requests fails.
wrk_result() {
  local name=$1 impl=$2 p=$3 out=$4 ticks=$5 line
  line=$(awk -v name="$name" -v impl="$impl" -v procs="$p" -v hwm="$HWM" -v ticks="$ticks" -v hz="$CLK_TCK" '
    function us(v) { if (v ~ /us$/) return v + 0; if (v ~ /ms$/) return v * 1000; if (v ~ /s$/) return v * 1e6; return v }
    /^ +Latency +[0-9]/ { avg = us($2) }
    /^ +50% / { p50 = us($2) } /^ +90% / { p90 = us($2) } /^ +99% / { p99 = us($2) }
    / requests in / { reqs = $1 }
    /Socket errors:/ { gsub(/,/, ""); err += $4 + $6 + $8 + $10 }
    /Non-2xx or 3xx/ { err += $NF }
    /^Requests\/sec:/ { rps = $2 }
    END { ms = ticks * 1000 / hz
          printf "bench=%s impl=%s procs=%d conns=100 threads=2 requests=%d reqs_per_s=%.0f lat_avg_us=%.0f p50_us=%.0f p90_us=%.0f p99_us=%.0f errors=%d server_hwm_kb=%d server_cpu_ms=%.0f cpu_us_per_req=%.3f\n",
          name, impl, procs, reqs, rps, avg, p50, p90, p99, err, hwm, ms, reqs ? ms * 1000 / reqs : 0 }' <<<"$out")
  if [[ $line != *" errors=0 "* || $line == *" requests=0 "* ]]; then
    fail "$impl" "$name" "$p" 100 "wrk reported errors: $line"
  else
    echo "$line" | tee -a "$RESULTS" >&2
  fi
}

# run_http IMPL PROCS [NAME [SERVER-ARGS...]]: NAME (http) is the row; the
# server is the http example (or Go twin) started with SERVER-ARGS.
run_http() {
  local impl=$1 p=$2 name=${3:-http} resp out cpu0 cpu1
  if ! command -v wrk >/dev/null 2>&1; then log "note: wrk is not installed; skipping $name"; return; fi
  start_server "$impl" http "$HTTP_PORT" "$p" "${@:4}" || { fail "$impl" "$name" "$p" 100 "server did not start"; return; }
  resp=$(curl -s -i --max-time 5 -H 'Connection: close' "http://127.0.0.1:$HTTP_PORT/" | tr -d '\r')
  if [[ $resp != "HTTP/1.1 200 OK"*"Hello, World!" || $resp != *"Content-Length: 13"* ]]; then
    log "bad http response from $impl: $resp"; FAILED=1
  fi
  cpu0=$(server_cpu)
  out=$(wrk -t2 -c100 -d"${SECS}s" --latency "http://127.0.0.1:$HTTP_PORT/" 2>&1)
  cpu1=$(server_cpu)
  stop_server
  wrk_result "$name" "$impl" "$p" "$out" $((cpu1 - cpu0))
}

# start_redis: the kvhttp rows' private redis-server (Unix socket only, no
# persistence), once per session, with keys key0..key99 and ctr0..ctr99.
start_redis() {
  [[ -n $REDIS_PID ]] && kill -0 "$REDIS_PID" 2>/dev/null && return 0
  command -v redis-server >/dev/null 2>&1 || { log "note: redis-server is not installed"; return 1; }
  REDIS_DIR=$(mktemp -d /tmp/gort-bench-redis-XXXXXX)
  redis-server --port 0 --unixsocket "$REDIS_DIR/redis.sock" --dir "$REDIS_DIR" \
    --save '' --appendonly no --maxclients 4000 >"$REDIS_DIR/server.log" 2>&1 &
  REDIS_PID=$!
  for _ in $(seq 100); do
    redis-cli -s "$REDIS_DIR/redis.sock" ping 2>/dev/null | grep -q PONG && break
    sleep 0.05
  done
  if ! for i in $(seq 0 99); do echo "SET key$i value-$i"; echo "SET ctr$i 0"; done |
      redis-cli -s "$REDIS_DIR/redis.sock" >/dev/null 2>&1; then
    log "redis-server did not start: $(tail -c 300 "$REDIS_DIR/server.log")"; stop_redis; return 1
  fi
}
stop_redis() {
  [[ -n $REDIS_PID ]] && { kill "$REDIS_PID" 2>/dev/null; wait "$REDIS_PID" 2>/dev/null; }
  [[ -n $REDIS_DIR ]] && rm -rf "$REDIS_DIR"
  REDIS_PID= REDIS_DIR=
}

# run_kvhttp IMPL PROCS NAME: the key-value service under wrk with
# bench/kvhttp.lua's mix (8 GET, 1 PUT, 1 INCR in 10), 100 connections.
run_kvhttp() {
  local impl=$1 p=$2 name=$3 resp out cpu0 cpu1
  if ! command -v wrk >/dev/null 2>&1; then log "note: wrk is not installed; skipping $name"; return; fi
  start_redis || { fail "$impl" "$name" "$p" 100 "redis-server did not start"; return; }
  start_server "$impl" "$name" "$HTTP_PORT" "$p" -redis "$REDIS_DIR/redis.sock" -pool "$KV_POOL" ||
    { fail "$impl" "$name" "$p" 100 "server did not start"; return; }
  resp=$(curl -s --max-time 5 "http://127.0.0.1:$HTTP_PORT/k/key1")
  [[ $resp == value-1 || $resp == vvvv* ]] || { log "bad kvhttp response from $impl: $resp"; FAILED=1; }
  cpu0=$(server_cpu)
  out=$(wrk -t2 -c100 -d"${SECS}s" --latency -s bench/kvhttp.lua "http://127.0.0.1:$HTTP_PORT" 2>&1)
  cpu1=$(server_cpu)
  kill -0 "$SERVER_PID" 2>/dev/null || log "the $impl $name server died: $(tail -c 2000 "$SERVER_LOG")"
  stop_server
  wrk_result "$name" "$impl" "$p" "$out" $((cpu1 - cpu0))
}

# run_bench IMPL BENCH PROCS: one run of one workload at one processor count.
run_bench() {
  case $2 in
    park)
      run_prog "$1" park "$3" -n 100000
      # The 1M-goroutine park takes ~10-90 s a run: only the first
      # PARK_BIG_RUNS runs include it, to keep `make bench` near 15 min.
      ((QUICK != 1 && r <= PARK_BIG_RUNS)) && run_prog "$1" park "$3" -n 1000000 ;;
    echo) run_echo "$1" "$3" ;;
    http) run_http "$1" "$3" ;;
    httpcpu) run_http "$1" "$3" httpcpu -work-us "$HTTPCPU_WORK_US" ;;
    kvhttp | kvhttpwrap) run_kvhttp "$1" "$3" "$2" ;;
    yieldmany)
      run_prog "$1" yieldmany "$3" -n 1000
      run_prog "$1" yieldmany "$3" -n 100000 ;;
    alive)
      # Go takes 6+ minutes at n=1000000 (each Gosched goes through the
      # global queue): only the first ALIVE_BIG_RUNS runs include it, with
      # its own timeout; after a timeout the larger sizes are skipped.
      local s big=1000000 tmo skip=
      local bigs=
      ((QUICK != 1 && r <= ALIVE_BIG_RUNS)) && [[ " $ALIVE_BIG_IMPLS " == *" $1 "* ]] && bigs=$big
      for s in 10000 100000 $bigs; do
        if [[ -n $skip ]]; then fail "$1" alive "$3" "$s" "skipped: n=$skip timed out"; continue; fi
        tmo=$ALIVE_TIMEOUT; ((s == big)) && tmo=$ALIVE_BIG_TIMEOUT
        RUN_TIMEOUT=$tmo run_prog "$1" alive "$3" -n "$s"
        ((LAST_RC == 124)) && skip=$s
      done ;;
    hog) GORT_ENV="GORT_DEBUG=${GORT_DEBUG:+$GORT_DEBUG,}asyncpreempt=1" run_prog "$1" hog "$3" -hog=1 ;;
    *) run_prog "$1" "$2" "$3" ;;
  esac
}

# ---- the runs: for each run, bench and procs, both impls back to back;
# odd runs start with gort, even runs with Go, so neither always goes first.
# TABLE_FROM="results-A.txt results-B.txt" skips the runs and tables the
# medians over those sessions' raw lines together.
NRUNS=$RUNS SESSION="median of $RUNS run(s)"
if [[ -n ${TABLE_FROM:-} ]]; then
  # shellcheck disable=SC2086
  cat $TABLE_FROM >"$RESULTS" || exit 2
  NRUNS=0 BENCHES="" SESSION="median of every run in $TABLE_FROM"
fi
[[ " $BENCHES " == *" echo "* && ! -x $B/tools/echo-load ]] &&
  log "note: $B/tools/echo-load is missing (make B=$B benchbins)"
for ((r = 1; r <= NRUNS; r++)); do
  order=$IMPLS
  ((r % 2 == 0)) && order=$(tr ' ' '\n' <<<"$IMPLS" | tac | tr '\n' ' ')
  for b in $BENCHES; do
    for p in $PROCS; do
      for impl in $order; do
        log "run $r/$RUNS $b procs=$p $impl"
        run_bench "$impl" "$b" "$p"
      done
    done
  done
done
cp "$RESULTS" "$OUT/results.txt"
cp "$FAILS" "$OUT/failures.txt"

# ---- the table ------------------------------------------------------------
MEDIANS=$(for k in ns_per_op bytes_per_g overhead_ms msgs_per_s p99_us server_hwm_kb cpu_us_per_msg reqs_per_s cpu_us_per_req \
  p50_us max_us wall_ms spawner_late_us capped; do
  bench/median.sh -k "$k" "$RESULTS"
done)
TABLE=$OUT/table.txt
{
  echo "gort vs Go: $SESSION, $(date '+%Y-%m-%d %H:%M'), $(nproc) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(go version 2>/dev/null | awk '{print $3}')"
  echo "ratio = gort/go; targets: <= for time, latency and memory, >= for throughput; abs = absolute bound on gort's value"
  awk -v fails="$FAILS" '
    BEGIN { while ((getline l < fails) > 0) { split(l, f, " "); failed[f[1] "|" f[3] "|" f[4]] = 1 } }
    # Which metrics each bench reports in the table, and their targets.
    function metrics(b) {
      if (b == "park") return "ns_per_op bytes_per_g"
      if (b == "sleep") return "ns_per_op overhead_ms"
      if (b == "echo") return "msgs_per_s p99_us server_hwm_kb cpu_us_per_msg"
      if (b == "http") return "reqs_per_s p99_us cpu_us_per_req"
      if (b == "httpcpu") return "reqs_per_s p99_us cpu_us_per_req"
      if (b ~ /^kvhttp/) return "reqs_per_s p99_us cpu_us_per_req"
      if (b == "alive") return "wall_ms ns_per_op"
      if (b == "schedlat" || b == "hog") return "p50_us p99_us max_us"
      if (b == "spawnburst") return "p99_us max_us wall_ms spawner_late_us"
      return "ns_per_op"
    }
    # target sets T_KIND ("le" ratio <=, "ge" ratio >=, "abs" gort <=, "" none) and T_VAL.
    function target(b, p, m, c) {
      T_KIND = "le"; T_VAL = ""
      if (m == "ns_per_op") {
        if (b == "spawn") T_VAL = (p == 1 ? 0.15 : 0.5)
        else if (b == "yield" || b == "skynet" || b == "threadring") T_VAL = 0.25
        else if (b == "pingpong" || b == "fib") T_VAL = 0.3
        else if (b == "chanmpmc") T_VAL = 0.6
        else if (b == "select") T_VAL = 0.5
        else if (b == "mutex") T_VAL = (p == 1 ? 1.0 : 0.8)
        else if (b == "atomic") T_VAL = 1.0
        else if (b == "yieldmany") T_VAL = 0.5
      } else if (m == "bytes_per_g") { T_KIND = "abs"; T_VAL = 4403 }   # 4.3 KiB
      else if (m == "overhead_ms") T_VAL = 0.5
      else if (m == "msgs_per_s") { T_KIND = "ge"; T_VAL = 1.3 }
      else if (m == "p99_us" && (b == "echo" || b == "schedlat" || b == "spawnburst" || b == "httpcpu" || b ~ /^kvhttp/)) T_VAL = 1.0
      else if (m == "max_us" && b == "schedlat") T_VAL = 1.0
      else if (m == "max_us" && b == "hog") T_VAL = 2.0
      else if (m == "wall_ms" && (b == "alive" || b == "spawnburst")) T_VAL = 1.0
      else if (m == "server_hwm_kb" && c == 8000) T_VAL = 1.0
      else if (m == "reqs_per_s") { T_KIND = "ge"; T_VAL = (b == "httpcpu" ? 1.0 : (b ~ /^kvhttp/ ? 1.3 : 1.5)) }
      if (T_VAL == "") T_KIND = ""
    }
    function fmt(v) { if (v == "") return "-"; return (v >= 1000 || v <= -1000) ? sprintf("%.0f", v) : sprintf("%.2f", v) }
    {
      # bench impl procs n conns metric median min max runs
      g = $1 "|" $3 "|" ($4 == "-" ? $5 : $4)
      if (!(g in seen)) { seen[g] = 1; rows[++nr] = g; size[g] = ($4 == "-" ? "c=" $5 : "n=" $4); cs[g] = $5 }
      med[g, $2, $6] = $7
    }
    END {
      printf "%-10s %2s %-10s %-15s %12s %12s %8s %9s %s\n", "bench", "P", "size", "metric", "gort", "go", "ratio", "target", "verdict"
      met = 0; miss = 0
      for (i = 1; i <= nr; i++) {
        g = rows[i]; split(g, k, "|")
        nm = split(metrics(k[1]), ms, " ")
        for (j = 1; j <= nm; j++) {
          m = ms[j]; a = med[g, "gort", m]; o = med[g, "go", m]
          if (a == "" && o == "") continue
          target(k[1], k[2], m, cs[g])
          ratio = (a != "" && o != "" && o + 0 != 0) ? a / o : ""
          tgt = T_KIND == "" ? "-" : (T_KIND == "abs" ? "abs<=" T_VAL : (T_KIND == "ge" ? ">=" : "<=") T_VAL)
          v = "-"
          if ((g in failed) || ((k[1] "|" k[2] "|-") in failed)) v = "RUN-FAIL"
          else if (T_KIND == "abs" && a != "") v = (a <= T_VAL) ? "pass" : "miss"
          else if (T_KIND != "" && ratio != "") v = ((T_KIND == "ge") ? ratio >= T_VAL : ratio <= T_VAL) ? "pass" : "miss"
          else if (T_KIND != "") v = "n/a"
          # spawnburst: a burst that ended after the workers stopped at their
          # cap (capped=1) ran (partly) without the load it is about.
          if (k[1] == "spawnburst" && (v == "pass" || v == "miss") && (med[g, "gort", "capped"] > 0 || med[g, "go", "capped"] > 0)) v = "unloaded"
          if (v == "pass") met++; else if (v == "miss") miss++
          printf "%-10s %2s %-10s %-15s %12s %12s %8s %9s %s\n", k[1], k[2], size[g], m, fmt(a), fmt(o), ratio == "" ? "-" : sprintf("%.3f", ratio), tgt, v
        }
      }
      printf "targets met: %d, missed: %d\n", met, miss
    }' <<<"$MEDIANS"
  if [[ -s $FAILS ]]; then
    echo "failed runs (bench impl procs size):"; sort "$FAILS" | uniq -c | sed 's/^/  /'
  fi
  echo "raw results: $RESULTS ($(($(date +%s) - T_START)) s)"
} | tee "$TABLE"

if command -v gnuplot >/dev/null 2>&1; then
  python3 tools/plot-bench.py -o "$OUT" "$RESULTS" >&2 || log "warning: charts failed"
else
  log "note: no gnuplot (tools/deps.sh bench installs it): no charts"
fi

if [[ ${STRICT:-0} == 1 ]] && grep -q ' miss$' "$TABLE"; then FAILED=1; fi
exit $FAILED
