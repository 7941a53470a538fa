#!/usr/bin/env bash
# Prints every fuzz target in the tree as PKG:NAME (./bundle:FuzzVerify),
# one a line, sorted: the list `make fuzz` runs. It is read from the
# `func FuzzXxx(` declarations in test files, so a new fuzz test is run
# without being listed by hand. Directories go test ignores (testdata,
# and names starting with . or _) are skipped.
set -euo pipefail
cd "${1:-.}"
find . \( -name testdata -o -name 'vendor' -o -name '.?*' -o -name '_*' \) -prune -o \
	-name '*_test.go' -type f -print |
	xargs grep -HoE '^func Fuzz[A-Za-z0-9_]*\(' |
	sed -E 's|^(.*)/[^/]*:func (Fuzz[A-Za-z0-9_]*)\($|\1:\2|' |
	LC_ALL=C sort -u
