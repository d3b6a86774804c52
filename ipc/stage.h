/* stage: the skeleton every stage's main() calls.
 *
 * A stage fills a struct stage_desc and calls stage_main(). The skeleton
 * parses the common options, checks that the fds the stage was promised are
 * open, sets up logging, drops the capabilities the stage does not declare,
 * confines it to the system calls it declares (if it does), opens the
 * images directory, runs desc->run and turns its error into the exit code
 * and one last stderr line.
 *
 * A stage's manual is the top comment of its main.c, under these headings,
 * in this order, each on its own line with its text indented by a tab:
 * What it does, Inputs, Options, Outputs, Named fds, Exit status, Side
 * effects, Capabilities, By hand (the first two, Outputs, Exit status and
 * Capabilities are required). doc/gen-stages.sh checks that and builds
 * doc/stages.md, its reference table included, from them.
 *
 * Common options (every stage):
 *	-D, --images-dir DIR	images directory (required unless the stage says not)
 *	-v, --verbosity N	0 errors .. 4 trace (default 2)
 *	-o, --log-file FILE	append the log to FILE instead of stderr
 *	    --log-fd N		log to an inherited fd
 *	    --run-dir DIR	the driver's run directory (for pins and records)
 *	    --fd NAME=N		an inherited live object (see ipc/fds.h)
 *	    --progress		write progress lines (the driver asks on a terminal)
 *	    --dump-id HEX	the dump whose images the stage writes (the driver
 *				gives it to every dump stage); images/image.h
 *				writes it into every header and checks it on read.
 *				Without it, readers take it from inventory.img.
 *	-h, --help		print the stage's manual summary
 */
#ifndef AMBER_STAGE_H
#define AMBER_STAGE_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/capability.h>

#include "lib/err.h"

#define STAGE_MAX_FDS 8
#define STAGE_MAX_CAPS 16

struct stage_ctx;

struct stage_desc {
	const char *name;		/* "seize"; the binary is amber-seize */
	const char *summary;		/* one line */
	const char *usage;		/* stage-specific options, for --help */
	const char *fds[STAGE_MAX_FDS];	/* names of the fds it requires */
	const char *optional_fds[STAGE_MAX_FDS];
	cap_value_t caps[STAGE_MAX_CAPS];	/* capabilities it keeps */
	int nr_caps;
	bool keep_all_caps;		/* e.g. a stage whose children become restored tasks */
	/* With keep_all_caps: what it keeps once it confines itself late
	 * (stage_confine), when the children that needed the rest exist. */
	cap_value_t late_caps[STAGE_MAX_CAPS];
	int nr_late_caps;
	/* The system calls it may make, ending with -1: with a list, the
	 * skeleton sets no_new_privs and a seccomp allow list (lib/confine.h)
	 * once the capabilities are dropped, or the stage does it itself with
	 * stage_confine when confine_late says so. */
	const int *syscalls;
	const unsigned long *ioctls;	/* the ioctl requests it may make, ending with 0 */
	bool confine_late;		/* e.g. once the children that become restored tasks exist */
	bool no_images_dir;
	/* A restore stage, whose system calls take their values from the
	 * images: one failing with EINVAL, ERANGE, EOVERFLOW or E2BIG was given
	 * a value the kernel refuses, which no rerun fixes, so it exits as bad
	 * input (EXIT_INPUT), not as a system failure. */
	bool reads_images;
	const struct option *options;	/* extra long options, NULL-terminated */
	const char *shortopts;		/* extra short options */
	/* Handles one extra option; return <0 with e set on a bad value. */
	int (*parse_option)(void *opts, int opt, const char *arg, struct err *e);
	int (*run)(const struct stage_ctx *ctx, void *opts, struct err *e);
};

struct stage_ctx {
	const struct stage_desc *desc;
	const char *images_dir;
	int dir_fd;			/* images directory, O_DIRECTORY|O_PATH-less, opened once */
	const char *run_dir;		/* NULL for a hand run without one */
	int verbosity;
	bool progress;
	uint64_t dump_id;		/* --dump-id, or 0 */
	int nr_fds;
	struct { char name[32]; int fd; } fds[STAGE_MAX_FDS];
	int argc;			/* positional arguments left after options */
	char **argv;
};

/* The fd named NAME that the stage was given, or -1. */
int stage_fd(const struct stage_ctx *ctx, const char *name);

/* Sets no_new_privs and the stage's seccomp allow list (desc->syscalls)
 * now, for a stage that says confine_late, after dropping to its
 * late_caps if it has them: from here on every thread and child of the
 * stage has them. */
int stage_confine(const struct stage_ctx *ctx, struct err *e);

/* Parses, sets up, runs; returns the exit code for main() to return. */
int stage_main(const struct stage_desc *desc, void *opts, int argc, char **argv);

/* Parses a decimal pid/fd option value; <0 with e set if it is not one. */
int stage_parse_int(const char *opt, const char *arg, int min, int max, int *out, struct err *e);

#endif
