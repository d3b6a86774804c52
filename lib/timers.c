/* timers: see timers.h. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cleanup.h"
#include "lib/grow.h"
#include "lib/proc.h"
#include "lib/timers.h"

/* Parses one "notify: KIND/WHO.N" value into t. */
static int timers_parse_notify(const char *val, struct timers_entry *t)
{
	char kind[16], who[8];
	int target;

	if (sscanf(val, "%15[a-z]/%7[a-z].%d", kind, who, &target) != 3)
		return -1;
	if (!strcmp(kind, "signal"))
		t->notify = SIGEV_SIGNAL;
	else if (!strcmp(kind, "none"))
		t->notify = SIGEV_NONE;
	else if (!strcmp(kind, "thread"))
		t->notify = SIGEV_THREAD;
	else
		return -1;
	if (!strcmp(who, "tid"))
		t->notify |= TIMERS_SIGEV_THREAD_ID;
	else if (strcmp(who, "pid"))
		return -1;
	t->target = target;
	return 0;
}

int timers_parse(const char *text, struct timers_entry **timers, int *nr, struct err *e)
{
	struct timers_entry *v = NULL, *cur = NULL;
	unsigned seen = 0;	/* bit per line of the current timer: ID, signal, notify, ClockID */
	int n = 0, lineno = 0;

	*timers = NULL;
	*nr = 0;
	for (const char *p = text; p && *p; lineno++) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char line[256], *val;

		snprintf(line, sizeof(line), "%.*s", (int)(len < sizeof(line) ? len : sizeof(line) - 1), p);
		p = nl ? nl + 1 : NULL;
		if (!line[0])
			continue;
		val = strchr(line, ':');
		if (!val) {
			free(v);
			return err_input(e, "timers line %d '%s': no 'key:'", lineno + 1, line);
		}
		*val++ = 0;
		val += strspn(val, " \t");
		if (!strcmp(line, "ID")) {
			if (cur && seen != 0xf) {
				int id = cur->id;

				free(v);
				return err_input(e, "timers line %d: timer %d lacks some of signal/notify/ClockID", lineno + 1, id);
			}
			if (grow_one(&v, n) < 0) {
				free(v);
				return err_errno(e, "allocate timer %d", n);
			}
			cur = &v[n++];
			memset(cur, 0, sizeof(*cur));
			seen = 1;
			if (sscanf(val, "%d", &cur->id) != 1 || cur->id < 0)
				goto bad;
		} else if (!cur) {
			free(v);
			return err_input(e, "timers line %d '%s': a field before the first 'ID:'", lineno + 1, line);
		} else if (!strcmp(line, "signal")) {
			seen |= 2;
			if (sscanf(val, "%d/%" SCNx64, &cur->signo, &cur->value) != 2)
				goto bad;
		} else if (!strcmp(line, "notify")) {
			seen |= 4;
			if (timers_parse_notify(val, cur) < 0)
				goto bad;
		} else if (!strcmp(line, "ClockID")) {
			seen |= 8;
			if (sscanf(val, "%d", &cur->clock) != 1)
				goto bad;
		}
		/* Unknown keys are later kernels' additions: ignored. */
		continue;
bad:
		free(v);
		return err_input(e, "timers line %d: bad '%s' value '%s'", lineno + 1, line, val);
	}
	if (cur && seen != 0xf) {
		int id = cur->id;

		free(v);
		return err_input(e, "timers: last timer %d lacks some of signal/notify/ClockID", id);
	}
	*timers = v;
	*nr = n;
	return 0;
}

int timers_read(pid_t pid, struct timers_entry **timers, int *nr, struct err *e)
{
	_cleanup_free_ char *text = NULL;
	char path[64];
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/timers", pid);
	if ((ret = proc_read_file(path, &text, NULL, e)) < 0)
		return ret;
	if ((ret = timers_parse(text, timers, nr, e)) < 0)
		return err_wrap(e, "'%s'", path);
	return 0;
}
