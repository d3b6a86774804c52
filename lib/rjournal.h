/* rjournal: what a tracer changes in its tracees, written down before each
 * change, so that another process can put the tracees back if the tracer
 * dies in the middle (seize writes it, amber-unseize reads it).
 *
 * Test hook: a journal opened with die_after N > 0 (seize takes N from
 * AMBER_TEST_SEIZE_DIE_AFTER) SIGKILLs its own process just after the Nth
 * change it is told of (rjournal_changed), so a test can end the tracer at
 * every step of its work.
 */
#ifndef AMBER_RJOURNAL_H
#define AMBER_RJOURNAL_H

struct rjournal {
	int fd;			/* where records go, or -1: none are written */
	long die_after;		/* the test hook: 0 never */
	long changes;		/* changes made so far */
};

/* An empty journal that writes nothing, with the test hook armed if
 * die_after > 0. */
void rjournal_init(struct rjournal *j, long die_after);
/* Counts one change just made to a tracee (registers, signal mask or
 * memory); the test hook ends the process here. j may be NULL. */
void rjournal_changed(struct rjournal *j);

#endif
