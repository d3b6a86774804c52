/* schedattr: struct sched_attr as sched_getattr(2) and sched_setattr(2)
 * take it (the first, 48-byte version; glibc of this Debian has no
 * wrapper). seize reads each thread's, restore-tasks sets it again. */
#ifndef AMBER_SCHEDATTR_H
#define AMBER_SCHEDATTR_H

#include <stdint.h>

struct amber_sched_attr {
	uint32_t size;
	uint32_t policy;
	uint64_t flags;
	int32_t nice;		/* SCHED_OTHER, SCHED_BATCH */
	uint32_t priority;	/* SCHED_FIFO, SCHED_RR */
	uint64_t runtime;	/* SCHED_DEADLINE, nanoseconds */
	uint64_t deadline;
	uint64_t period;
};

#endif
