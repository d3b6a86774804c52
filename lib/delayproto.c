/* delayproto: lines of tab-separated fields (lib/delayproto.h). */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/delayproto.h"
#include "lib/exitcodes.h"

int dp_add(char *buf, size_t size, size_t *len, const char *verb, const char *const *f, int nr, struct err *e)
{
	size_t need = strlen(verb) + 1;

	if (!*verb || strpbrk(verb, "\t\n"))
		return err_set(e, EXIT_USAGE, "message verb '%s' is empty or holds a tab or newline", verb);
	if (nr > DP_MAX_FIELDS)
		return err_set(e, EXIT_USAGE, "message '%s' has %d fields, more than %d", verb, nr, DP_MAX_FIELDS);
	for (int i = 0; i < nr; i++) {
		const char *v = f[i] ? f[i] : "";

		if (strpbrk(v, "\t\n"))
			return err_set(e, EXIT_USAGE, "message '%s': field %d '%s' holds a tab or newline", verb, i, v);
		need += strlen(v) + 1;
	}
	if (*len + need + 1 > size)
		return err_set(e, EXIT_USAGE, "message '%s' does not fit in %zu bytes", verb, size);
	*len += sprintf(buf + *len, "%s", verb);
	for (int i = 0; i < nr; i++)
		*len += sprintf(buf + *len, "\t%s", f[i] ? f[i] : "");
	buf[(*len)++] = '\n';
	buf[*len] = 0;
	return 0;
}

int dp_next(char *buf, size_t len, size_t *pos, struct dp_line *l, struct err *e)
{
	char *p = buf + *pos, *end, *nl;

	if (*pos >= len)
		return 0;
	if (!(nl = memchr(p, '\n', len - *pos)))
		return err_set(e, EXIT_PROTOCOL, "message line '%.*s' has no newline", (int)(len - *pos), p);
	if (memchr(p, 0, nl - p))
		return err_set(e, EXIT_PROTOCOL, "message line holds a NUL");
	*nl = 0;
	*pos = nl + 1 - buf;
	l->verb = p;
	l->nr = 0;
	for (end = strchr(p, '\t'); end; end = strchr(p, '\t')) {
		*end = 0;
		if (l->nr == DP_MAX_FIELDS)
			return err_set(e, EXIT_PROTOCOL, "message '%s' has more than %d fields", l->verb, DP_MAX_FIELDS);
		p = end + 1;
		l->f[l->nr++] = p;
	}
	if (!*l->verb)
		return err_set(e, EXIT_PROTOCOL, "message line with an empty verb");
	return 1;
}

void dp_sock_path(char *buf, size_t size, const char *run)
{
	snprintf(buf, size, "%s/mountd.sock", run);
}

int dp_send(int sock, const char *buf, size_t len, int fd, struct err *e)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { (void *)buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		struct cmsghdr *c;

		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	if (sendmsg(sock, &mh, MSG_NOSIGNAL) != (ssize_t)len)
		return err_errno(e, "send a %zu-byte message to the delayed mounts' manager", len);
	return 0;
}

ssize_t dp_recv(int sock, char *buf, size_t size, int *fd, struct err *e)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { buf, size - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	int got = -1;

	if (n < 0)
		return err_errno(e, "receive a message about delayed mounts");
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&got, CMSG_DATA(c), sizeof(int));
	if (fd)
		*fd = got;
	else if (got >= 0)
		close(got);
	buf[n] = 0;
	if (mh.msg_flags & MSG_TRUNC)
		return err_set(e, EXIT_PROTOCOL, "a message about delayed mounts is longer than %zu bytes", size - 1);
	return n;
}
