#!/bin/sh
# Runs each fuzz target for a bounded time with its seed corpus and its
# regression inputs; fails if any target crashes, leaks, times out or
# breaks a property.  Needs the clang build:
#   CC=clang meson setup build-fuzz -Dfuzzing=true -Dwolfssl=system \
#       -Db_sanitize=address,undefined -Db_lundef=false
#   ninja -C build-fuzz
# Usage: test/fuzz/run.sh [SECONDS] [TARGET...]
#   SECONDS  per target (default 10); TARGET  default: all of them.
#   FUZZ_BUILD  the build directory (default: build-fuzz at the top).
#   FUZZ_OUT    where new inputs and crashes go (default: a temporary
#               directory, kept only when something failed).
# The committed corpus is never written to: new inputs land in FUZZ_OUT.
# Crashes are saved there as <target>-crash-*; see README.md for turning
# one into a regression input.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
seconds=${1:-10}
[ $# -gt 0 ] && shift
build=${FUZZ_BUILD:-$top/build-fuzz}
all="reply ehlo iobuf message address escape socks5 dane dns anchor zonekeys
sigcheck"
targets=${*:-$all}
out=${FUZZ_OUT:-$(mktemp -d /tmp/mxc-fuzz.XXXXXX)}
mkdir -p "$out"

# Sanitizer reports must stop the run (UBSan only warns by default).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

# Longest input: the EHLO and reply targets need more than 4 KiB to reach
# the reply text limit; the DANE one carries certificates.
max_len() {
	case $1 in
	ehlo) echo 16384 ;;
	reply|dane) echo 8192 ;;
	*) echo 4096 ;;
	esac
}

failed=""
printf '%-8s %6s %8s %10s %s\n' target status cpu_s execs result
for t in $targets; do
	exe=$build/test/fuzz/fuzz-$t
	if [ ! -x "$exe" ]; then
		echo "run.sh: $exe missing (build with -Dfuzzing=true)" >&2
		exit 2
	fi
	work=$out/$t
	mkdir -p "$work"
	dirs="$work $here/corpus/$t"
	[ -d "$here/regress/$t" ] && dirs="$dirs $here/regress/$t"
	log=$out/$t.log
	start=$(awk '{print $14 + $15 + $16 + $17}' /proc/$$/stat)
	# shellcheck disable=SC2086  # dirs is a list
	"$exe" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
	    -max_len="$(max_len "$t")" -print_final_stats=1 \
	    -artifact_prefix="$out/$t-" $dirs >"$log" 2>&1
	rc=$?
	end=$(awk '{print $14 + $15 + $16 + $17}' /proc/$$/stat)
	hz=$(getconf CLK_TCK)
	cpu=$(awk -v a="$start" -v b="$end" -v hz="$hz" \
	    'BEGIN { printf "%.1f", (b - a) / hz }')
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	if [ "$rc" -eq 0 ]; then
		result=clean
	else
		result="FAILED (see $log)"
		failed="$failed $t"
	fi
	printf '%-8s %6s %8s %10s %s\n' "$t" "$rc" "$cpu" "${execs:-?}" \
	    "$result"
done

if [ -n "$failed" ]; then
	echo "run.sh: failed:$failed; inputs and logs kept in $out" >&2
	ls "$out" | grep -- '-crash-\|-leak-\|-timeout-\|-oom-' >&2
	exit 1
fi
[ -z "${FUZZ_OUT:-}" ] && rm -rf "$out"
exit 0
