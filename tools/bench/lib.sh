# tools/bench/lib.sh — shell helpers the offline benchmarks share
# (ingest_bench.sh, darknet_bench.sh): their common options, the build lookup,
# number checks, CPU pinning, the scratch folder, the generated capture, rates
# and the closing verdict.  Sourced, never run; runs in the benchmark's shell.
#
# The sourcing script sets BENCH (its name in messages) first and COUNT's
# default after.  Sourcing sets ROOT (the source tree) and the defaults of the
# common options: BUILD ($BSC_BUILD_DIR, else build/release), CPU 1, KEEP 0.
# shellcheck shell=bash disable=SC2034 # the variables set here are the caller's

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BSC_BUILD_DIR:-$ROOT/build/release}
CPU=1
KEEP=0

# usage: the benchmark's opening comment (from line 2 to the first line that
# is not a comment), without the "# ".
usage() { sed -n '2,/^[^#]/ { /^#/ s/^# \{0,1\}//p }' "$0"; }

# bench_common_arg ARGS...: take the option in $1 that every benchmark has
# (-b BUILD_DIR, -n COUNT, -c CPU, --keep, -h/--help); sets BENCH_SHIFT to the
# words it used.  Anything else is an unknown argument: usage, exit 2.
bench_common_arg() {
	case $1 in
	-b) BUILD=$2; BENCH_SHIFT=2 ;;
	-n) COUNT=$2; BENCH_SHIFT=2 ;;
	-c) CPU=$2; BENCH_SHIFT=2 ;;
	--keep) KEEP=1; BENCH_SHIFT=1 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "$BENCH: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
	esac
}

# bench_find_build: set CLI and GEN to the backscope CLI and backscope-gen in
# BUILD; exit 2 when either is missing.
bench_find_build() {
	local b
	CLI=$BUILD/tools/backscope
	GEN=$BUILD/tools/gen/backscope-gen
	for b in "$CLI" "$GEN"; do
		[ -x "$b" ] || {
			echo "$BENCH: $b not found: build first (-b BUILD_DIR)" >&2
			exit 2
		}
	done
}

# bench_want_number NAME VALUE: exit 2 unless VALUE is a whole number.
bench_want_number() {
	case $2 in '' | *[!0-9]*) echo "$BENCH: $1 wants a number" >&2; exit 2 ;; esac
}

# bench_need_tool VAR TOOL: when VAR is 1 and TOOL is not installed, say so
# and set VAR to 0.
bench_need_tool() {
	if [ "${!1}" = 1 ] && ! command -v "$2" >/dev/null 2>&1; then
		echo "$BENCH: $2 not installed: its rate is not measured"
		printf -v "$1" '%s' 0
	fi
}

# bench_pin: set the array PIN to the command prefix that pins to CPU
# (taskset), or to nothing when that cannot be done.
bench_pin() {
	PIN=()
	if command -v taskset >/dev/null 2>&1 && taskset -c "$CPU" true 2>/dev/null; then
		PIN=(taskset -c "$CPU")
	else
		echo "$BENCH: cannot pin to CPU $CPU: running unpinned"
	fi
}

# bench_tmpdir: set T to a new temporary folder, removed at exit unless KEEP
# is 1.
bench_tmpdir() {
	T=$(mktemp -d "${TMPDIR:-/tmp}/${BENCH%.sh}.XXXXXX") || exit 1
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}

bench_cleanup() { [ "$KEEP" = 1 ] && echo "kept $T" || rm -rf "$T"; }

# bench_gen FILE ARGS...: write FILE with backscope-gen ARGS (exit 1 when it
# fails); set SIZE to its size and report it with the CPUs and the pinning.
bench_gen() {
	local file=$1
	shift
	echo "== backscope-gen $*"
	if ! "$GEN" "$@" -o "$file" 2>&1; then
		echo "$BENCH: backscope-gen failed" >&2
		exit 1
	fi
	SIZE=$(stat -c %s "$file")
	echo "capture: $SIZE bytes; $(nproc) CPUs, pinned to: ${PIN[*]:-none}"
}

# bench_run_failed NAME RC ERRFILE: report that run NAME exited RC with the
# end of its stderr, and exit 1.
bench_run_failed() {
	echo "$BENCH: $1 failed (exit $2):" >&2
	tail -5 "$3" >&2
	exit 1
}

# bench_cpu USER SYSTEM: the CPU seconds, to two decimals.
bench_cpu() { awk -v u="$1" -v s="$2" 'BEGIN { printf "%.2f", u + s }'; }

# rate N SECONDS: N per second, rounded (0 when SECONDS is 0).
rate() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.0f", (t > 0) ? (n / t) : 0 }'; }

# bench_verdict FAIL WHAT: the closing line on the targets WHAT.
bench_verdict() {
	if [ "$1" = 0 ]; then
		echo "targets: $2: met"
	else
		echo "targets: $2: not met in this run"
		echo "   (a busy machine slows the wall clock: compare the CPU seconds)"
	fi
}
