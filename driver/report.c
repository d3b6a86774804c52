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
	/* A progress line may be on screen: start on a fresh line. */
	if (isatty(2) && write(2, "\r\033[K", 4) < 0)
		return;
	fprintf(stderr, "amber%s%s: %s\n", drv_command[0] ? " " : "", drv_command, msg);
	if (log_fd() != 2)
		pr_err("%s", msg);
}
