/* err: amber's one error idiom.
 *
 * Library code never exits and never prints: it fills a struct err and returns
 * a negative value (usually -errno). Only a stage's top level turns the error
 * into an exit code (lib/exitcodes.h) and a last stderr line.
 *
 *	if (fd < 0)
 *		return err_errno(e, "open '%s'", path);
 *	if (hdr.magic != want)
 *		return err_input(e, "'%s': bad magic %#x, want %#x", name, hdr.magic, want);
 */
#ifndef AMBER_ERR_H
#define AMBER_ERR_H

#include <errno.h>

struct err {
	int  exit_code;		/* EXIT_* class of lib/exitcodes.h; 0 when unset */
	int  errnum;		/* errno behind it, 0 if none */
	char msg[1024];
};

/* A system call failed: message + strerror(errno); returns -errno. */
int err_errno(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same with an explicit errno value (for APIs returning -errno). */
int err_errnum(struct err *e, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Bad or unsupported input (image, option, state); returns -EINVAL. */
int err_input(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A peer stage broke the protocol; returns -EPROTO. */
int err_proto(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Any class, explicit; returns -1. */
int err_set(struct err *e, int exit_code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prefix context to an existing message: "reading 'x': <old message>". */
int err_wrap(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
