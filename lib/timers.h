/* timers: the parser of /proc/PID/timers (POSIX timers of a process).
 *
 * The kernel prints four lines per timer (fs/proc/base.c, show_timer):
 *
 *	ID: 3
 *	signal: 34/00000000deadbeef		signo / sigev_value as a raw pointer
 *	notify: signal/tid.1234			signal|none|thread / pid|tid . target
 *	ClockID: 1
 *
 * The pure form takes the text (tested on fixtures); the reading form opens
 * the file. Remaining time and interval are not in the file: they come from
 * timer_gettime(2) in the task.
 */
#ifndef AMBER_TIMERS_H
#define AMBER_TIMERS_H

#include <stdint.h>
#include <sys/types.h>

#include "lib/err.h"

/* The kernel's SIGEV_THREAD_ID flag of sigev_notify. */
#define TIMERS_SIGEV_THREAD_ID 4

struct timers_entry {
	int id;
	int clock;		/* clockid_t as the kernel holds it */
	int notify;		/* SIGEV_SIGNAL, SIGEV_NONE or SIGEV_THREAD, | TIMERS_SIGEV_THREAD_ID */
	int signo;
	uint64_t value;		/* sigev_value */
	pid_t target;		/* the pid or tid after "pid." / "tid." */
};

/* Parses the whole file; *timers is malloc'd (NULL when there are none). */
int timers_parse(const char *text, struct timers_entry **timers, int *nr, struct err *e);
/* Reads and parses /proc/PID/timers. */
int timers_read(pid_t pid, struct timers_entry **timers, int *nr, struct err *e);

#endif
