/* pageserver: see pageserver.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "images/image.h"
#include "images/pageserver.pb-c.h"
#include "lib/exitcodes.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "ipc/pageserver.h"

int ps_parse_addr(const char *arg, struct sockaddr_storage *ss, socklen_t *len, struct err *e)
{
	char host[128];
	const char *colon = strrchr(arg, ':');
	char *end;
	unsigned long port;
	size_t hl;

	memset(ss, 0, sizeof(*ss));
	if (!colon || colon == arg)
		return err_set(e, EXIT_USAGE, "page server '%s': expected ADDRESS:PORT", arg);
	port = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || port == 0 || port > 65535)
		return err_set(e, EXIT_USAGE, "page server '%s': the port must be 1..65535", arg);
	hl = colon - arg;
	if (arg[0] == '[' && hl >= 2 && arg[hl - 1] == ']') {
		arg++;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		return err_set(e, EXIT_USAGE, "page server '%s': address too long", arg);
	memcpy(host, arg, hl);
	host[hl] = 0;
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		((struct sockaddr_in *)ss)->sin_family = AF_INET;
		((struct sockaddr_in *)ss)->sin_port = htons(port);
		*len = sizeof(struct sockaddr_in);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
		*len = sizeof(struct sockaddr_in6);
		return 0;
	}
	return err_set(e, EXIT_USAGE, "page server '%s': '%s' is not an IPv4 or IPv6 address", arg, host);
}

/* Bounds every read and write on the connection in time. */
static void ps_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = PS_TIMEOUT_S };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int ps_send(int fd, const PsMessage *m, const char *what, struct err *e)
{
	return frame_write_msg(fd, &m->base, what, e);
}

/* The next message, which must be of kind 'want' (0: any). */
static int ps_recv(struct frame_reader *rd, PsMessage__BodyCase want, PsMessage **m, struct err *e)
{
	ProtobufCMessage *msg;
	int ret = frame_next_msg(rd, &ps_message__descriptor, &msg, e);

	if (ret == 0)
		return err_proto(e, "'%s': the peer closed the connection before the end of the session", rd->what);
	if (ret < 0)
		return ret;
	*m = (PsMessage *)msg;
	if (want && (*m)->body_case != want) {
		int got = (*m)->body_case;

		ps_message__free_unpacked(*m, NULL);
		*m = NULL;
		return err_proto(e, "'%s': message %llu is of kind %d where kind %d was expected", rd->what,
				 (unsigned long long)rd->nr, got, want);
	}
	return 0;
}

/* Checks a hello: our protocol and version. */
static int ps_check_hello(const PsHello *h, const char *who, struct err *e)
{
	if (strcmp(h->protocol, PS_PROTOCOL))
		return err_proto(e, "the %s speaks '%s', not '%s'", who, h->protocol, PS_PROTOCOL);
	if (h->version != PS_VERSION)
		return err_proto(e, "the %s speaks %s version %u, this amber version %u; use the same amber version on "
				 "both sides", who, PS_PROTOCOL, h->version, PS_VERSION);
	return 0;
}

bool ps_dir_name_ok(const char *name)
{
	if (!name[0] || !strcmp(name, ".") || !strcmp(name, "..") || strlen(name) >= 256)
		return false;
	for (const char *p = name; *p; p++)
		if (*p == '/' || (unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

bool ps_file_name_ok(const char *name)
{
	const char *p = name + 6;

	if (strncmp(name, "pages-", 6) || !(*p >= '1' && *p <= '9'))
		return false;
	while (*p >= '0' && *p <= '9')
		p++;
	return !strcmp(p, ".img") && p - name <= 6 + 10;
}

int ps_client_open(struct ps_client *c, const char *addr, uint64_t dump_id, const char *dir, struct err *e)
{
	struct sockaddr_storage ss;
	socklen_t len;
	PsMessage m = PS_MESSAGE__INIT, *r = NULL;
	PsHello h = PS_HELLO__INIT;
	int one = 1, ret;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	snprintf(c->addr, sizeof(c->addr), "page server %s", addr);
	if ((ret = ps_parse_addr(addr, &ss, &len, e)) < 0)
		return ret;
	c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return err_errno(e, "make a socket for the %s", c->addr);
	ps_timeouts(c->fd);
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&ss, len) < 0)
		return err_errno(e, "connect to the %s; is 'amber page-server' running there?", c->addr);
	frame_reader_init(&c->rd, c->fd, c->addr, PS_MAX_FRAME);
	h.protocol = PS_PROTOCOL;
	h.version = PS_VERSION;
	h.has_dump_id = true;
	h.dump_id = dump_id;
	h.dir = (char *)dir;
	m.body_case = PS_MESSAGE__BODY_HELLO;
	m.hello = &h;
	if ((ret = ps_send(c->fd, &m, c->addr, e)) < 0)
		return ret;
	if ((ret = ps_recv(&c->rd, 0, &r, e)) < 0)
		return ret;
	if (r->body_case == PS_MESSAGE__BODY_REPLY && !r->reply->ok)
		ret = err_proto(e, "the %s refused the dump: %s", c->addr, r->reply->error ? r->reply->error : "(no reason)");
	else if (r->body_case != PS_MESSAGE__BODY_HELLO)
		ret = err_proto(e, "the %s did not answer with a hello", c->addr);
	else
		ret = ps_check_hello(r->hello, c->addr, e);
	ps_message__free_unpacked(r, NULL);
	return ret;
}

int ps_client_file(struct ps_client *c, const char *name, uint64_t pages, struct err *e)
{
	PsMessage m = PS_MESSAGE__INIT;
	PsFile f = PS_FILE__INIT;

	if (c->left)
		return err_set(e, EXIT_FAILURE_, "internal: '%s' announced while %llu bytes of the last file are missing",
			       name, (unsigned long long)c->left);
	f.name = (char *)name;
	f.pages = pages;
	m.body_case = PS_MESSAGE__BODY_FILE;
	m.file = &f;
	c->left = pages * IMAGE_PAGE_SIZE;
	c->files++;
	c->pages += pages;
	return ps_send(c->fd, &m, c->addr, e);
}

int ps_client_data(struct ps_client *c, const void *buf, size_t len, struct err *e)
{
	const uint8_t *p = buf;

	if (len > c->left)
		return err_set(e, EXIT_FAILURE_, "internal: %zu bytes of pages sent to the %s, %llu announced", len, c->addr,
			       (unsigned long long)c->left);
	while (len) {
		PsMessage m = PS_MESSAGE__INIT;
		size_t n = len > PS_MAX_DATA ? PS_MAX_DATA : len;
		int ret;

		m.body_case = PS_MESSAGE__BODY_DATA;
		m.data.data = (uint8_t *)p;
		m.data.len = n;
		if ((ret = ps_send(c->fd, &m, c->addr, e)) < 0)
			return ret;
		p += n;
		len -= n;
		c->left -= n;
	}
	return 0;
}

int ps_client_finish(struct ps_client *c, struct err *e)
{
	PsMessage m = PS_MESSAGE__INIT, *r = NULL;
	PsEnd end = PS_END__INIT;
	int ret;

	if (c->left)
		return err_set(e, EXIT_FAILURE_, "internal: the last file sent to the %s lacks %llu bytes", c->addr,
			       (unsigned long long)c->left);
	end.files = c->files;
	end.pages = c->pages;
	m.body_case = PS_MESSAGE__BODY_END;
	m.end = &end;
	if ((ret = ps_send(c->fd, &m, c->addr, e)) < 0)
		return ret;
	if ((ret = ps_recv(&c->rd, PS_MESSAGE__BODY_REPLY, &r, e)) < 0)
		return err_wrap(e, "waiting for the %s to store %u files", c->addr, c->files);
	if (!r->reply->ok)
		ret = err_proto(e, "the %s could not store the pages: %s", c->addr,
				r->reply->error ? r->reply->error : "(no reason)");
	else if (r->reply->files != c->files || r->reply->pages != c->pages)
		ret = err_proto(e, "the %s stored %u files and %llu pages, %u and %llu were sent", c->addr, r->reply->files,
				(unsigned long long)r->reply->pages, c->files, (unsigned long long)c->pages);
	ps_message__free_unpacked(r, NULL);
	return ret;
}

void ps_client_close(struct ps_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	frame_reader_free(&c->rd);
}

/* Server side: the files of one session, removed again if it fails. */
struct ps_state {
	int dirfd;
	char **names;		/* files completed (renamed into place) */
	uint32_t nr;
	char tmp[300];		/* the file being written, or "" */
	struct image img;
};

/* Finishes the file being written: header, fsync, rename into place. */
static int ps_file_done(struct ps_state *st, const char *name, struct err *e)
{
	int ret = 0;

	if (fsync(st->img.fd) < 0)
		ret = err_errno(e, "sync '%s'", st->tmp);
	if (ret == 0)
		ret = image_close_write(&st->img, e);
	else
		image_close(&st->img);
	if (ret == 0 && renameat(st->dirfd, st->tmp, st->dirfd, name) < 0)
		ret = err_errno(e, "rename '%s' to '%s'", st->tmp, name);
	if (ret < 0)
		return ret;
	st->tmp[0] = 0;
	if (grow_one(&st->names, st->nr) < 0 || !(st->names[st->nr] = strdup(name)))
		return err_errno(e, "remember '%s'", name);
	st->nr++;
	return 0;
}

/* The session after the hello: files, then the end. */
static int ps_serve_files(struct frame_reader *rd, struct ps_state *st, struct ps_session *s, struct err *e)
{
	uint64_t left = 0;
	char name[256] = "";
	PsMessage *m = NULL;
	int ret;

	for (;;) {
		if ((ret = ps_recv(rd, 0, &m, e)) < 0)
			return ret;
		switch (m->body_case) {
		case PS_MESSAGE__BODY_FILE:
			if (left || st->tmp[0])
				ret = err_proto(e, "file '%s' announced before '%s' was complete", m->file->name, name);
			else if (!ps_file_name_ok(m->file->name))
				ret = err_proto(e, "'%s' is not a pages file name (pages-N.img)", m->file->name);
			else if (m->file->pages > PS_MAX_PAGES || s->files >= PS_MAX_FILES)
				ret = err_proto(e, "'%s': %llu pages, or file %u, is over the limit (%llu pages, %u files)",
						m->file->name, (unsigned long long)m->file->pages, s->files,
						(unsigned long long)PS_MAX_PAGES, PS_MAX_FILES);
			if (ret < 0)
				break;
			snprintf(name, sizeof(name), "%s", m->file->name);
			snprintf(st->tmp, sizeof(st->tmp), ".tmp.%s", name);
			if ((ret = image_open_write(&st->img, st->dirfd, "pages", st->tmp, e)) < 0) {
				st->tmp[0] = 0;
				break;
			}
			image_set_owner(&st->img, image_owner_of_file(name));
			left = m->file->pages * IMAGE_PAGE_SIZE;
			s->files++;
			s->pages += m->file->pages;
			if (!left)
				ret = ps_file_done(st, name, e);
			break;
		case PS_MESSAGE__BODY_DATA:
			if (!st->tmp[0] || m->data.len > left)
				ret = err_proto(e, "%zu bytes of data where %s", m->data.len,
						st->tmp[0] ? "fewer were announced" : "no file was announced");
			else if (write_all(st->img.fd, m->data.data, m->data.len) < 0)
				ret = err_errno(e, "write '%s'", st->tmp);
			if (ret < 0)
				break;
			left -= m->data.len;
			if (!left)
				ret = ps_file_done(st, name, e);
			break;
		case PS_MESSAGE__BODY_END:
			if (st->tmp[0])
				ret = err_proto(e, "the end came while '%s' lacked %llu bytes", name, (unsigned long long)left);
			else if (m->end->files != s->files || m->end->pages != s->pages)
				ret = err_proto(e, "the end counts %u files and %llu pages, %u and %llu came", m->end->files,
						(unsigned long long)m->end->pages, s->files, (unsigned long long)s->pages);
			else if (fsync(st->dirfd) < 0)
				ret = err_errno(e, "sync directory '%s'", s->dir);
			ps_message__free_unpacked(m, NULL);
			return ret < 0 ? ret : 0;
		default:
			ret = err_proto(e, "unexpected message of kind %d", m->body_case);
			break;
		}
		ps_message__free_unpacked(m, NULL);
		m = NULL;
		if (ret < 0)
			return ret;
	}
}

/* Tells the client how it went. */
static void ps_reply(int sock, const struct ps_session *s, const struct err *failed)
{
	PsMessage m = PS_MESSAGE__INIT;
	PsReply r = PS_REPLY__INIT;
	struct err e = { 0 };

	r.ok = !failed;
	r.error = failed ? (char *)failed->msg : NULL;
	r.has_files = r.has_pages = !failed;
	r.files = s->files;
	r.pages = s->pages;
	m.body_case = PS_MESSAGE__BODY_REPLY;
	m.reply = &r;
	if (ps_send(sock, &m, "page-server client", &e) < 0 && !failed)
		pr_warn("could not answer the client of '%s': %s", s->dir, e.msg);
}

int ps_serve(int sock, int topfd, struct ps_session *s, struct err *e)
{
	struct ps_state st = { .dirfd = -1 };
	struct frame_reader rd;
	PsMessage *m = NULL, out = PS_MESSAGE__INIT;
	PsHello h = PS_HELLO__INIT;
	int ret;

	memset(s, 0, sizeof(*s));
	ps_timeouts(sock);
	frame_reader_init(&rd, sock, "page-server client", PS_MAX_FRAME);
	ret = ps_recv(&rd, PS_MESSAGE__BODY_HELLO, &m, e);
	if (ret == 0 && (ret = ps_check_hello(m->hello, "client", e)) == 0) {
		if (!m->hello->has_dump_id || !m->hello->dump_id || !m->hello->dir || !ps_dir_name_ok(m->hello->dir))
			ret = err_proto(e, "the client's hello lacks a dump id or a valid directory name");
		else {
			snprintf(s->dir, sizeof(s->dir), "%s", m->hello->dir);
			s->dump_id = m->hello->dump_id;
		}
	}
	if (m)
		ps_message__free_unpacked(m, NULL);
	if (ret == 0 && mkdirat(topfd, s->dir, 0700) < 0 && errno != EEXIST)
		ret = err_errno(e, "make directory '%s'", s->dir);
	if (ret == 0 && (st.dirfd = openat(topfd, s->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		ret = err_errno(e, "open directory '%s'", s->dir);
	if (ret == 0) {
		image_set_dump_id(s->dump_id);
		h.protocol = PS_PROTOCOL;
		h.version = PS_VERSION;
		out.body_case = PS_MESSAGE__BODY_HELLO;
		out.hello = &h;
		ret = ps_send(sock, &out, "page-server client", e);
	}
	if (ret == 0)
		ret = ps_serve_files(&rd, &st, s, e);
	if (ret < 0) {
		ps_reply(sock, s, e);
		if (st.tmp[0]) {
			image_close(&st.img);
			unlinkat(st.dirfd, st.tmp, 0);
		}
		for (uint32_t i = 0; i < st.nr; i++)
			unlinkat(st.dirfd, st.names[i], 0);
		if (st.nr)
			pr_warn("session of '%s' failed: removed the %u files it had sent", s->dir, st.nr);
	} else {
		ps_reply(sock, s, NULL);
	}
	for (uint32_t i = 0; i < st.nr; i++)
		free(st.names[i]);
	free(st.names);
	if (st.dirfd >= 0)
		close(st.dirfd);
	frame_reader_free(&rd);
	image_set_dump_id(0);
	return ret;
}
