/* image: see image.h. */
#include <endian.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "images/image.h"
#include "images/core.pb-c.h"
#include "images/files.pb-c.h"
#include "images/fs.pb-c.h"
#include "images/inventory.pb-c.h"
#include "images/mm.pb-c.h"
#include "images/mnt.pb-c.h"
#include "images/ns.pb-c.h"
#include "images/pagemap.pb-c.h"
#include "images/pstree.pb-c.h"
#include "lib/exitcodes.h"
#include "lib/cleanup.h"
#include "lib/grow.h"
#include "lib/log.h"

/* Per-kind magics are arbitrary but fixed forever once released. */
static const struct image_kind image_kind_table[] = {
	{ "inventory", 0x494e5601, &inventory_entry__descriptor, "what the dump holds; written last" },
	{ "pstree",    0x50535401, &pstree_entry__descriptor,    "process tree: pids, parents, groups, sessions, threads" },
	{ "core",      0x434f5201, &core_entry__descriptor,      "one thread: registers, FPU/xstate, signals" },
	{ "mm",        0x4d4d0001, &mm_entry__descriptor,        "one process: VMAs and mm fields" },
	{ "pagemap",   0x50474d01, NULL,                         "one process: which pages are in which pages image" },
	{ "pages",     0x50474501, NULL,                         "raw page contents" },
	{ "fs",        0x46530001, &fs_entry__descriptor,        "one process: cwd and root" },
	{ "fdinfo",    0x46444901, &fdinfo_entry__descriptor,    "one process: descriptor -> open file" },
	{ "files",     0x46494c01, &reg_file_entry__descriptor,  "open file descriptions of the tree" },
	{ "pipedata",  0x50504401, &pipe_data_entry__descriptor, "bytes buffered in the tree's pipes" },
	{ "remaps",    0x524d5001, &remap_entry__descriptor,     "how to reach files unlinked while open (link remaps, ghosts)" },
	{ "ghost",     0x47485401, &ghost_file_entry__descriptor, "contents of an unlinked file that could not be linked" },
	{ "memfd",     0x4d464401, &memfd_entry__descriptor,     "a memfd the tree maps; its contents in pages-memfd-INO.img" },
	{ "mntns",     0x4d4e5301, &mntns_entry__descriptor,     "mount namespaces the tree made: which tasks, which root mount" },
	{ "mountpoints", 0x4d4e5401, &mnt_entry__descriptor,     "one mount namespace: its mounts, parents first" },
	{ "tmpfs",     0x544d5001, &tmpfs_file_entry__descriptor, "contents of a tmpfs only the tree had" },
	{ "utsns",     0x55545301, &utsns_entry__descriptor,     "UTS namespaces the tree made: which tasks, hostname, domainname" },
	{ "ipcns",     0x49504301, &ipcns_entry__descriptor,     "IPC namespaces the tree made (empty ones): which tasks" },
	{ "netns",     0x4e455401, &netns_entry__descriptor,     "network namespaces the tree made: which tasks, devices, addresses, routes, sysctls" },
	{ NULL, 0, NULL, NULL },
};

const struct image_kind *image_kinds(void) { return image_kind_table; }

const struct image_kind *image_kind_by_name(const char *name)
{
	for (const struct image_kind *k = image_kind_table; k->name; k++)
		if (!strcmp(k->name, name))
			return k;
	return NULL;
}

const struct image_kind *image_kind_by_magic(uint32_t magic)
{
	for (const struct image_kind *k = image_kind_table; k->name; k++)
		if (k->magic == magic)
			return k;
	return NULL;
}

const struct image_kind *image_kind_of_file(const char *filename)
{
	size_t n = strlen(filename);

	if (n < 5 || strcmp(filename + n - 4, ".img"))
		return NULL;
	for (const struct image_kind *k = image_kind_table; k->name; k++) {
		size_t kl = strlen(k->name);

		if (!strncmp(filename, k->name, kl) && (filename[kl] == '.' || filename[kl] == '-'))
			return k;
	}
	return NULL;
}

int image_openat(int dirfd, const char *filename, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = flags | O_NOFOLLOW | O_CLOEXEC,
		.mode = (flags & O_CREAT) ? mode : 0,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS,
	};
	bool reading = !(flags & (O_CREAT | O_WRONLY));
	struct stat st;
	int fd;

	/* A FIFO or device named like an image must not block or be read:
	 * open without blocking, then refuse anything but a regular file. */
	if (reading)
		how.flags |= O_NONBLOCK;
	fd = syscall(SYS_openat2, dirfd, filename, &how, sizeof(how));
	if (fd < 0 && errno == ENOSYS)
		fd = openat(dirfd, filename, how.flags, how.mode);
	if (fd < 0 || !reading)
		return fd;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

/* The pagemap kind carries two message types; the head comes first. */
static const ProtobufCMessageDescriptor *image_record_desc(const struct image *img)
{
	if (!strcmp(img->kind->name, "pagemap"))
		return img->rd.nr == 0 ? &pagemap_head__descriptor : &pagemap_entry__descriptor;
	return img->kind->desc;
}

/* ---- the dump an image belongs to ------------------------------------ */

/* The process's dump id and, for readers that were not given one, the
 * inventory id of the last directory read. Set once at a stage's start
 * (or lazily by the first read) and read-only after, like the log's
 * settings: every image of a process belongs to one dump. */
static struct {
	uint64_t set;		/* image_set_dump_id */
	bool cached;		/* dir_* below are valid */
	dev_t dir_dev;
	ino_t dir_ino;
	uint64_t dir_id;	/* inventory.img's id for that directory */
} image_dump;

void image_set_dump_id(uint64_t id)
{
	image_dump.set = id;
	image_dump.cached = false;
}

uint64_t image_dump_id(void)
{
	return image_dump.set;
}

int image_dir_dump_id(int dirfd, uint64_t *id, struct err *e)
{
	struct image inv;
	struct stat st;
	int ret;

	if (image_dump.set) {
		*id = image_dump.set;
		return 0;
	}
	if (fstat(dirfd, &st) < 0)
		return err_errno(e, "stat the images directory");
	if (image_dump.cached && image_dump.dir_dev == st.st_dev && image_dump.dir_ino == st.st_ino) {
		*id = image_dump.dir_id;
		return 0;
	}
	ret = image_open_inspect(&inv, dirfd, "inventory", "inventory.img", e);
	if (ret == -ENOENT) {
		err_input(e, "inventory.img is missing, so no image of this directory can be checked against its dump: "
			  "the dump is incomplete (it failed, or is still running)");
		return -ENOENT;
	}
	if (ret < 0)
		return ret;
	ret = image_check(&inv, 0, e);
	*id = inv.hdr.dump_id;
	image_close(&inv);
	if (ret < 0)
		return ret;
	if (!*id)
		return err_input(e, "inventory.img has no dump id (0); it is corrupt");
	image_dump.cached = true;
	image_dump.dir_dev = st.st_dev;
	image_dump.dir_ino = st.st_ino;
	image_dump.dir_id = *id;
	return 0;
}

uint64_t image_owner_of_file(const char *filename)
{
	size_t n = strlen(filename);
	const char *end, *p;
	uint64_t v = 0;

	if (n < 5 || strcmp(filename + n - 4, ".img"))
		return 0;
	end = filename + n - 4;
	for (p = end; p > filename && p[-1] != '-'; p--)
		;
	if (p <= filename + 1 || p == end)
		return 0;	/* no "KIND-" before it, or no digits */
	for (; p < end; p++) {
		if (*p < '0' || *p > '9' || v > (UINT64_MAX - (*p - '0')) / 10)
			return 0;
		v = v * 10 + (*p - '0');
	}
	return v;
}

/* What an image's owner is, for messages. */
static const char *image_owner_noun(const struct image *img)
{
	static const struct { const char *prefix, *noun; } nouns[] = {
		{ "pages-memfd-", "memfd inode" }, { "memfd-", "memfd inode" }, { "core-", "thread" },
		{ "mountpoints-", "mount namespace" }, { "tmpfs-", "mount" }, { "ghost-", "ghost file" },
	};

	for (size_t i = 0; i < sizeof(nouns) / sizeof(nouns[0]); i++)
		if (!strncmp(img->name, nouns[i].prefix, strlen(nouns[i].prefix)))
			return nouns[i].noun;
	return "process";
}

/* ---- reading ----------------------------------------------------------- */

static void image_hdr_from_disk(struct image_header *h)
{
	h->magic = le32toh(h->magic);
	h->kind = le32toh(h->kind);
	h->version = le32toh(h->version);
	h->hdr_size = le32toh(h->hdr_size);
	h->dump_id = le64toh(h->dump_id);
	h->owner = le64toh(h->owner);
	h->flags = le32toh(h->flags);
	h->reserved = le32toh(h->reserved);
	h->count = le64toh(h->count);
	h->body = le64toh(h->body);
}

static struct image_header image_hdr_to_disk(const struct image_header *h)
{
	return (struct image_header){
		htole32(h->magic), htole32(h->kind), htole32(h->version), htole32(h->hdr_size),
		htole64(h->dump_id), htole64(h->owner), htole32(h->flags), htole32(h->reserved),
		htole64(h->count), htole64(h->body),
	};
}

_Static_assert(sizeof(struct image_header) == IMAGE_HDR_SIZE, "the on-disk header is 56 bytes");

static bool image_is_pages(const struct image_kind *k)
{
	return !strcmp(k->name, "pages");
}

/* Checks the format of the header just read (got bytes of it): what a
 * reader needs to know before it can read anything else. */
static int image_check_format(struct image *img, const struct image_kind *want, ssize_t got, struct err *e)
{
	const struct image_header *h = &img->hdr;
	const char *name = img->name;
	uint32_t want_size;

	/* The fields are checked in file order, so a short or older header
	 * is reported by what it does hold. */
	if (got < 4)
		return err_input(e, "image '%s' is truncated: %zd of %u header bytes", name, got, IMAGE_HDR_SIZE);
	if (h->magic != IMAGE_MAGIC)
		return err_input(e, "'%s' is not an amber image: magic %#x, want %#x", name, h->magic, IMAGE_MAGIC);
	if (got < 16)
		return err_input(e, "image '%s' is truncated: %zd of %u header bytes", name, got, IMAGE_HDR_SIZE);
	img->kind = image_kind_by_magic(h->kind);
	if (!img->kind || (want && img->kind != want)) {
		if (!want)
			return err_input(e, "image '%s' has an unknown kind magic %#x", name, h->kind);
		return err_input(e, "image '%s' has kind magic %#x, want %s (%#x)", name, h->kind, want->name, want->magic);
	}
	if (h->version != IMAGE_FORMAT_VERSION)
		return err_input(e, "image '%s' has format version %u; this amber reads version %u",
				 name, h->version, IMAGE_FORMAT_VERSION);
	want_size = image_is_pages(img->kind) ? IMAGE_PAGES_HDR_SIZE : IMAGE_HDR_SIZE;
	if (h->hdr_size != want_size)
		return err_input(e, "image '%s' has a bad header size %u; a %s image's is %u", name, h->hdr_size,
				 img->kind->name, want_size);
	if (got < (ssize_t)IMAGE_HDR_SIZE)
		return err_input(e, "image '%s' is truncated: %zd of %u header bytes", name, got, IMAGE_HDR_SIZE);
	if (h->flags & ~IMAGE_FLAG_COMPLETE)
		return err_input(e, "image '%s' has unknown header flags %#x", name, h->flags & ~IMAGE_FLAG_COMPLETE);
	if (h->reserved)
		return err_input(e, "image '%s' has %#x in its reserved header field, which is 0", name, h->reserved);
	if (img->size < h->hdr_size)
		return err_input(e, "image '%s' is truncated: %llu bytes, shorter than its %u-byte header", name,
				 (unsigned long long)img->size, h->hdr_size);
	if (image_is_pages(img->kind)) {
		/* The rest of the header page is zero. */
		uint8_t pad[IMAGE_PAGES_HDR_SIZE - IMAGE_HDR_SIZE];
		ssize_t n = pread(img->fd, pad, sizeof(pad), IMAGE_HDR_SIZE);

		if (n < 0)
			return err_errno(e, "read the header of image '%s'", name);
		for (ssize_t i = 0; i < n; i++)
			if (pad[i])
				return err_input(e, "image '%s' has a non-zero byte at offset %zd of its header page",
						 name, IMAGE_HDR_SIZE + i);
	}
	return 0;
}

int image_open_inspect(struct image *img, int dirfd, const char *kind, const char *filename, struct err *e)
{
	const struct image_kind *want = kind ? image_kind_by_name(kind) : NULL;
	struct stat st;
	ssize_t got;
	int ret;

	memset(img, 0, sizeof(*img));
	img->fd = -1;
	if (kind && !want)
		return err_set(e, EXIT_FAILURE_, "internal: unknown image kind '%s'", kind);
	snprintf(img->name, sizeof(img->name), "%s", filename);
	img->fd = image_openat(dirfd, filename, O_RDONLY, 0);
	if (img->fd < 0) {
		if (errno == ENOENT) {
			err_input(e, "image '%s' is missing from the images directory; was the dump complete?", filename);
			return -ENOENT;
		}
		if (errno == EINVAL || errno == EISDIR)
			return err_input(e, "image '%s' is not a regular file; remove it and dump again", filename);
		return err_errno(e, "open image '%s'", filename);
	}
	if (fstat(img->fd, &st) < 0) {
		ret = err_errno(e, "stat image '%s'", filename);
		image_close(img);
		return ret;
	}
	img->size = st.st_size;
	got = pread(img->fd, &img->hdr, sizeof(img->hdr), 0);
	if (got < 0) {
		ret = err_errno(e, "read the header of image '%s'", filename);
		image_close(img);
		return ret;
	}
	image_hdr_from_disk(&img->hdr);
	if ((ret = image_check_format(img, want, got, e)) < 0) {
		image_close(img);
		return ret;
	}
	if (lseek(img->fd, img->hdr.hdr_size, SEEK_SET) < 0) {
		ret = err_errno(e, "seek past the header of '%s'", filename);
		image_close(img);
		return ret;
	}
	frame_reader_init(&img->rd, img->fd, img->name, 0);
	img->rd.offset = img->hdr.hdr_size;
	return 0;
}

int image_check(const struct image *img, uint64_t dump_id, struct err *e)
{
	const struct image_header *h = &img->hdr;
	const struct image_kind *named = image_kind_of_file(img->name);
	uint64_t owner = image_owner_of_file(img->name), body = img->size - h->hdr_size;

	if (named && named != img->kind)
		return err_input(e, "image '%s' holds a %s image, not a %s one: it was renamed; dump again",
				 img->name, img->kind->name, named->name);
	if (dump_id && h->dump_id != dump_id)
		return err_input(e, "image '%s' is from dump %016llx, but inventory.img is of dump %016llx: "
				 "the directory mixes images of two dumps; dump again", img->name,
				 (unsigned long long)h->dump_id, (unsigned long long)dump_id);
	if (h->owner != owner)
		return err_input(e, "image '%s' belongs to %s %llu, but its name says %llu: it was renamed or swapped "
				 "with another one; dump again", img->name, image_owner_noun(img),
				 (unsigned long long)h->owner, (unsigned long long)owner);
	if (!(h->flags & IMAGE_FLAG_COMPLETE))
		return err_input(e, "image '%s' was not finished: its writer stopped before closing it; dump again",
				 img->name);
	if (body != h->body)
		return err_input(e, "image '%s' is %s: its header says %llu bytes after the header, the file has %llu; dump again",
				 img->name, body < h->body ? "truncated" : "longer than written",
				 (unsigned long long)h->body, (unsigned long long)body);
	if (image_is_pages(img->kind) && (h->body % IMAGE_PAGE_SIZE || h->count != h->body / IMAGE_PAGE_SIZE))
		return err_input(e, "pages image '%s' says %llu pages in %llu bytes, which do not match (%u bytes a page)",
				 img->name, (unsigned long long)h->count, (unsigned long long)h->body, IMAGE_PAGE_SIZE);
	if (!image_is_pages(img->kind) && h->count > h->body / 4)
		return err_input(e, "image '%s' says %llu records in %llu bytes, more than fit", img->name,
				 (unsigned long long)h->count, (unsigned long long)h->body);
	return 0;
}

int image_open_read(struct image *img, int dirfd, const char *kind, const char *filename, struct err *e)
{
	uint64_t dump_id = 0;
	int ret = image_open_inspect(img, dirfd, kind, filename, e);

	if (ret < 0)
		return ret;
	/* inventory.img says which dump the others are of. */
	if (image_dump_id() || strcmp(img->kind->name, "inventory")) {
		if ((ret = image_dir_dump_id(dirfd, &dump_id, e)) < 0) {
			image_close(img);
			err_wrap(e, "image '%s'", filename);
			return ret == -ENOENT ? -EINVAL : ret;
		}
	}
	if ((ret = image_check(img, dump_id, e)) < 0) {
		image_close(img);
		return ret;
	}
	return 0;
}

/* ---- writing ----------------------------------------------------------- */

int image_open_write(struct image *img, int dirfd, const char *kind, const char *filename, struct err *e)
{
	const struct image_kind *k = image_kind_by_name(kind);
	struct image_header disk;
	int ret;

	memset(img, 0, sizeof(*img));
	img->fd = -1;
	if (!k)
		return err_set(e, EXIT_FAILURE_, "internal: unknown image kind '%s'", kind);
	if (!image_dump_id())
		return err_set(e, EXIT_USAGE, "no dump id to write image '%s' with: pass --dump-id HEX (the driver does)",
			       filename);
	img->kind = k;
	img->writing = true;
	snprintf(img->name, sizeof(img->name), "%s", filename);
	img->hdr = (struct image_header){
		.magic = IMAGE_MAGIC, .kind = k->magic, .version = IMAGE_FORMAT_VERSION,
		.hdr_size = image_is_pages(k) ? IMAGE_PAGES_HDR_SIZE : IMAGE_HDR_SIZE,
		.dump_id = image_dump_id(), .owner = image_owner_of_file(filename),
	};
	img->fd = image_openat(dirfd, filename, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (img->fd < 0)
		return err_errno(e, "create image '%s'", filename);
	/* Unfinished until image_close_write says otherwise. */
	disk = image_hdr_to_disk(&img->hdr);
	ret = write_all(img->fd, &disk, sizeof(disk));
	if (ret == 0 && img->hdr.hdr_size > sizeof(disk) && ftruncate(img->fd, img->hdr.hdr_size) < 0)
		ret = -errno;
	if (ret == 0 && img->hdr.hdr_size > sizeof(disk) && lseek(img->fd, img->hdr.hdr_size, SEEK_SET) < 0)
		ret = -errno;
	if (ret < 0) {
		image_close(img);
		return err_errnum(e, ret, "write the header of image '%s'", filename);
	}
	return 0;
}

void image_set_owner(struct image *img, uint64_t owner)
{
	img->hdr.owner = owner;
}

int image_read(struct image *img, ProtobufCMessage **msg, struct err *e)
{
	const ProtobufCMessageDescriptor *desc = image_record_desc(img);

	int ret;

	if (!desc)
		return err_input(e, "'%s' holds raw pages, not records", img->name);
	ret = frame_next_msg(&img->rd, desc, msg, e);
	/* An unfinished image (only 'amber show' reads one) counts nothing. */
	if (ret == 0 && (img->hdr.flags & IMAGE_FLAG_COMPLETE) && img->rd.nr != img->hdr.count)
		return err_input(e, "image '%s' holds %llu records, its header counts %llu: %s; dump again", img->name,
				 (unsigned long long)img->rd.nr, (unsigned long long)img->hdr.count,
				 img->rd.nr < img->hdr.count ? "records are missing" : "records were added");
	return ret;
}

#define IMAGE_WBUF_MAX (256u << 10)

/* Writes out the buffered records. */
static int image_flush(struct image *img, struct err *e)
{
	int ret;

	if (!img->wlen)
		return 0;
	ret = write_all(img->fd, img->wbuf, img->wlen);
	img->wlen = 0;
	if (ret < 0)
		return err_errnum(e, ret, "write image '%s'", img->name);
	return 0;
}

int image_write(struct image *img, const ProtobufCMessage *msg, struct err *e)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	uint32_t le;
	int ret;

	if (len > FRAME_MAX_DEFAULT)
		return err_input(e, "'%s': a %s record of %zu bytes is over the %u byte limit",
				 img->name, msg->descriptor->short_name, len, FRAME_MAX_DEFAULT);
	if (img->wlen + 4 + len > IMAGE_WBUF_MAX && (ret = image_flush(img, e)) < 0)
		return ret;
	if (4 + len > IMAGE_WBUF_MAX) {
		/* A record bigger than the buffer goes out on its own. */
		if ((ret = frame_write_msg(img->fd, msg, img->name, e)) == 0)
			img->nr_written++;
		return ret;
	}
	/* At least 4 KiB, doubled while records come. */
	if (grow_cap(&img->wbuf, &img->wcap, img->wlen + 4 + len < 4096 ? 4096 : img->wlen + 4 + len) < 0)
		return err_errno(e, "buffer image '%s'", img->name);
	le = htole32((uint32_t)len);
	memcpy(img->wbuf + img->wlen, &le, 4);
	protobuf_c_message_pack(msg, img->wbuf + img->wlen + 4);
	img->wlen += 4 + len;
	img->nr_written++;
	return 0;
}

int image_close_write(struct image *img, struct err *e)
{
	struct image_header disk;
	struct stat st;
	int ret = img->fd >= 0 ? image_flush(img, e) : -EBADF;

	if (ret == -EBADF)
		err_set(e, EXIT_FAILURE_, "internal: image '%s' is not open", img->name);
	if (ret == 0 && fstat(img->fd, &st) < 0)
		ret = err_errno(e, "stat image '%s'", img->name);
	if (ret == 0) {
		/* Only now is it whole: an image without this is a writer's that died. */
		img->hdr.body = (uint64_t)st.st_size - img->hdr.hdr_size;
		img->hdr.count = image_is_pages(img->kind) ? img->hdr.body / IMAGE_PAGE_SIZE : img->nr_written;
		img->hdr.flags |= IMAGE_FLAG_COMPLETE;
		disk = image_hdr_to_disk(&img->hdr);
		if (pwrite(img->fd, &disk, sizeof(disk), 0) != (ssize_t)sizeof(disk))
			ret = err_errno(e, "finish the header of image '%s'", img->name);
	}
	image_close(img);
	return ret;
}

void image_close(struct image *img)
{
	/* Callers that need to know whether the last records reached the
	 * file use image_close_write; here a failure can only be logged. */
	if (img->wlen && img->fd >= 0 && write_all(img->fd, img->wbuf, img->wlen) < 0)
		pr_warn("image '%s': %zu buffered bytes could not be written", img->name, img->wlen);
	img->wlen = 0;
	free(img->wbuf);
	img->wbuf = NULL;
	img->wcap = 0;
	if (img->fd >= 0)
		close(img->fd);
	img->fd = -1;
	frame_reader_free(&img->rd);
}

int image_check_id(const struct image *img, const char *what, uint64_t id, uint64_t max, struct err *e)
{
	if (id <= max)
		return 0;
	return err_input(e, "'%s': record %llu: %s %llu is over the limit of %llu; the image is corrupt", img->name,
			 (unsigned long long)(img->rd.nr ? img->rd.nr - 1 : 0), what, (unsigned long long)id,
			 (unsigned long long)max);
}

int image_read_one(int dirfd, const char *kind, const char *filename, ProtobufCMessage **msg, struct err *e)
{
	struct image img;
	int ret = image_open_read(&img, dirfd, kind, filename, e);

	if (ret < 0)
		return ret;
	ret = image_read(&img, msg, e);
	if (ret == 0)
		ret = err_input(e, "image '%s' holds no record; the dump was cut short", filename);
	if (ret > 0) {
		ProtobufCMessage *more = NULL;

		/* One record and the end of the file, as the header counts. */
		if ((ret = image_read(&img, &more, e)) > 0) {
			protobuf_c_message_free_unpacked(more, NULL);
			ret = err_input(e, "image '%s' holds more than the one record it should", filename);
		}
		if (ret < 0) {
			protobuf_c_message_free_unpacked(*msg, NULL);
			*msg = NULL;
		}
	}
	image_close(&img);
	return ret < 0 ? ret : 0;
}

int image_write_one(int dirfd, const char *kind, const char *filename, const ProtobufCMessage *msg, struct err *e)
{
	struct image img;
	int ret = image_open_write(&img, dirfd, kind, filename, e);

	if (ret < 0)
		return ret;
	ret = image_write(&img, msg, e);
	if (image_close_write(&img, e) < 0 && ret == 0)
		ret = -EIO;
	return ret;
}
