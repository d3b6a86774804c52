#!/bin/sh
# t066-files-more: deleted files that are mapped (shared with an fd,
# private, alone, the executable itself), and the refusal of one over the
# ghost-limit.

. "$(dirname "$0")/lib.sh"

# Mapped deleted files come back from their ghost, shared with the fd.
testDeletedMapped() {
	mkdir -p "$T/d"
	e2e_roundtrip delmap "$T/d" maps
	assertEquals "nothing is left in $T/d" "" "$(ls -A "$T/d")"
}

# A process whose executable was deleted.
testDeletedExecutable() {
	mkdir -p "$T/d"
	e2e_roundtrip delmap "$T/d" exe
	assertEquals "nothing is left in $T/d" "" "$(ls -A "$T/d")"
}

# A mapped deleted file with more data than --ghost-limit: refused by name.
testDeletedMappedOverLimit() {
	e2e_need_amber || return 0
	mkdir -p "$T/d"
	e2e_start_wl delmap "$T/d" big || return 0
	pid=$E2E_PID
	e2e_amber_fails "pid $pid maps the deleted file '$T/d/big.bin': its 2097152 bytes of data" dump -t "$pid" -D "$T/img"
	assertTrue "the tree still runs after the refused dump" "e2e_alive $pid"
}

. /usr/share/shunit2/shunit2
