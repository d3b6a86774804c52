/* nsinfo: what a task's UTS, IPC and network namespaces hold, read from
 * inside them.
 *
 * /proc/sysvipc/{shm,sem,msg} and uname(2) answer for the reader's own namespace, so a
 * short-lived child enters the namespace (lib/nschild.h, through
 * /proc/PID/ns/KIND), reads there and sends the answer back; the caller
 * never leaves its own namespaces (the process boundary is the cleanup). POSIX message
 * queues are listed from a detached mqueue mount the child makes with
 * fsopen/fsmount after entering the IPC namespace (the mqueue file system
 * belongs to the IPC namespace of whoever mounts it), so no mount is made
 * anywhere visible. The network namespace's interfaces come from
 * /proc/PID/net/dev, which shows the task's namespace without entering it.
 */
#ifndef AMBER_NSINFO_H
#define AMBER_NSINFO_H

#include <stdint.h>
#include <sys/types.h>

#include "lib/err.h"

#define NSINFO_NAME_MAX 65	/* __NEW_UTS_LEN + 1 */

/* A namespace link's inode: "uts:[4026531838]" -> 4026531838; 0 if malformed. */
uint64_t nsinfo_parse_link(const char *link, const char *kind);
/* The inode of /proc/PID/ns/KIND (pid 0: this process); 0 and -ENOENT if the
 * kernel has no such kind, other negative errno on failure (message in e). */
int nsinfo_ns_ino(pid_t pid, const char *kind, uint64_t *ino, struct err *e);

/* The hostname and domainname of pid's UTS namespace. */
struct nsinfo_uts {
	char hostname[NSINFO_NAME_MAX];
	char domainname[NSINFO_NAME_MAX];
};
int nsinfo_read_uts(pid_t pid, struct nsinfo_uts *u, struct err *e);

/* A System V IPC object or POSIX message queue in an IPC namespace. */
struct nsinfo_ipc_obj {
	char kind[8];		/* "shm", "sem", "msg" or "mqueue" */
	long long key;		/* SysV key (0 for IPC_PRIVATE); 0 for a queue */
	long long id;		/* SysV id; 0 for a queue */
	char name[256];		/* a queue's name; "" for SysV */
};

/* Parses a /proc/sysvipc/{shm,sem,msg} text (a header line, then one
 * object a line, key and id first) into up to max objects of kind;
 * returns how many there are (even beyond max), or -EINVAL. */
int nsinfo_parse_sysvipc(const char *text, const char *kind, struct nsinfo_ipc_obj *objs, int max, struct err *e);
/* The objects of pid's IPC namespace: SysV ones and message queues; the
 * count (even beyond max) or a negative errno. */
int nsinfo_read_ipc(pid_t pid, struct nsinfo_ipc_obj *objs, int max, struct err *e);

/* An interface in a /proc/net/dev text. */
struct nsinfo_link {
	char name[32];
};
/* Parses /proc/net/dev (two header lines, then "NAME: counters"); returns
 * how many interfaces there are (even beyond max), or -EINVAL. */
int nsinfo_parse_net_dev(const char *text, struct nsinfo_link *links, int max, struct err *e);
/* The interfaces of pid's network namespace (/proc/PID/net/dev). */
int nsinfo_read_links(pid_t pid, struct nsinfo_link *links, int max, struct err *e);
/* The flags (IFF_UP, ...) of interface name in pid's network namespace,
 * asked with SIOCGIFFLAGS on a socket a child makes inside it. */
int nsinfo_read_link_flags(pid_t pid, const char *name, unsigned *flags, struct err *e);

#endif
