/* pageserver: amber's page-server protocol, both ends.
 *
 * 'amber dump/pre-dump --page-server A:N' sends the pages files of a dump
 * (pages-PID.img) over TCP to 'amber page-server' (stages/page-server),
 * which writes them into DIR/NAME/ of its own images directory, NAME being
 * the dump directory's name; the other images are written locally as
 * usual. Messages are PsMessage (images/pageserver.proto), u32-length
 * framed (lib/frame.h), at most PS_MAX_FRAME bytes; a data message holds at
 * most PS_MAX_DATA bytes. The session:
 *
 *	client: hello (protocol, version, dump id, dir)
 *	server: hello (protocol, version)   or a reply with ok false, then close
 *	client: file (name, pages), then data until the file has its pages;
 *		as many files as it has
 *	client: end (files, pages)
 *	server: reply (ok, files, pages) once every file is complete on disk
 *		(written under .tmp.NAME, its header finished, fsynced, then
 *		renamed), or ok false with the reason
 *
 * Anything else (another version, a message out of order, a file name
 * that is not pages-N.img, more or less data than announced, a frame over
 * the limit, EOF before the end) ends the session with an error reply, and
 * the server removes every file of that session: a dump whose pages did not
 * all arrive leaves none. Both ends time out after PS_TIMEOUT_S seconds of
 * silence. doc/protocol.md, "Page server".
 */
#ifndef AMBER_PAGESERVER_H
#define AMBER_PAGESERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "lib/err.h"
#include "lib/frame.h"

#define PS_PROTOCOL	"amber-pages"
#define PS_VERSION	1u
#define PS_MAX_DATA	(4u << 20)
#define PS_MAX_FRAME	(PS_MAX_DATA + 4096u)
#define PS_MAX_FILES	65536u
#define PS_MAX_PAGES	(1ull << 28)	/* per file: 1 TiB */
#define PS_TIMEOUT_S	60

/* Parses "A:N" (an IPv4 address or [IPv6]:N; N 1..65535) into ss. */
int ps_parse_addr(const char *arg, struct sockaddr_storage *ss, socklen_t *len, struct err *e);

struct ps_client {
	int fd;
	char addr[128];
	struct frame_reader rd;
	uint32_t files;
	uint64_t pages;
	uint64_t left;		/* bytes the current file still needs */
};

/* Connects to the page server at addr ("A:N") and says hello for dump
 * dump_id whose directory is named dir; checks the server's hello. */
int ps_client_open(struct ps_client *c, const char *addr, uint64_t dump_id, const char *dir, struct err *e);
/* Announces a pages file of 'pages' pages; its data follows. */
int ps_client_file(struct ps_client *c, const char *name, uint64_t pages, struct err *e);
/* Sends the next len bytes of the current file (cut into PS_MAX_DATA pieces). */
int ps_client_data(struct ps_client *c, const void *buf, size_t len, struct err *e);
/* Sends the end and waits for the server to say every file is on disk. */
int ps_client_finish(struct ps_client *c, struct err *e);
void ps_client_close(struct ps_client *c);

/* What one session brought. */
struct ps_session {
	char dir[256];		/* the client's directory name */
	uint64_t dump_id;
	uint32_t files;
	uint64_t pages;
};

/* Serves one connected client: writes its files into topfd/DIR/ and
 * answers. On an error the client is told why (best effort), the
 * session's files are removed, and the error is returned. */
int ps_serve(int sock, int topfd, struct ps_session *s, struct err *e);

/* Whether name is a dump directory name the server accepts: one path
 * component, not "." or "..", no control characters. */
bool ps_dir_name_ok(const char *name);
/* Whether name is a pages file the protocol carries: pages-N.img. */
bool ps_file_name_ok(const char *name);

#endif
