/* nsinfo: see nsinfo.h. */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/mount.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipc/exitcodes.h"
#include "lib/cleanup.h"
#include "lib/nsinfo.h"
#include "lib/proc.h"

#define NSINFO_BLOB_MAX (4u << 20)	/* what a child may send back */

uint64_t nsinfo_parse_link(const char *link, const char *kind)
{
	size_t kl = strlen(kind);
	char *end;
	uint64_t ino;

	if (strncmp(link, kind, kl) || link[kl] != ':' || link[kl + 1] != '[' || !isdigit((unsigned char)link[kl + 2]))
		return 0;
	ino = strtoull(link + kl + 2, &end, 10);
	return *end == ']' && end[1] == 0 ? ino : 0;
}

int nsinfo_ns_ino(pid_t pid, const char *kind, uint64_t *ino, struct err *e)
{
	char path[64], link[64];
	ssize_t n;

	*ino = 0;
	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, kind);
	else
		snprintf(path, sizeof(path), "/proc/self/ns/%s", kind);
	if ((n = readlink(path, link, sizeof(link) - 1)) < 0)
		return err_errno(e, "read the %s namespace of %s %d ('%s')", kind, pid ? "pid" : "amber, pid", pid ? pid : getpid(), path);
	link[n] = 0;
	/* time_for_children and pid_for_children name their kind without the suffix */
	if (!(*ino = nsinfo_parse_link(link, strncmp(kind, "time", 4) ? kind : "time")))
		return err_input(e, "'%s' is '%s', not a %s namespace", path, link, kind);
	return 0;
}

/* Runs fn(pid, arg, fd) in a child that writes its answer on fd, and returns
 * what it wrote (NUL-terminated, *len bytes) in *out. The child exits with
 * 0 or an errno; 'what' names the read for messages. */
static int nsinfo_in_child(pid_t pid, int (*fn)(pid_t, const void *, int), const void *arg, const char *what,
			   char **out, size_t *len, struct err *e)
{
	int p[2], status = 0;
	size_t n = 0, cap = 4096;
	char *buf;
	pid_t child;
	ssize_t got;

	if (pipe2(p, O_CLOEXEC) < 0)
		return err_errno(e, "pipe");
	fflush(NULL);
	if ((child = fork()) < 0) {
		close(p[0]);
		close(p[1]);
		return err_errno(e, "fork");
	}
	if (child == 0) {
		close(p[0]);
		_exit(fn(pid, arg, p[1]));
	}
	close(p[1]);
	buf = malloc(cap);
	while (buf && (got = read(p[0], buf + n, cap - n - 1)) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			break;
		n += got;
		if (n + 1 == cap) {
			char *nb = cap < NSINFO_BLOB_MAX ? realloc(buf, cap * 2) : NULL;

			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	close(p[0]);
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		free(buf);
		return err_errnum(e, WIFEXITED(status) ? WEXITSTATUS(status) : EINTR,
				  "read %s of pid %d (a child entering it with setns)", what, pid);
	}
	if (!buf)
		return err_set(e, 4, "read %s of pid %d: the answer is too big or memory ran out", what, pid);
	buf[n] = 0;
	*out = buf;
	*len = n;
	return 0;
}

/* In a child: enters pid's namespace of that kind. */
static int nsinfo_enter(pid_t pid, const char *kind, int type)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, kind);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || setns(fd, type) < 0)
		return errno ? errno : EINVAL;
	close(fd);
	return 0;
}

/* Writes all of buf (len bytes) to fd; 0 or an errno. */
static int nsinfo_write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return errno ? errno : EIO;
		buf += n;
		len -= n;
	}
	return 0;
}

/* The UTS child: "hostname\0domainname\0". */
static int nsinfo_uts_child(pid_t pid, const void *arg, int fd)
{
	struct utsname u;
	int ret;

	if ((ret = nsinfo_enter(pid, "uts", CLONE_NEWUTS)))
		return ret;
	if (uname(&u) < 0)
		return errno;
	if ((ret = nsinfo_write_all(fd, u.nodename, strlen(u.nodename) + 1)))
		return ret;
	return nsinfo_write_all(fd, u.domainname, strlen(u.domainname) + 1);
}

int nsinfo_read_uts(pid_t pid, struct nsinfo_uts *u, struct err *e)
{
	_cleanup_free_ char *blob = NULL;
	size_t len, hl;
	int ret;

	if ((ret = nsinfo_in_child(pid, nsinfo_uts_child, NULL, "the UTS namespace", &blob, &len, e)) < 0)
		return ret;
	hl = strnlen(blob, len);
	if (hl + 1 >= len || hl >= NSINFO_NAME_MAX || strnlen(blob + hl + 1, len - hl - 1) >= NSINFO_NAME_MAX)
		return err_set(e, EXIT_SYSTEM, "read the UTS namespace of pid %d: a malformed answer", pid);
	snprintf(u->hostname, sizeof(u->hostname), "%s", blob);
	snprintf(u->domainname, sizeof(u->domainname), "%s", blob + hl + 1);
	return 0;
}

/* Copies a file's text to fd, then a NUL; 0 or an errno. */
static int nsinfo_copy_file(const char *path, int fd)
{
	_cleanup_close_ int in = open(path, O_RDONLY | O_CLOEXEC);
	char buf[8192];
	ssize_t n;
	int ret;

	if (in < 0)
		return errno == ENOENT ? nsinfo_write_all(fd, "", 1) : errno;	/* no SysV IPC in this kernel */
	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		if ((ret = nsinfo_write_all(fd, buf, n)))
			return ret;
	}
	return nsinfo_write_all(fd, "", 1);
}

/* The IPC child: the texts of /proc/sysvipc/{shm,sem,msg}, then the queue
 * names a line each, every part NUL-terminated. */
static int nsinfo_ipc_child(pid_t pid, const void *arg, int fd)
{
	static const char *const files[] = { "/proc/sysvipc/shm", "/proc/sysvipc/sem", "/proc/sysvipc/msg" };
	int ret, fs, mnt, dfd;
	struct dirent *d;
	DIR *dir;

	if ((ret = nsinfo_enter(pid, "ipc", CLONE_NEWIPC)))
		return ret;
	for (size_t i = 0; i < ARRAY_SIZE(files); i++)
		if ((ret = nsinfo_copy_file(files[i], fd)))
			return ret;
	/* The namespace's own mqueue super block, mounted nowhere. */
	if ((fs = syscall(SYS_fsopen, "mqueue", FSOPEN_CLOEXEC)) < 0 ||
	    syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0 ||
	    (mnt = syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0)) < 0 ||
	    (dfd = openat(mnt, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || !(dir = fdopendir(dfd)))
		return errno ? errno : EINVAL;
	while ((d = readdir(dir)))
		if (d->d_name[0] != '.' &&
		    ((ret = nsinfo_write_all(fd, d->d_name, strlen(d->d_name))) || (ret = nsinfo_write_all(fd, "\n", 1))))
			return ret;
	return nsinfo_write_all(fd, "", 1);
}

int nsinfo_parse_sysvipc(const char *text, const char *kind, struct nsinfo_ipc_obj *objs, int max, struct err *e)
{
	const char *line = strchr(text, '\n');	/* past the header */
	int n = 0;

	while (line && *++line) {
		const char *next = strchr(line, '\n');
		long long key, id;

		if (sscanf(line, "%lld %lld", &key, &id) != 2)
			return err_input(e, "/proc/sysvipc/%s: a line that does not start with key and id: '%.*s'", kind,
					 (int)(next ? next - line : (long)strlen(line)), line);
		if (n < max) {
			memset(&objs[n], 0, sizeof(objs[n]));
			snprintf(objs[n].kind, sizeof(objs[n].kind), "%s", kind);
			objs[n].key = key;
			objs[n].id = id;
		}
		n++;
		line = next;
	}
	return n;
}

int nsinfo_read_ipc(pid_t pid, struct nsinfo_ipc_obj *objs, int max, struct err *e)
{
	static const char *const kinds[] = { "shm", "sem", "msg" };
	_cleanup_free_ char *blob = NULL;
	size_t len, off = 0;
	int ret, n = 0;

	if ((ret = nsinfo_in_child(pid, nsinfo_ipc_child, NULL, "the IPC namespace", &blob, &len, e)) < 0)
		return ret;
	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
		if (off >= len)
			return err_set(e, EXIT_SYSTEM, "read the IPC namespace of pid %d: a malformed answer", pid);
		if ((ret = nsinfo_parse_sysvipc(blob + off, kinds[k], objs + (n < max ? n : max), n < max ? max - n : 0, e)) < 0)
			return ret;
		n += ret;
		off += strlen(blob + off) + 1;
	}
	for (char *name = off < len ? blob + off : NULL, *nl; name && *name; name = nl + 1) {
		if (!(nl = strchr(name, '\n')))
			break;
		*nl = 0;
		if (n < max) {
			memset(&objs[n], 0, sizeof(objs[n]));
			snprintf(objs[n].kind, sizeof(objs[n].kind), "mqueue");
			snprintf(objs[n].name, sizeof(objs[n].name), "%s", name);
		}
		n++;
	}
	return n;
}

int nsinfo_parse_net_dev(const char *text, struct nsinfo_link *links, int max, struct err *e)
{
	const char *line = text;
	int n = 0;

	for (int skip = 0; skip < 2 && line; skip++)
		if ((line = strchr(line, '\n')))
			line++;
	while (line && *line) {
		const char *colon = strchr(line, ':'), *next = strchr(line, '\n'), *start = line;

		if (!colon || (next && colon > next))
			return err_input(e, "/proc/net/dev: a line without 'NAME:'");
		while (*start == ' ')
			start++;
		if (n < max) {
			memset(&links[n], 0, sizeof(links[n]));
			snprintf(links[n].name, sizeof(links[n].name), "%.*s", (int)(colon - start), start);
		}
		n++;
		line = next ? next + 1 : NULL;
	}
	return n;
}

int nsinfo_read_links(pid_t pid, struct nsinfo_link *links, int max, struct err *e)
{
	_cleanup_free_ char *text = NULL;
	char path[64];
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/net/dev", pid);
	if ((ret = proc_read_file(path, &text, NULL, e)) < 0)
		return ret;
	if ((ret = nsinfo_parse_net_dev(text, links, max, e)) < 0)
		err_wrap(e, "'%s'", path);
	return ret;
}

/* The flags child: interface arg's flags as a decimal number. */
static int nsinfo_flags_child(pid_t pid, const void *arg, int fd)
{
	struct ifreq ifr;
	char text[32];
	int ret, sk;

	if ((ret = nsinfo_enter(pid, "net", CLONE_NEWNET)))
		return ret;
	if ((sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", (const char *)arg);
	if (ioctl(sk, SIOCGIFFLAGS, &ifr) < 0)
		return errno;
	snprintf(text, sizeof(text), "%u", (unsigned)(unsigned short)ifr.ifr_flags);
	return nsinfo_write_all(fd, text, strlen(text) + 1);
}

int nsinfo_read_link_flags(pid_t pid, const char *name, unsigned *flags, struct err *e)
{
	_cleanup_free_ char *blob = NULL;
	char what[64];
	size_t len;
	int ret;

	snprintf(what, sizeof(what), "the flags of '%s' in the network namespace", name);
	if ((ret = nsinfo_in_child(pid, nsinfo_flags_child, name, what, &blob, &len, e)) < 0)
		return ret;
	*flags = strtoul(blob, NULL, 10);
	return 0;
}
