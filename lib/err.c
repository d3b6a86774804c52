/* err: see err.h. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/exitcodes.h"
#include "lib/err.h"

static void err_vfill(struct err *e, int code, int errnum, const char *fmt, va_list ap)
{
	int n;

	e->exit_code = code;
	e->errnum = errnum;
	n = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	if (errnum && n >= 0 && (size_t)n < sizeof(e->msg))
		snprintf(e->msg + n, sizeof(e->msg) - n, ": %s", strerror(errnum));
}

int err_errno(struct err *e, const char *fmt, ...)
{
	int errnum = errno ? errno : EIO;
	va_list ap;

	va_start(ap, fmt);
	err_vfill(e, EXIT_SYSTEM, errnum, fmt, ap);
	va_end(ap);
	return -errnum;
}

int err_errnum(struct err *e, int errnum, const char *fmt, ...)
{
	va_list ap;

	if (errnum < 0)
		errnum = -errnum;
	va_start(ap, fmt);
	err_vfill(e, EXIT_SYSTEM, errnum ? errnum : EIO, fmt, ap);
	va_end(ap);
	return -(errnum ? errnum : EIO);
}

int err_input(struct err *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vfill(e, EXIT_INPUT, 0, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int err_proto(struct err *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vfill(e, EXIT_PROTOCOL, 0, fmt, ap);
	va_end(ap);
	return -EPROTO;
}

int err_set(struct err *e, int exit_code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vfill(e, exit_code, 0, fmt, ap);
	va_end(ap);
	return -1;
}

int err_wrap(struct err *e, const char *fmt, ...)
{
	char old[sizeof(e->msg)];
	va_list ap;
	int n;

	memcpy(old, e->msg, sizeof(old));
	va_start(ap, fmt);
	n = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(e->msg))
		snprintf(e->msg + n, sizeof(e->msg) - n, ": %s", old);
	if (e->errnum)
		return -e->errnum;
	return e->exit_code == EXIT_INPUT ? -EINVAL : e->exit_code == EXIT_PROTOCOL ? -EPROTO : -1;
}
