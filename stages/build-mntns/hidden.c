/* hidden: files and directories of the tree that lie under an overmount.
 *
 * A file held open in a directory that something was later mounted over
 * cannot be opened by its path once the namespace is built, nor can a
 * task's working directory or root there be reached. While every mount is
 * still detached (nothing on it yet), the directory of each open file on
 * it, and each task's cwd and root (by the mount ids fs-PID.img records),
 * are opened O_PATH; once the namespace is built, those whose path no
 * longer leads to them are sent to restore-files, which opens the file
 * relative to its directory fd (on the real, now covered, mount) and hands
 * a cwd or root on to restore-tasks.
 */
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "images/files.pb-c.h"
#include "images/fs.pb-c.h"
#include "images/image.h"
#include "ipc/fdpass.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "lib/mountinfo.h"
#include "stages/build-mntns/build-mntns.h"

/* Remembers fd (path's directory, or path itself) under id. */
static int bm_hidden_add(struct bm_hidden *h, uint32_t id, int fd, const char *path, bool self, struct err *e)
{
	if (grow_one(&h->e, h->nr) < 0) {
		close(fd);
		return err_errnum(e, ENOMEM, "directories under overmounts");
	}
	h->e[h->nr].id = id;
	h->e[h->nr].dirfd = fd;
	h->e[h->nr].self = self;
	h->e[h->nr++].path = strdup(path);
	return 0;
}

/* The index in ns of mount id, or -1. */
static int bm_hidden_mount(const struct bm_ns *ns, uint32_t id)
{
	for (int i = 0; i < ns->nr; i++)
		if (ns->m[i]->mnt_id == id)
			return i;
	return -1;
}

/* Opens directory path of mount mnt_id (a task's cwd or root) on its
 * detached mount, as id. A dump without mount ids (older images) or a
 * directory gone from the mount leaves it to its path. */
static int bm_hidden_dir(struct bm_hidden *h, const struct bm_ns *ns, const int *mfd, uint32_t id, bool has_mnt,
			 uint32_t mnt_id, const char *path, struct err *e)
{
	int m = has_mnt && path[0] == '/' ? bm_hidden_mount(ns, mnt_id) : -1;
	const char *rel = m >= 0 ? mountinfo_relpath(ns->m[m]->mountpoint, path) : NULL;
	int fd;

	if (!rel)
		return 0;
	fd = openat(mfd[m], *rel ? rel : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? 0 : bm_hidden_add(h, id, fd, path, true, e);
}

/* The cwd and root of every task of ns (fs-PID.img). */
static int bm_hidden_fs(int dirfd, const struct bm_ns *ns, const int *mfd, struct bm_hidden *h, struct err *e)
{
	int ret = 0;

	for (size_t k = 0; k < ns->nr_pids && ret >= 0; k++) {
		uint32_t pid = ns->pids[k];
		FsEntry *fs;
		char name[64];

		snprintf(name, sizeof(name), "fs-%u.img", pid);
		if (image_read_one(dirfd, "fs", name, (ProtobufCMessage **)&fs, e) < 0) {
			ret = 0;	/* a zombie has none; restore-tasks names what is missing */
			continue;
		}
		ret = bm_hidden_dir(h, ns, mfd, FDPASS_ID_CWD | pid, fs->has_cwd_mnt_id, fs->cwd_mnt_id, fs->cwd, e);
		if (ret >= 0 && strcmp(fs->root, "/"))
			ret = bm_hidden_dir(h, ns, mfd, FDPASS_ID_ROOT | pid, fs->has_root_mnt_id, fs->root_mnt_id, fs->root, e);
		fs_entry__free_unpacked(fs, NULL);
	}
	return ret;
}

int build_mntns_hidden_open(int dirfd, const struct bm_ns *ns, const int *mfd, struct bm_hidden *h, struct err *e)
{
	struct image img;
	RegFileEntry *re;
	int ret;

	memset(h, 0, sizeof(*h));
	if ((ret = bm_hidden_fs(dirfd, ns, mfd, h, e)) < 0)
		return ret;
	ret = image_open_read(&img, dirfd, "files", "files.img", e);
	if (ret == -ENOENT)
		return 0;
	if (ret < 0)
		return ret;
	while ((ret = image_read(&img, (ProtobufCMessage **)&re, e)) > 0) {
		const char *rel = NULL;
		int m = -1;

		/* The id goes with the fd to restore-files, whose high bits
		 * would read as a directory's flags (ipc/fdpass.h). */
		if ((ret = image_check_id(&img, "file id", re->id, IMAGE_MAX_FILE_ID, e)) < 0) {
			reg_file_entry__free_unpacked(re, NULL);
			break;
		}
		for (int i = 0; re->has_mnt_id && re->path && re->path[0] == '/' && !re->remapped && i < ns->nr; i++)
			if (ns->m[i]->mnt_id == (uint32_t)re->mnt_id)
				m = i;
		if (m >= 0)
			rel = mountinfo_relpath(ns->m[m]->mountpoint, re->path);
		/* A directory is taken itself: its own name may be what was
		 * mounted over, which a lookup from its parent would cross. */
		if (rel && re->has_mode && S_ISDIR(re->mode)) {
			int fd = openat(mfd[m], *rel ? rel : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);

			if (fd >= 0 && (ret = bm_hidden_add(h, re->id, fd, re->path, true, e)) < 0) {
				reg_file_entry__free_unpacked(re, NULL);
				break;
			}
		} else if (rel && *rel) {
			char *d = strdup(rel), *dn = dirname(d);
			int fd = openat(mfd[m], strcmp(dn, ".") ? dn : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);

			free(d);
			if (fd >= 0 && (ret = bm_hidden_add(h, re->id, fd, re->path, false, e)) < 0) {
				reg_file_entry__free_unpacked(re, NULL);
				break;
			}
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
		bool hidden = fstatat(h->e[i].dirfd, h->e[i].self ? "" : base, &by_dir,
				      AT_SYMLINK_NOFOLLOW | (h->e[i].self ? AT_EMPTY_PATH : 0)) == 0 &&
			      (stat(h->e[i].path, &by_path) < 0 || by_path.st_dev != by_dir.st_dev ||
			       by_path.st_ino != by_dir.st_ino);

		free(p);
		if (hidden && sock >= 0 && ret >= 0) {
			if (!h->e[i].self)
				pr_info("file %u '%s' is under an overmount: reached through its directory", h->e[i].id,
					h->e[i].path);
			else
				pr_info("the %s '%s' of pid %u is under an overmount: passed on as a directory fd",
					h->e[i].id & FDPASS_ID_CWD ? "working directory" : "root", h->e[i].path,
					h->e[i].id & FDPASS_ID_PID);
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
