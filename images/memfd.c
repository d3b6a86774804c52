/* memfd: see memfd.h. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "images/image.h"
#include "lib/cleanup.h"
#include "lib/frame.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "images/memfd.h"

#define MEMFD_PREFIX	"/memfd:"
#define MEMFD_TMP_PREFIX	".tmp."
#define MEMFD_CHUNK	(1u << 20)	/* bytes copied at once */

const char *memfd_name_of(const char *path)
{
	if (strncmp(path, MEMFD_PREFIX, strlen(MEMFD_PREFIX)))
		return NULL;
	return path + strlen(MEMFD_PREFIX);
}

void memfd_image_names(uint64_t ino, char *entry, size_t entry_len, char *pages, size_t pages_len)
{
	snprintf(entry, entry_len, "memfd-%" PRIu64 ".img", ino);
	snprintf(pages, pages_len, "pages-memfd-%" PRIu64 ".img", ino);
}

static uint64_t memfd_round_up(uint64_t n)
{
	return (n + MEMFD_PAGE - 1) & ~(MEMFD_PAGE - 1);
}

/* Adds the pages [from, to) to the runs, joining a run they continue
 * (a run holds at most UINT32_MAX pages). */
static int memfd_add_run(MemfdRun **runs, size_t *nr, size_t *cap, uint64_t from, uint64_t to, struct err *e)
{
	uint64_t pages = (to - from) / MEMFD_PAGE;

	while (pages) {
		MemfdRun *last = *nr ? &(*runs)[*nr - 1] : NULL;
		uint64_t now;

		if (last && last->offset + (uint64_t)last->nr_pages * MEMFD_PAGE == from && last->nr_pages < UINT32_MAX) {
			now = pages < UINT32_MAX - last->nr_pages ? pages : UINT32_MAX - last->nr_pages;
			last->nr_pages += now;
		} else {
			if (grow_cap(runs, cap, *nr + 1) < 0)
				return err_errno(e, "remember the data runs of a memfd");
			now = pages < UINT32_MAX ? pages : UINT32_MAX;
			memfd_run__init(&(*runs)[*nr]);
			(*runs)[*nr].offset = from;
			(*runs)[(*nr)++].nr_pages = now;
		}
		from += now * MEMFD_PAGE;
		pages -= now;
	}
	return 0;
}

/* Gives m the runs as one allocation: the pointer array, then the runs. */
static int memfd_set_runs(MemfdEntry *m, const MemfdRun *runs, size_t nr, struct err *e)
{
	MemfdRun **p, *copy;

	m->data = NULL;
	m->n_data = 0;
	if (!nr)
		return 0;	/* all holes */
	p = malloc(nr * (sizeof(*p) + sizeof(*runs)));
	if (!p)
		return err_errno(e, "describe the data of memfd '%s'", m->name);
	copy = (MemfdRun *)(p + nr);
	memcpy(copy, runs, nr * sizeof(*runs));
	for (size_t i = 0; i < nr; i++)
		p[i] = &copy[i];
	m->data = p;
	m->n_data = nr;
	return 0;
}

int memfd_describe(int fd, MemfdEntry *m, struct err *e)
{
	_cleanup_free_ MemfdRun *runs = NULL;
	size_t nr = 0, cap = 0;
	struct stat st;
	uint64_t pos = 0, end;
	int seals, ret;

	if (fstat(fd, &st) < 0)
		return err_errno(e, "stat memfd '%s'", m->name);
	m->size = st.st_size;
	m->has_mode = m->has_uid = m->has_gid = true;
	m->mode = st.st_mode & 07777;
	m->uid = st.st_uid;
	m->gid = st.st_gid;
	seals = fcntl(fd, F_GET_SEALS);
	m->has_seals = seals >= 0;
	m->seals = seals >= 0 ? seals : 0;
	end = memfd_round_up(m->size);
	while (pos < m->size) {
		off_t d = lseek(fd, pos, SEEK_DATA), h;

		if (d < 0 && errno == ENXIO)
			break;
		if (d < 0)
			return err_errno(e, "find the data of memfd '%s' (SEEK_DATA at %" PRIu64 ")", m->name, pos);
		if ((uint64_t)d >= m->size)
			break;
		h = lseek(fd, d, SEEK_HOLE);
		if (h < 0)
			return err_errno(e, "find the holes of memfd '%s' (SEEK_HOLE at %lld)", m->name, (long long)d);
		pos = memfd_round_up(h) < end ? memfd_round_up(h) : end;
		if ((ret = memfd_add_run(&runs, &nr, &cap, d & ~(MEMFD_PAGE - 1), pos, e)) < 0)
			return ret;
	}
	return memfd_set_runs(m, runs, nr, e);
}

void memfd_clear(MemfdEntry *m)
{
	free(m->data);
	m->data = NULL;
	m->n_data = 0;
}

/* Reads len bytes at off of fd into buf; what lies past the end is zero. */
static int memfd_pread_full(int fd, uint8_t *buf, size_t len, uint64_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, off + got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += n;
	}
	memset(buf + got, 0, len - got);
	return 0;
}

/* Writes m's two images under the names entry and pages (the temporary
 * ones), the pages first. */
static int memfd_write(int dirfd, int fd, const MemfdEntry *m, const char *entry, const char *pages, struct err *e)
{
	_cleanup_free_ uint8_t *buf = malloc(MEMFD_CHUNK);
	struct image img;
	int ret;

	if (!buf)
		return err_errno(e, "allocate a buffer for memfd '%s'", m->name);
	if ((ret = image_open_write(&img, dirfd, "pages", pages, e)) < 0)
		return ret;
	/* Written under a temporary name: the owner is what the final one says. */
	image_set_owner(&img, m->ino);
	for (size_t i = 0; ret == 0 && i < m->n_data; i++) {
		uint64_t off = m->data[i]->offset, left = (uint64_t)m->data[i]->nr_pages * MEMFD_PAGE;

		while (ret == 0 && left) {
			size_t n = left > MEMFD_CHUNK ? MEMFD_CHUNK : left;

			if ((ret = memfd_pread_full(fd, buf, n, off)) < 0)
				ret = err_errnum(e, -ret, "read memfd '%s' at offset %" PRIu64, m->name, off);
			else if ((ret = write_all(img.fd, buf, n)) < 0)
				ret = err_errnum(e, -ret, "write image '%s'", pages);
			off += n;
			left -= n;
		}
	}
	if (ret < 0) {
		image_close(&img);
		return ret;
	}
	if ((ret = image_close_write(&img, e)) < 0)
		return ret;
	if ((ret = image_open_write(&img, dirfd, "memfd", entry, e)) < 0)
		return ret;
	image_set_owner(&img, m->ino);
	if ((ret = image_write(&img, &m->base, e)) < 0) {
		image_close(&img);
		return ret;
	}
	return image_close_write(&img, e);
}

void memfd_tmp_name(const char *final, pid_t pid, char *tmp, size_t len)
{
	snprintf(tmp, len, MEMFD_TMP_PREFIX "%s.%d", final, (int)pid);
}

/* Does 'name' exist in dirfd? 1 yes, 0 no, <0 errno. */
static int memfd_exists(int dirfd, const char *name)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	return errno == ENOENT ? 0 : -errno;
}

int memfd_save(int dirfd, int fd, const MemfdEntry *m, struct err *e)
{
	char entry[64], pages[64], tentry[96], tpages[96];
	int ret;

	memfd_image_names(m->ino, entry, sizeof(entry), pages, sizeof(pages));
	/* The other stage may have saved it already: no need to read it all. */
	if ((ret = memfd_exists(dirfd, pages)) != 0)
		return ret < 0 ? err_errnum(e, -ret, "look for image '%s'", pages) : 0;
	memfd_tmp_name(entry, getpid(), tentry, sizeof(tentry));
	memfd_tmp_name(pages, getpid(), tpages, sizeof(tpages));
	ret = memfd_write(dirfd, fd, m, tentry, tpages, e);
	if (ret == 0)
		ret = memfd_publish(dirfd, tentry, tpages, entry, pages, e);
	unlinkat(dirfd, tentry, 0);
	unlinkat(dirfd, tpages, 0);
	return ret;
}

int memfd_publish(int dirfd, const char *tentry, const char *tpages, const char *entry, const char *pages,
		  struct err *e)
{
	/* linkat refuses an existing name (EEXIST) and works on every file
	 * system with hard links, where renameat2's RENAME_NOREPLACE does not. */
	if (linkat(dirfd, tpages, dirfd, pages, 0) < 0) {
		if (errno == EEXIST) {
			pr_debug("image '%s' was published by another stage: this copy is dropped", pages);
			return 0;
		}
		return err_errno(e, "publish image '%s' as '%s'", tpages, pages);
	}
	/* The entry last: restore reads it first, so it is what says both are whole. */
	if (linkat(dirfd, tentry, dirfd, entry, 0) < 0) {
		int ret = err_errno(e, "publish image '%s' as '%s'", tentry, entry);

		unlinkat(dirfd, pages, 0);
		return ret;
	}
	return 1;
}

/* Is n the name of a memfd image (memfd-INO.img, pages-memfd-INO.img)? */
static bool memfd_is_image(const char *n)
{
	return !strncmp(n, "memfd-", 6) || !strncmp(n, "pages-memfd-", 12);
}

int memfd_remove_images(int dirfd, bool tmp_only, struct err *e)
{
	/* A description of its own: a dup would share (and move) dirfd's offset. */
	_cleanup_close_ int dfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;
	struct dirent *de;
	int ret = 0;

	if (dfd < 0 || !(d = fdopendir(dfd)))
		return err_errno(e, "list the images directory");
	dfd = -1;	/* d owns it now */
	while ((de = readdir(d))) {
		const char *n = de->d_name;
		bool tmp = !strncmp(n, MEMFD_TMP_PREFIX, strlen(MEMFD_TMP_PREFIX));

		if (memfd_is_image(tmp ? n + strlen(MEMFD_TMP_PREFIX) : n) && (tmp || !tmp_only) &&
		    unlinkat(dirfd, n, 0) < 0 && errno != ENOENT && ret == 0)
			ret = err_errno(e, "remove image '%s'", n);
	}
	closedir(d);
	return ret;
}

int memfd_check(const MemfdEntry *m, const char *pages, uint64_t data_bytes, struct err *e)
{
	uint64_t prev_end = 0, total = 0, limit = memfd_round_up(m->size);

	for (size_t i = 0; i < m->n_data; i++) {
		uint64_t off = m->data[i]->offset, len = (uint64_t)m->data[i]->nr_pages * MEMFD_PAGE;

		if (off % MEMFD_PAGE)
			return err_input(e, "memfd-%" PRIu64 ".img: run %zu starts at offset %" PRIu64 ", not on a page",
					 m->ino, i, off);
		if (!len)
			return err_input(e, "memfd-%" PRIu64 ".img: run %zu at offset %" PRIu64 " is empty", m->ino, i, off);
		if (i && off < prev_end)
			return err_input(e, "memfd-%" PRIu64 ".img: run %zu at offset %" PRIu64 " overlaps or comes before the run before it",
					 m->ino, i, off);
		if (off > limit || len > limit - off)
			return err_input(e, "memfd-%" PRIu64 ".img: run %zu (%" PRIu64 " bytes at offset %" PRIu64
					 ") ends past the memfd's %" PRIu64 " bytes", m->ino, i, len, off, m->size);
		prev_end = off + len;
		total += len;
	}
	if (total > data_bytes)
		return err_input(e, "image '%s' is truncated: it holds %" PRIu64 " bytes of memfd '%s', memfd-%" PRIu64
				 ".img says %" PRIu64 "; dump again", pages, data_bytes, m->name, m->ino, total);
	if (total < data_bytes)
		return err_input(e, "image '%s' holds %" PRIu64 " bytes, more than the %" PRIu64 " of memfd '%s' in memfd-%"
				 PRIu64 ".img: the two do not belong together", pages, data_bytes, total, m->name, m->ino);
	return 0;
}

/* Copies m's runs from the pages image (data at 'base') into the new memfd. */
static int memfd_fill(int fd, const MemfdEntry *m, int pages_fd, uint64_t base, const char *pages, struct err *e)
{
	_cleanup_free_ uint8_t *buf = malloc(MEMFD_CHUNK);
	uint64_t from = base;

	if (!buf)
		return err_errno(e, "allocate a buffer for memfd '%s'", m->name);
	for (size_t i = 0; i < m->n_data; i++) {
		uint64_t off = m->data[i]->offset, left = (uint64_t)m->data[i]->nr_pages * MEMFD_PAGE;

		for (; left && off < m->size;) {
			size_t n = left > MEMFD_CHUNK ? MEMFD_CHUNK : left;
			/* The last page's bytes past the size would grow the memfd. */
			size_t keep = off + n > m->size ? m->size - off : n;
			int ret = memfd_pread_full(pages_fd, buf, n, from);

			if (ret < 0)
				return err_errnum(e, -ret, "read image '%s' at %" PRIu64, pages, from);
			if (pwrite(fd, buf, keep, off) != (ssize_t)keep)
				return err_errno(e, "write %zu bytes into memfd '%s' at offset %" PRIu64, keep, m->name, off);
			off += n;
			from += n;
			left -= n;
		}
		from += left;
	}
	return 0;
}

int memfd_restore(int dirfd, uint64_t ino, MemfdEntry **out, struct err *e)
{
	char entry[64], pages[64];
	MemfdEntry *m = NULL;
	struct image img;
	struct stat st;
	_cleanup_close_ int fd = -1;
	bool sealing;
	int ret;

	*out = NULL;
	memfd_image_names(ino, entry, sizeof(entry), pages, sizeof(pages));
	if ((ret = image_read_one(dirfd, "memfd", entry, (ProtobufCMessage **)&m, e)) < 0)
		return ret;
	*out = m;
	if (m->ino != ino)
		return err_input(e, "image '%s' describes inode %" PRIu64 ", not %" PRIu64, entry, m->ino, ino);
	if ((ret = image_open_read(&img, dirfd, "pages", pages, e)) < 0)
		return ret;
	if (fstat(img.fd, &st) < 0) {
		ret = err_errno(e, "stat image '%s'", pages);
	} else {
		uint64_t data = (uint64_t)st.st_size > img.rd.offset ? st.st_size - img.rd.offset : 0;

		ret = memfd_check(m, pages, data, e);
	}
	/* Without MFD_ALLOW_SEALING a memfd is born sealed with F_SEAL_SEAL. */
	sealing = m->has_seals && m->seals != F_SEAL_SEAL;
	if (ret == 0 && (fd = memfd_create(m->name, MFD_CLOEXEC | (sealing ? MFD_ALLOW_SEALING : 0))) < 0)
		ret = err_errno(e, "make memfd '%s' again (memfd_create)", m->name);
	if (ret == 0 && ftruncate(fd, m->size) < 0)
		ret = err_errno(e, "size memfd '%s' to %" PRIu64 " bytes", m->name, m->size);
	if (ret == 0)
		ret = memfd_fill(fd, m, img.fd, img.rd.offset, pages, e);
	image_close(&img);
	if (ret < 0)
		return ret;
	if (m->has_mode && fchmod(fd, m->mode) < 0)
		pr_warn("memfd '%s': cannot give it mode %#o: %m", m->name, m->mode);
	if (m->has_uid && fchown(fd, m->uid, m->has_gid ? m->gid : (gid_t)-1) < 0)
		pr_warn("memfd '%s': cannot give it owner %u:%u: %m", m->name, m->uid, m->gid);
	/* Seals last: F_SEAL_WRITE or F_SEAL_GROW would have refused the refill. */
	if (sealing && m->seals && fcntl(fd, F_ADD_SEALS, m->seals) < 0)
		return err_errno(e, "seal memfd '%s' with %#x", m->name, m->seals);
	return TAKE_FD(fd);
}
