#!/usr/bin/env bash
# make mutate: mutation testing of the code whose invariants matter most,
# with gremlins (github.com/go-gremlins/gremlins). Usage:
#
#   mutate.sh GREMLINS DIR:FILES[:TESTS] ...
#
# For each entry, gremlins mutates FILES (comma-separated, in package DIR;
# subpackages left alone) one change at a time: a comparison's boundary
# (< for <=), a condition negated, an arithmetic operator swapped, an
# increment reversed, a sign dropped. It runs DIR's tests against each
# mutant (only the tests matching TESTS, a go test -run pattern, when
# given: for a package whose whole suite takes minutes). A mutant the
# tests fail on is KILLED; one they pass on LIVED: it changed the code and
# no test noticed. NOT COVERED mutants are in code no selected test runs;
# TIMED OUT ones made the tests hang (usually a loop bound: killed).
#
# The LIVED and NOT COVERED lines are printed, then each entry's counts.
# A survivor is either a missing test (write it: see that it fails on the
# mutant) or a change that makes no difference (an equivalent mutant, such
# as a boundary where both sides give the same result); say which in the
# commit that accepts it. The run works on a copy of the tracked files,
# bounded by MUTATE_TIMEOUT per entry (default 30m), and does not fail on
# survivors: it is a tool to run before an invariant is called done, not a
# gate.
set -euo pipefail

gremlins=$(realpath "$1")
shift
timeout=${MUTATE_TIMEOUT:-30m}
src=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# gremlins copies the whole module for its workers: give it the tracked
# files (and changes not yet committed) only, not out/ or bin/.
git ls-files -z --cached --others --exclude-standard | xargs -0 -I{} sh -c 'test -f "{}" && printf "%s\0" "{}"' |
	tar --null -T - -cf - | tar -xf - -C "$work"

status=0
for entry in "$@"; do
	IFS=: read -r dir files tests <<<"$entry"
	excl=(-E /)
	for f in "$src/$dir"/*.go; do
		b=$(basename "$f")
		[[ $b == *_test.go ]] && continue
		case ",$files," in *",$b,"*) ;; *) excl+=(-E "^${b//./\\.}\$") ;; esac
	done
	echo "mutate $dir: $files${tests:+ (tests: $tests)}"
	log=$work/mutate.log
	(
		cd "$work"
		GOFLAGS="-tags=ferrycrash${tests:+ -run=$tests}" timeout "$timeout" "$gremlins" unleash --workers 1 \
			--timeout-coefficient 3 "${excl[@]}" "./$dir"
	) >"$log" 2>&1 || { echo "  gremlins failed or ran out of time ($timeout):"; status=1; }
	grep -E '^ *(LIVED|NOT COVERED|TIMED OUT)' "$log" | sed "s|^ *|  |; s| at | at $dir/|" || true
	grep -E '^(Killed|Mutator coverage|Test efficacy)' "$log" | sed 's/^/  /' || tail -20 "$log"
done
exit $status
