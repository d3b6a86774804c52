#!/bin/sh
# gen-stages.sh: build doc/stages.md from the manuals in the stage sources.
#
#	sh doc/gen-stages.sh > doc/stages.md	regenerate
#	sh doc/gen-stages.sh --check		exit 1, naming what drifted, if
#						doc/stages.md is not what this prints
#
# Each stage's manual is the top comment of stages/NAME/main.c (STYLE item 2).
# The pipelines section and the stage order come from the driver's stage
# tables (driver/pipeline.h), printed by a built 'amber stage --table' and
# 'amber stage --list' (AMBER=path overrides build/bin/amber); the other
# tables come from ipc/stage.h (common options), lib/exitcodes.h (exit codes)
# and ipc/fds.h (fd names), so the page changes when any of them does.
# Stages appear in pipeline order, then any other stage alphabetically.
# POSIX sh and awk only.

set -eu
LC_ALL=C
export LC_ALL

top=$(cd "$(dirname "$0")/.." && pwd)
AMBER=${AMBER:-$top/build/bin/amber}
if [ ! -x "$AMBER" ]; then
	echo "gen-stages.sh: $AMBER is not built; run make first (the pipelines come from its tables)" >&2
	exit 1
fi
PIPELINE=$("$AMBER" stage --list | tr '\n' ' ')

# The stage names in document order.
stage_list() {
	for s in $PIPELINE; do
		[ -f "$top/stages/$s/main.c" ] && echo "$s"
	done
	for f in "$top"/stages/*/main.c; do
		[ -f "$f" ] || continue
		s=$(basename "$(dirname "$f")")
		case " $PIPELINE " in
		*" $s "*) ;;
		*) echo "$s" ;;
		esac
	done
}

# The manual's headings, in the order every manual uses them (ipc/stage.h):
# each on its own line, its text indented by a tab (on the heading's line
# after a tab, or on the lines below). The first four are required.
HEADINGS="What it does|Inputs|Outputs|Exit status|Capabilities"
ORDER="What it does|Inputs|Options|Outputs|Named fds|Exit status|Side effects|Capabilities|By hand"

# Prints why stage $1's manual does not follow the heading scheme, if it
# does not: an unknown or misplaced heading, a missing required one, text
# outside every section.
manual_problems() {
	top_comment "$top/stages/$1/main.c" | awk -v stage="$1" -v order="$ORDER" -v req="$HEADINGS" '
	BEGIN { n = split(order, o, "|"); for (i = 1; i <= n; i++) rank[o[i]] = i; split(req, r, "|") }
	NR == 1 { next }
	/^[A-Z]/ {
		h = $0; sub(/\t.*$/, "", h)
		if (!(h in rank)) { printf "%s: unknown heading \"%s\" (headings: %s)\n", stage, h, order; bad = 1; next }
		if (rank[h] <= last) { printf "%s: heading \"%s\" out of order (order: %s)\n", stage, h, order; bad = 1 }
		last = rank[h]; seen[h] = 1; next
	}
	/^[^\t]/ && !last && started { printf "%s: text outside the sections: %s\n", stage, $0; bad = 1 }
	/^$/ { started = 1 }
	END { for (i in r) if (!(r[i] in seen)) printf "%s: no \"%s\" section\n", stage, r[i] }'
}

# Stage $1's section $2 as one line.
section_text() {
	top_comment "$top/stages/$1/main.c" | awk -v want="$2" '
	/^[A-Z]/ { h = $0; sub(/\t.*$/, "", h); on = h == want; t = $0; if (sub(/^[^\t]*\t/, "", t) && on) out = t; next }
	on && /^\t/ { t = $0; sub(/^\t+/, "", t); out = out (out == "" ? "" : " ") t }
	END { gsub(/\|/, "\\|", out); print out == "" ? "-" : out }'
}

# The reference table: each stage's named fds and capabilities, from its manual.
reference_rows() {
	for s in $(stage_list); do
		printf '| `%s` | %s | %s |\n' "$s" "$(section_text "$s" "Named fds")" "$(section_text "$s" Capabilities)"
	done
}

# The top comment of a C file without its markers.
top_comment() {
	awk '
	NR == 1 && !/^\/\*/ { exit 1 }
	{
		line = $0
		last = sub(/[ \t]*\*\/.*$/, "", line)
		if (NR == 1) sub(/^\/\* ?/, "", line)
		else sub(/^ \*( |$)?/, "", line)
		if (last) { if (line != "") print line; exit 0 }
		print line
	}' "$1" || { echo "gen-stages.sh: $1 does not start with a comment" >&2; exit 1; }
}

# Table rows of the exit codes: "| code | name | meaning |".
exit_rows() {
	awk '
	/^[ \t]*EXIT_[A-Z_]+[ \t]*=[ \t]*[0-9]+/ {
		name = $1; val = $0
		sub(/^[^=]*=[ \t]*/, "", val); sub(/[^0-9].*$/, "", val)
		what = $0
		if (sub(/^.*\/\*[ \t]*/, "", what)) sub(/[ \t]*\*\/.*$/, "", what); else what = ""
		gsub(/\|/, "\\|", what)
		printf "| %s | `%s` | %s |\n", val, name, what
	}' "$top/lib/exitcodes.h"
}

# Table rows of the fd names: "| name | default | what |", from each
# FD_NAME_X / FD_DEF_X pair and the comment above it.
fd_rows() {
	awk '
	/^\/\*/ && !seen_guard { next }
	/^#ifndef/ { seen_guard = 1; next }
	/^\/\*/ { c = $0; sub(/^\/\* ?/, "", c); incomment = 1 }
	incomment && !/^\/\*/ { t = $0; sub(/^ *\* ?/, "", t); c = c " " t }
	incomment && /\*\// { sub(/ *\*\/.*$/, "", c); incomment = 0; next }
	incomment { next }
	/^#define FD_NAME_/ {
		key = $2; sub(/^FD_NAME_/, "", key)
		name[key] = $3; gsub(/"/, "", name[key]); what[key] = c; order[++n] = key; c = ""
	}
	/^#define FD_DEF_/ { key = $2; sub(/^FD_DEF_/, "", key); def[key] = $3 }
	END {
		for (i = 1; i <= n; i++) {
			k = order[i]; w = what[k]; gsub(/\|/, "\\|", w)
			printf "| `%s` | %s | %s |\n", name[k], def[k], w
		}
	}' "$top/ipc/fds.h"
}

fd_range() {
	awk '/^#define FD_FIRST_PASSED/ { f = $3 } /^#define FD_LAST_PASSED/ { l = $3 }
	     END { printf "%s to %s", f, l }' "$top/ipc/fds.h"
}

# The common options block of ipc/stage.h's top comment.
common_options() {
	top_comment "$top/ipc/stage.h" | awk '
	/^Common options/ { on = 1; next }
	on && /^[ \t]*$/ { exit }
	on { sub(/^\t/, ""); print }'
}

intro() {
	cat <<EOF
<!-- Generated by doc/gen-stages.sh from stages/*/main.c and ipc/*.h: do not edit.
     Change the source comments and run: sh doc/gen-stages.sh > doc/stages.md -->
# amber stages

Every step of a dump or a restore is a separate executable,
\`libexec/amber/amber-NAME\`. The \`amber\` driver runs them in pipeline
order (see [protocol.md](protocol.md)); the section "Pipelines" below is
printed from the driver's tables (\`amber stage --table\`).

The driver starts each stage as

    amber-NAME -D IMAGES -v N --run-dir RUN [--fd NAME=N ...] [--progress] [ARGS] < RUN/NN-NAME.in

with stdin a recorded state stream (everything earlier stages produced),
stdout a pipe it tees into \`RUN/NN-NAME.out\`, and stderr a pipe of log
lines it files into \`RUN/NN-NAME.log\`. A stage's last stderr line on
failure is a one-sentence reason naming the pid, fd, file or record.
Each stage runs with umask 077. Run as root, it drops every capability
that its descriptor in \`main.c\` does not declare, from every set and from
the bounding set (restore-tasks keeps them all: its children become the
restored processes).

Any stage can be run by hand: \`amber stage NAME [ARGS]\` execs it with your
stdin and stdout, and \`amber stage NAME --replay RUN [ARGS]\` feeds it the
input the driver recorded. \`amber-NAME --help\` prints its options.

## Common options

Every stage takes these (from \`ipc/stage.h\`):

\`\`\`text
$(common_options)
\`\`\`

## Exit status

Shared by every stage and the driver (from \`lib/exitcodes.h\`). When a
stage fails with any code but 2, the driver prints the command that reruns
it alone (\`RUN/rerun-NAME.sh\`).

| code | name | meaning |
|---|---|---|
$(exit_rows)

## Inherited fds

Live objects are passed as inherited fds and named on the command line with
\`--fd NAME=N\`, so a hand run may use any number (from \`ipc/fds.h\`). The
numbers below are the driver's defaults; every fd it passes is in
$(fd_range), and all others are closed.

| name | driver's fd | what it is |
|---|---|---|
$(fd_rows)

## Pipelines

Each command's pipeline is one table in the driver (\`driver/dump.c\`,
\`driver/restore.c\`, \`driver/gc.c\`), walked by one runner
(\`driver/pipeline.c\`). A stage is waited for to its exit, to the end of
its stream, or runs beside the next ones. On a failure every stage still
running is stopped (a held one is told to resume the tree) and the
rollbacks run, last started first. A channel is a socketpair or pipe
between two stages, or between a stage and the driver;
\`amber stage NAME --replay RUN\` gives a replayed stage what the channel
table says in place of its missing peer.

$("$AMBER" stage --table)

## Reference

Each stage's named fds and the capabilities it keeps, from the sections
of the same names in its manual below. Every manual uses the headings
$(echo "$ORDER" | sed 's/|/, /g'), in that order.

| stage | named fds | capabilities kept |
|---|---|---|
$(reference_rows)
EOF
}

stage_section() {
	# shellcheck disable=SC2016 # the backquotes are Markdown
	printf '\n## amber-%s\n\nSource: `stages/%s/main.c`\n\n```text\n' "$1" "$1"
	top_comment "$top/stages/$1/main.c"
	printf '```\n'
}

generate() {
	intro
	for s in $(stage_list); do
		stage_section "$s"
	done
}

# Prints the part of a generated page that belongs to stage $2 ("" = intro).
section_of() {
	awk -v want="$2" '
	/^## amber-/ { cur = $2; sub(/^amber-/, "", cur) }
	cur == want { print }' "$1"
}

check() {
	doc="$top/doc/stages.md"
	probs=$(for s in $(stage_list); do manual_problems "$s"; done)
	if [ -n "$probs" ]; then
		printf 'gen-stages.sh: %s\n' "$probs" >&2
		exit 1
	fi
	tmp=$(mktemp)
	trap 'rm -f "$tmp"' EXIT
	generate > "$tmp"
	if [ ! -f "$doc" ]; then
		echo "gen-stages.sh: doc/stages.md is missing; run: sh doc/gen-stages.sh > doc/stages.md" >&2
		exit 1
	fi
	cmp -s "$tmp" "$doc" && exit 0
	bad=
	if [ "$(section_of "$tmp" "")" != "$(section_of "$doc" "")" ]; then
		echo "gen-stages.sh: the introduction drifted (ipc/stage.h, lib/exitcodes.h, ipc/fds.h or the script)" >&2
		bad=1
	fi
	documented=$(awk '/^## amber-/ { s = $2; sub(/^amber-/, "", s); print s }' "$doc")
	for s in $(stage_list); do
		if [ -z "$(section_of "$doc" "$s")" ]; then
			echo "gen-stages.sh: stage '$s' is missing from doc/stages.md" >&2
			bad=1
		elif [ "$(section_of "$tmp" "$s")" != "$(section_of "$doc" "$s")" ]; then
			echo "gen-stages.sh: stage '$s' drifted: stages/$s/main.c's top comment differs from doc/stages.md" >&2
			bad=1
		fi
	done
	for s in $documented; do
		[ -f "$top/stages/$s/main.c" ] ||
			{ echo "gen-stages.sh: doc/stages.md documents '$s', which has no stages/$s/main.c" >&2; bad=1; }
	done
	[ -n "$bad" ] || echo "gen-stages.sh: doc/stages.md differs from what it would generate (stage order?)" >&2
	echo "gen-stages.sh: regenerate with: sh doc/gen-stages.sh > doc/stages.md" >&2
	exit 1
}

case "${1:-}" in
"") generate ;;
--check) check ;;
-h|--help) sed -n '2,12s/^# \{0,1\}//p' "$0" ;;
*) echo "usage: sh doc/gen-stages.sh [--check]" >&2; exit 2 ;;
esac
