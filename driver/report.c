/* report: the driver's one way to say that something failed.
 *
 * Every driver error is one line "amber COMMAND: MESSAGE" on stderr, and
 * the same as an E: line in the -o LOGFILE when there is one, so a user
 * reads the same sentence wherever they look. Stages' own log lines are
 * filed by driver/run.c; warnings and progress are lib/log.h lines.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "driver/driver.h"
#include "lib/log.h"

/* Set once in main() before anything can fail; read-only afterwards. */
static char drv_command[32];
static char drv_last[4096];
static int drv_quiet;
static drv_notify_fn drv_notify_hook;
static void *drv_notify_arg;

static int drv_restored;

void drv_set_restored_pid(int pid)
{
	drv_restored = pid;
}

int drv_restored_pid(void)
{
	return drv_restored;
}

const char *drv_last_error(void)
{
	return drv_last;
}

void drv_set_quiet(int quiet)
{
	drv_quiet = quiet;
}

void drv_set_notify(drv_notify_fn fn, void *arg)
{
	drv_notify_hook = fn;
	drv_notify_arg = arg;
}

int drv_notify(const char *script, int pid, struct err *e)
{
	return drv_notify_hook ? drv_notify_hook(drv_notify_arg, script, pid, e) : 0;
}

void drv_set_command(const char *cmd)
{
	snprintf(drv_command, sizeof(drv_command), "%s", cmd ? cmd : "");
}

void drv_error(const char *fmt, ...)
{
	char msg[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(drv_last, sizeof(drv_last), "%s", msg);
	if (drv_quiet) {
		pr_err("%s", msg);
		return;
	}
	/* A progress line may be on screen: start on a fresh line. */
	if (isatty(2) && write(2, "\r\033[K", 4) < 0)
		return;
	fprintf(stderr, "amber%s%s: %s\n", drv_command[0] ? " " : "", drv_command, msg);
	if (log_fd() != 2)
		pr_err("%s", msg);
}
