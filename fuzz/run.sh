#!/bin/sh
# run.sh BIN...: run each libFuzzer target for FUZZ_SECONDS (default 60)
# from its committed seeds (fuzz/corpus/NAME, read only) and a scratch
# corpus (build/fuzz/corpus/NAME, where new inputs go), then print one line
# per target: executions, executions per second, coverage. A crash leaves
# its input as build/fuzz/crash-NAME-* and fails the run.
set -u
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-60}
status=0
summary=
for bin in "$@"; do
    name=$(basename "$bin")
    work=build/fuzz/corpus/$name
    mkdir -p "$work"
    log=build/fuzz/$name.log
    # -close_fd_mask=2: the parsers' own complaints on stderr (libFuzzer
    # and the sanitizers still report on a copy of it). The model targets
    # print nothing but the reason of a failed check: keep theirs.
    case $name in net_addr|env) mask=2 ;; *) mask=0 ;; esac
    if "$bin" -max_total_time="$secs" -print_final_stats=1 -close_fd_mask=$mask \
        -artifact_prefix="build/fuzz/crash-$name-" "$work" "fuzz/corpus/$name" \
        >"$log" 2>&1; then
        res=ok
    else
        res=FAILED
        status=1
        tail -40 "$log"
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    summary="$summary
fuzz: $name $res: ${execs:-?} execs in ${secs}s, ${rate:-?}/s, $cov"
done
echo "$summary"
exit $status
