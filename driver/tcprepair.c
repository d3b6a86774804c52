/* tcprepair: see tcprepair.h. The tree is walked through
 * /proc/PID/task/TID/children, each socket reached with pidfd_getfd. */
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "driver/tcprepair.h"
#include "lib/log.h"

#ifndef TCP_REPAIR_OFF_NO_WP
#define TCP_REPAIR_OFF_NO_WP -1
#endif

/* Every socket of pid in repair mode leaves it. */
static void tcprepair_leave_process(pid_t pid)
{
	char path[64], link[64];
	struct dirent *de;
	DIR *d;
	int pidfd = syscall(SYS_pidfd_open, pid, 0);

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	if (pidfd < 0 || !(d = opendir(path))) {
		if (pidfd >= 0)
			close(pidfd);
		return;
	}
	while ((de = readdir(d))) {
		char fdpath[96];
		int fd, on = 0, off = TCP_REPAIR_OFF_NO_WP;
		socklen_t len = sizeof(on);
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(fdpath, sizeof(fdpath), "%s/%s", path, de->d_name);
		if ((n = readlink(fdpath, link, sizeof(link) - 1)) < 0 || strncmp(link, "socket:", 7 < n ? 7 : n))
			continue;
		if ((fd = syscall(SYS_pidfd_getfd, pidfd, atoi(de->d_name), 0)) < 0)
			continue;
		if (getsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &on, &len) == 0 && on == 1 &&
		    setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &off, sizeof(off)) < 0)
			pr_warn("pid %d fd %s: cannot take the TCP connection out of repair mode: %m", pid, de->d_name);
		close(fd);
	}
	closedir(d);
	close(pidfd);
}

void tcprepair_leave_tree(pid_t root)
{
	char path[64], tpath[128];
	struct dirent *de;
	DIR *d;

	tcprepair_leave_process(root);
	snprintf(path, sizeof(path), "/proc/%d/task", root);
	if (!(d = opendir(path)))
		return;
	while ((de = readdir(d))) {
		FILE *f;
		int child;

		if (de->d_name[0] == '.')
			continue;
		snprintf(tpath, sizeof(tpath), "%s/%s/children", path, de->d_name);
		if (!(f = fopen(tpath, "re")))
			continue;
		while (fscanf(f, "%d", &child) == 1)
			tcprepair_leave_tree(child);
		fclose(f);
	}
	closedir(d);
}
