/* log: see log.h. The only process-wide state is this module's settings,
 * written once at start-up and read-only afterwards. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"

static struct {
	char name[64];
	int level;
	int fd;
	int progress;
	struct timespec start;
} log_cfg = { "amber", LOG_INFO, 2, 0, { 0, 0 } };

static const char log_letters[] = "EWIDT";

void log_init(const char *name, int level, int fd)
{
	snprintf(log_cfg.name, sizeof(log_cfg.name), "%s", name);
	log_cfg.level = level;
	log_cfg.fd = fd;
	clock_gettime(CLOCK_MONOTONIC, &log_cfg.start);
}

int log_level(void) { return log_cfg.level; }
int log_fd(void) { return log_cfg.fd; }
void log_set_progress(int on) { log_cfg.progress = on; }

static void log_vwrite(char letter, const char *fmt, va_list ap)
{
	struct timespec now;
	char buf[2048];
	int n, m;
	double t;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!log_cfg.start.tv_sec && !log_cfg.start.tv_nsec)
		log_cfg.start = now;
	t = (now.tv_sec - log_cfg.start.tv_sec) + (now.tv_nsec - log_cfg.start.tv_nsec) / 1e9;
	n = snprintf(buf, sizeof(buf), "(%10.6f) %s: %c: ", t, log_cfg.name, letter);
	m = vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	if (m < 0)
		m = 0;
	n += m;
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	/* One message is one line: the driver splits on newlines. */
	for (int i = 0; i < n; i++)
		if (buf[i] == '\n')
			buf[i] = ' ';
	buf[n++] = '\n';
	/* A single write keeps lines from concurrent writers whole. */
	if (write(log_cfg.fd, buf, n) < 0)
		return;
}

void log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_cfg.level)
		return;
	va_start(ap, fmt);
	log_vwrite(log_letters[level < 0 ? 0 : level > 4 ? 4 : level], fmt, ap);
	va_end(ap);
}

void log_progress(const char *fmt, ...)
{
	va_list ap;

	if (!log_cfg.progress)
		return;
	va_start(ap, fmt);
	log_vwrite('P', fmt, ap);
	va_end(ap);
}
