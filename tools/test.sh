#!/bin/bash
# tools/test.sh — the whole test suite, as CI runs it (.ci/run calls this):
# installs the dependencies, then configures, builds and runs every test
# (unit, fuzz-replay, integration) in two builds from CMakePresets.json:
#   ci-release  gcc, -O2, -Werror
#   ci-asan     clang, ASan + UBSan, -Werror
# Prints a summary; exits non-zero on any failure.
#
#   tools/test.sh [--no-deps] [PRESET...]     (default presets: ci-release ci-asan)
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
DEPS=1
PRESETS=()
for arg in "$@"; do
	case $arg in
	--no-deps) DEPS=0 ;;
	-h | --help) sed -n '2,9p' "$0"; exit 0 ;;
	-*) echo "test.sh: unknown option $arg" >&2; exit 2 ;;
	*) PRESETS+=("$arg") ;;
	esac
done
[ ${#PRESETS[@]} -gt 0 ] || PRESETS=(ci-release ci-asan)
JOBS=$(nproc 2>/dev/null || echo 2)

start_all=$(date +%s)
if [ "$DEPS" = 1 ]; then
	echo "=== dependencies"
	"$ROOT/tools/install-deps.sh" || { echo "test.sh: installing dependencies failed" >&2; exit 1; }
fi

declare -A RESULT TIME COUNTS
failed=0
for p in "${PRESETS[@]}"; do
	t0=$(date +%s)
	log="$ROOT/build/$p.log"
	mkdir -p "$ROOT/build"
	echo "=== $p: configure"
	if ! cmake --preset "$p" >"$log" 2>&1; then
		cat "$log"
		RESULT[$p]="configure failed"
	else
		echo "=== $p: build"
		if ! cmake --build --preset "$p" -j"$JOBS" >>"$log" 2>&1; then
			grep -E -B2 -A8 'error|Error' "$log" | head -n 80
			RESULT[$p]="build failed (log: build/$p.log)"
		else
			echo "=== $p: test"
			ctest --preset "$p" -j"$JOBS" 2>&1 | tee "$ROOT/build/$p.ctest.log"
			rc=${PIPESTATUS[0]}
			COUNTS[$p]=$(grep -Eo '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' \
				"$ROOT/build/$p.ctest.log" | tail -n 1)
			if [ "$rc" = 0 ] && grep -q 'tests passed' "$ROOT/build/$p.ctest.log"; then
				RESULT[$p]="ok"
			else
				RESULT[$p]="tests failed"
			fi
		fi
	fi
	[ "${RESULT[$p]}" = ok ] || failed=1
	TIME[$p]=$(($(date +%s) - t0))
done

echo
echo "=== summary"
for p in "${PRESETS[@]}"; do
	printf '  %-11s %-40s %s  (%ds)\n' "$p" "${RESULT[$p]}" "${COUNTS[$p]:-}" "${TIME[$p]}"
done
echo "  total time: $(($(date +%s) - start_all))s"
if [ "$failed" = 0 ]; then
	echo "ALL BUILDS PASSED"
else
	echo "SOME BUILDS FAILED"
fi
exit "$failed"
