/* hidden: files under an overmount, opened through the directory fd
 * build-mntns took before the overmount was mounted (ipc/fds.h). */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc/fdpass.h"
#include "stages/restore-files/reopen.h"

int reopen_hidden_recv(struct reopen *r, int sock, struct err *e)
{
	int fds[FDPASS_BATCH], n;
	uint32_t ids[FDPASS_BATCH];

	while ((n = fdpass_recv(sock, fds, ids, e)) > 0)
		for (int i = 0; i < n; i++) {
			void *m = realloc(r->hidden, (r->nr_hidden + 1) * sizeof(*r->hidden));

			if (!m)
				return err_errnum(e, ENOMEM, "directories of hidden files");
			r->hidden = m;
			r->hidden[r->nr_hidden].id = ids[i];
			r->hidden[r->nr_hidden++].dirfd = fds[i];
		}
	return n < 0 ? n : 0;
}

int reopen_open_path(const struct reopen *r, const RegFileEntry *re, const char *path, int flags)
{
	for (int i = 0; i < r->nr_hidden; i++)
		if (r->hidden[i].id == re->id) {
			const char *base = strrchr(re->path, '/');

			return openat(r->hidden[i].dirfd, base ? base + 1 : re->path, flags);
		}
	return open(path, flags);
}

void reopen_hidden_free(struct reopen *r)
{
	for (int i = 0; i < r->nr_hidden; i++)
		close(r->hidden[i].dirfd);
	free(r->hidden);
	r->hidden = NULL;
	r->nr_hidden = 0;
}
