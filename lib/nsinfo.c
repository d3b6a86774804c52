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
#include <unistd.h>

#include "lib/exitcodes.h"
#include "lib/cleanup.h"
#include "lib/nschild.h"
#include "lib/nsinfo.h"
#include "lib/proc.h"

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

/* What a child reading in a namespace of pid needs. */
struct nsinfo_arg {
	pid_t pid;
	const char *name;	/* the interface, for the flags child */
};

/* In a child in pid's UTS namespace: sends "hostname\0domainname\0". */
static int nsinfo_uts_child(void *arg, struct nschild_reply *reply, struct err *e)
{
	const struct nsinfo_arg *a = arg;
	struct utsname u;
	int ret;

	if (uname(&u) < 0)
		return err_errno(e, "read the UTS namespace of pid %d: uname", a->pid);
	if ((ret = nschild_send(reply, u.nodename, strlen(u.nodename) + 1, e)) < 0)
		return ret;
	return nschild_send(reply, u.domainname, strlen(u.domainname) + 1, e);
}

/* Runs fn in a child in pid's namespace of kind (type), with what it
 * sends in res. */
static int nsinfo_in_child(pid_t pid, const char *kind, int type, nschild_fn fn, struct nsinfo_arg *a,
			   const char *what, struct nschild_result *res, struct err *e)
{
	char path[64], action[128];

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, kind);
	snprintf(action, sizeof(action), "read %s of pid %d", what, pid);
	return nschild_run_at(action, path, type, fn, a, res, e);
}

int nsinfo_read_uts(pid_t pid, struct nsinfo_uts *u, struct err *e)
{
	struct nsinfo_arg a = { pid, NULL };
	struct nschild_result res;
	size_t hl;
	int ret;

	if ((ret = nsinfo_in_child(pid, "uts", CLONE_NEWUTS, nsinfo_uts_child, &a, "the UTS namespace", &res, e)) < 0)
		return ret;
	hl = res.data ? strnlen(res.data, res.len) : 0;
	if (!res.data || hl + 1 >= res.len || hl >= NSINFO_NAME_MAX ||
	    strnlen(res.data + hl + 1, res.len - hl - 1) >= NSINFO_NAME_MAX) {
		nschild_result_free(&res);
		return err_set(e, EXIT_SYSTEM, "read the UTS namespace of pid %d: a malformed answer", pid);
	}
	snprintf(u->hostname, sizeof(u->hostname), "%s", res.data);
	snprintf(u->domainname, sizeof(u->domainname), "%s", res.data + hl + 1);
	nschild_result_free(&res);
	return 0;
}

/* Sends a file's text, then a NUL (an empty text if the kernel has no
 * such file: no SysV IPC). */
static int nsinfo_send_file(struct nschild_reply *reply, pid_t pid, const char *path, struct err *e)
{
	_cleanup_close_ int in = open(path, O_RDONLY | O_CLOEXEC);
	char buf[8192];
	ssize_t n;
	int ret;

	if (in < 0 && errno != ENOENT)
		return err_errno(e, "read the IPC namespace of pid %d: open '%s'", pid, path);
	while (in >= 0 && (n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_errno(e, "read the IPC namespace of pid %d: read '%s'", pid, path);
		if ((ret = nschild_send(reply, buf, n, e)) < 0)
			return ret;
	}
	return nschild_send(reply, "", 1, e);
}

/* In a child in pid's IPC namespace: sends the texts of
 * /proc/sysvipc/{shm,sem,msg}, then the queue names a line each, every
 * part NUL-terminated. */
static int nsinfo_ipc_child(void *arg, struct nschild_reply *reply, struct err *e)
{
	static const char *const files[] = { "/proc/sysvipc/shm", "/proc/sysvipc/sem", "/proc/sysvipc/msg" };
	const struct nsinfo_arg *a = arg;
	int ret, fs, mnt, dfd;
	struct dirent *d;
	DIR *dir;

	for (size_t i = 0; i < ARRAY_SIZE(files); i++)
		if ((ret = nsinfo_send_file(reply, a->pid, files[i], e)) < 0)
			return ret;
	/* The namespace's own mqueue super block, mounted nowhere. */
	if ((fs = syscall(SYS_fsopen, "mqueue", FSOPEN_CLOEXEC)) < 0 ||
	    syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0 ||
	    (mnt = syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0)) < 0 ||
	    (dfd = openat(mnt, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || !(dir = fdopendir(dfd)))
		return err_errno(e, "read the IPC namespace of pid %d: mount its mqueue file system (fsopen, fsmount)", a->pid);
	while ((d = readdir(dir)))
		if (d->d_name[0] != '.' &&
		    ((ret = nschild_send(reply, d->d_name, strlen(d->d_name), e)) < 0 || (ret = nschild_send(reply, "\n", 1, e)) < 0))
			return ret;
	return nschild_send(reply, "", 1, e);
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
	struct nsinfo_arg a = { pid, NULL };
	struct nschild_result res;
	_cleanup_free_ char *blob = NULL;
	size_t len, off = 0;
	int ret, n = 0;

	if ((ret = nsinfo_in_child(pid, "ipc", CLONE_NEWIPC, nsinfo_ipc_child, &a, "the IPC namespace", &res, e)) < 0)
		return ret;
	blob = TAKE_PTR(res.data);
	len = res.len;
	nschild_result_free(&res);
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

/* In a child in pid's network namespace: returns the flags of
 * interface a->name, asked on a socket made there. */
static int nsinfo_flags_child(void *arg, struct nschild_reply *reply, struct err *e)
{
	const struct nsinfo_arg *a = arg;
	_cleanup_close_ int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr;

	if (sk < 0)
		return err_errno(e, "read the flags of '%s' in the network namespace of pid %d: socket", a->name, a->pid);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", a->name);
	if (ioctl(sk, SIOCGIFFLAGS, &ifr) < 0)
		return err_errno(e, "read the flags of '%s' in the network namespace of pid %d (SIOCGIFFLAGS)", a->name, a->pid);
	return (unsigned short)ifr.ifr_flags;
}

int nsinfo_read_link_flags(pid_t pid, const char *name, unsigned *flags, struct err *e)
{
	struct nsinfo_arg a = { pid, name };
	char what[64];
	int ret;

	snprintf(what, sizeof(what), "the flags of '%s' in the network namespace", name);
	if ((ret = nsinfo_in_child(pid, "net", CLONE_NEWNET, nsinfo_flags_child, &a, what, NULL, e)) < 0)
		return ret;
	*flags = ret;
	return 0;
}
