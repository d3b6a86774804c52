/* lib/inetopt.h: the socket options of TCP, UDP and unix sockets that amber saves
 * and sets again, one table for dump-files (which reads them) and
 * restore-files (which sets only what is in it: an image cannot make it
 * set any other option). */
#ifndef AMBER_LIB_INETOPT_H
#define AMBER_LIB_INETOPT_H

#include <stdbool.h>
#include <stddef.h>

enum inetopt_kind {
	INETOPT_INT,		/* an int */
	INETOPT_BYTES,		/* a struct or string (SO_LINGER, SO_BINDTODEVICE, TCP_CONGESTION, ...) */
};

/* Which sockets an option is for. */
#define INETOPT_V4	0x1	/* AF_INET */
#define INETOPT_V6	0x2	/* AF_INET6 */
#define INETOPT_TCP	0x4
#define INETOPT_UDP	0x8
#define INETOPT_RAW	0x40	/* SOCK_RAW, any protocol */
#define INETOPT_ALL	(INETOPT_V4 | INETOPT_V6 | INETOPT_TCP | INETOPT_UDP | INETOPT_RAW)
#define INETOPT_UNIX	0x10	/* AF_UNIX, any type (UnixSocketEntry.opts; not its buffers or SO_PASSCRED) */
#define INETOPT_NETLINK	0x20	/* AF_NETLINK, any protocol (NetlinkSocketEntry.opts) */

/* The most bytes of a INETOPT_BYTES option. */
#define INETOPT_MAX_BYTES 64

struct inetopt {
	const char *name;	/* as in the images: "SO_REUSEADDR" */
	int level, opt;
	enum inetopt_kind kind;
	unsigned applies;	/* INETOPT_* of the families and protocols it is for */
};

/* The options, in the order restore sets them (IP_TOS before SO_PRIORITY,
 * which IP_TOS changes). */
extern const struct inetopt inetopt_table[];
extern const size_t inetopt_count;

/* Is option o for a socket of this family (AF_INET, AF_INET6) and protocol
 * (IPPROTO_TCP, IPPROTO_UDP), or for a unix socket (AF_UNIX, any protocol)? */
bool inetopt_applies(const struct inetopt *o, int family, int protocol);
/* The option of this name, or NULL. */
const struct inetopt *inetopt_find(const char *name);

#endif
