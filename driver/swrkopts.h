/* swrkopts: a container runtime's request options (CRIU's criu_opts,
 * images/rpc.proto) as the command line of amber's own dump and restore.
 *
 * Each option is honoured (mapped to a flag of 'amber dump' or 'amber
 * restore', or checked to be true of the tree) or refused by name with the
 * reason; an option is never dropped silently. The table of which is which
 * is in swrkopts.c and doc/runtimes.md.
 */
#ifndef AMBER_DRIVER_SWRKOPTS_H
#define AMBER_DRIVER_SWRKOPTS_H

#include <stdbool.h>

#include "images/rpc.pb-c.h"
#include "lib/err.h"

#define SWRK_MAX_ARGS 256

struct swrk_args {
	char *argv[SWRK_MAX_ARGS + 1];	/* NULL-terminated */
	int argc;
	char store[32768];
	size_t used;
};

/* Refuses the first option of a request of type t (DUMP, RESTORE) that
 * amber cannot honour: "option 'NAME': REASON". 0 when all are honoured. */
int swrk_check_opts(const CriuOpts *o, CriuReqType t, struct err *e);

/* The argv of 'amber dump' or 'amber restore' for the request. images and
 * workdir are paths; stdio[k] is where the caller's fd k went (swrk moves
 * its stdio aside, as inherit_fd may name them). */
int swrk_build_args(const CriuOpts *o, CriuReqType t, const char *images, const char *workdir,
		    const int stdio[3], struct swrk_args *a, struct err *e);

/* Appends one formatted argument. */
int swrk_arg(struct swrk_args *a, struct err *e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
