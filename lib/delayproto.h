/* delayproto: the messages of delayed mounts.
 *
 * amber-mountd (the manager of a restore's delayed mounts) is controlled
 * over a SOCK_SEQPACKET unix socket in the run directory (RUN/mountd.sock)
 * by 'amber mount-delayed' and by the driver; it controls amber-stubfs
 * (the stubs' FUSE server) over a socketpair the same way. One packet is
 * one message; a message is lines, each a verb and its fields separated
 * by tabs:
 *
 *	list                              -> mnt ID STATE MOUNTPOINT TYPE SOURCE OPTIONS BINDS... (one line
 *	                                     per delayed mount), then ok N
 *	mount MOUNTPOINT SOURCE TYPE OPTIONS  -> ok TEXT | error CODE TEXT (empty fields: from the images)
 *	run PID                           -> ok   (the driver: the tree of PID runs; stubs block)
 *	stop                              -> ok   (kill nothing; drop the stubs and exit)
 *	real ID                           -> ok N (to amber-stubfs, with the real mount's root fd:
 *	                                     serve stub ID from it, N blocked requests answered)
 *
 * A field can hold anything but a tab, a newline and a NUL: encoding one
 * that does is refused, so no field can forge another.
 */
#ifndef AMBER_DELAYPROTO_H
#define AMBER_DELAYPROTO_H

#include <stddef.h>
#include <sys/types.h>

#include "lib/err.h"

#define DP_MAX_MSG	65536
#define DP_MAX_FIELDS	32

/* One line, split in place: verb and fields point into the buffer. */
struct dp_line {
	const char *verb;
	const char *f[DP_MAX_FIELDS];
	int nr;
};

/* Appends a line "verb\tf0\tf1...\n" at buf + *len (size bytes in all);
 * refuses a field with a tab or newline, and a line that does not fit. */
int dp_add(char *buf, size_t size, size_t *len, const char *verb, const char *const *f, int nr, struct err *e);
/* Splits the next line of buf (len bytes from *pos) in place: 1 with l
 * filled, 0 at the end, <0 (e set) for a line without its newline, an
 * empty verb or too many fields. */
int dp_next(char *buf, size_t len, size_t *pos, struct dp_line *l, struct err *e);

/* Sends one message (len bytes) with fd attached if fd >= 0. */
int dp_send(int sock, const char *buf, size_t len, int fd, struct err *e);
/* Receives one message into buf (size bytes, NUL-terminated: at most
 * size - 1 of it), *fd an fd sent with it or -1 (fd may be NULL: one sent
 * is closed); the length, 0 at EOF. */
ssize_t dp_recv(int sock, char *buf, size_t size, int *fd, struct err *e);

/* The socket's name in run directory 'run' (buf of PATH_MAX). */
void dp_sock_path(char *buf, size_t size, const char *run);

#endif
