#!/bin/sh
# t011-layering: the source tree's floors (doc/design.md, "Layers"): lib/
# depends on nothing of amber's, images/ on lib/ only, ipc/ on lib/ and
# images/, and the stages and the driver on all three but never on each
# other. Checked on the #include lines, so a new dependency that breaks
# the order fails here, naming the file and the include.
# Run: sh tests/e2e/t011-layering.sh

. "$(dirname "$0")/lib.sh"

# Prints "FILE: INCLUDE" for every amber include in $1/*.[ch] that is not
# under one of the allowed prefixes $2...
bad_includes() {
	_dir=$1
	shift
	for _f in "$E2E_SRC/$_dir"/*.[ch] "$E2E_SRC/$_dir"/*/*.[ch]; do
		[ -f "$_f" ] || continue
		sed -n 's/^#include "\([^"]*\)".*/\1/p' "$_f" | while read -r _inc; do
			_ok=
			for _p in "$@"; do
				case "$_inc" in "$_p"/*) _ok=1 ;; esac
			done
			# A file's own folder (a stage's private headers).
			case "$_inc" in "${_f#$E2E_SRC/}") _ok=1 ;; esac
			[ "$(dirname "$_inc")" = "$(dirname "${_f#$E2E_SRC/}")" ] && _ok=1
			[ -n "$_ok" ] || echo "${_f#$E2E_SRC/}: $_inc"
		done
	done
}

testLibDependsOnNothingOfAmbers() {
	assertEquals "lib/ includes only lib/" "" "$(bad_includes lib lib)"
}

testImagesDependOnLibOnly() {
	# images/NAME.pb-c.h are generated from images/*.proto.
	assertEquals "images/ includes only lib/ and images/" "" "$(bad_includes images lib images)"
}

testIpcDependsOnLibAndImages() {
	assertEquals "ipc/ includes only lib/, images/ and ipc/" "" "$(bad_includes ipc lib images ipc)"
}

testStagesDoNotIncludeEachOther() {
	assertEquals "a stage includes lib/, images/, ipc/ and its own folder only" "" \
		"$(bad_includes stages lib images ipc)"
}

testDriverIncludesNoStage() {
	assertEquals "the driver includes lib/, images/, ipc/ and driver/ only" "" \
		"$(bad_includes driver lib images ipc driver)"
}

. /usr/share/shunit2/shunit2
