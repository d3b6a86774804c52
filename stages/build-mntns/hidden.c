/* hidden: files of the tree that lie under an overmount.
 *
 * A file held open in a directory that something was later mounted over
 * cannot be opened by its path once the namespace is built. While every
 * mount is still detached (nothing on it yet), the directory of each open
 * file on it is opened O_PATH; once the namespace is built, those whose
 * path no longer leads to them are sent to restore-files, which opens the
 * file relative to its directory fd (on the real, now covered, mount).
 */
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "images/files.pb-c.h"
#include "images/image.h"
#include "ipc/fdpass.h"
#include "lib/log.h"
#include "lib/mountinfo.h"
#include "stages/build-mntns/build-mntns.h"

int build_mntns_hidden_open(int dirfd, const struct bm_ns *ns, const int *mfd, struct bm_hidden *h, struct err *e)
{
	struct image img;
	RegFileEntry *re;
	int ret;

	memset(h, 0, sizeof(*h));
	ret = image_open_read(&img, dirfd, "files", "files.img", e);
	if (ret == -ENOENT)
		return 0;
	if (ret < 0)
		return ret;
	while ((ret = image_read(&img, (ProtobufCMessage **)&re, e)) > 0) {
		const char *rel = NULL;
		int m = -1;

		for (int i = 0; re->has_mnt_id && re->path && re->path[0] == '/' && !re->remapped && i < ns->nr; i++)
			if (ns->m[i]->mnt_id == (uint32_t)re->mnt_id)
				m = i;
		if (m >= 0)
			rel = mountinfo_relpath(ns->m[m]->mountpoint, re->path);
		if (rel && *rel) {
			char *d = strdup(rel), *dn = dirname(d);
			int fd = openat(mfd[m], strcmp(dn, ".") ? dn : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);

			if (fd >= 0) {
				h->e = realloc(h->e, (h->nr + 1) * sizeof(*h->e));
				h->e[h->nr].id = re->id;
				h->e[h->nr].dirfd = fd;
				h->e[h->nr++].path = strdup(re->path);
			}
			free(d);
		}
		reg_file_entry__free_unpacked(re, NULL);
	}
	image_close(&img);
	return ret;
}

int build_mntns_hidden_send(struct bm_hidden *h, int sock, struct err *e)
{
	int fds[FDPASS_BATCH], n = 0, ret = 0, sent = 0;
	uint32_t ids[FDPASS_BATCH];

	for (int i = 0; i < h->nr; i++) {
		char *p = strdup(h->e[i].path), *base = basename(p);
		struct stat by_path, by_dir;
		bool hidden = fstatat(h->e[i].dirfd, base, &by_dir, AT_SYMLINK_NOFOLLOW) == 0 &&
			      (stat(h->e[i].path, &by_path) < 0 || by_path.st_dev != by_dir.st_dev ||
			       by_path.st_ino != by_dir.st_ino);

		free(p);
		if (hidden && sock >= 0 && ret >= 0) {
			pr_info("file %u '%s' is under an overmount: reached through its directory", h->e[i].id, h->e[i].path);
			fds[n] = h->e[i].dirfd;
			ids[n++] = h->e[i].id;
			sent++;
			if (n == FDPASS_BATCH) {
				ret = fdpass_send(sock, fds, ids, n, e);
				n = 0;
			}
		}
	}
	if (n && ret >= 0)
		ret = fdpass_send(sock, fds, ids, n, e);
	for (int i = 0; i < h->nr; i++) {
		close(h->e[i].dirfd);
		free(h->e[i].path);
	}
	free(h->e);
	h->nr = 0;
	return ret < 0 ? ret : sent;
}
