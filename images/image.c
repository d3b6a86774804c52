/* image: see image.h. */
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
	{ "netns",     0x4e455401, &netns_entry__descriptor,     "network namespaces the tree made (loopback only): which tasks, lo up or down" },
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

int image_open_read(struct image *img, int dirfd, const char *kind, const char *filename, struct err *e)
{
	const struct image_kind *want = kind ? image_kind_by_name(kind) : NULL;
	struct image_header h;
	ssize_t got;

	if (kind && !want)
		return err_set(e, EXIT_FAILURE_, "internal: unknown image kind '%s'", kind);
	uint32_t hdr_size;

	memset(img, 0, sizeof(*img));
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
	got = pread(img->fd, &h, sizeof(h), 0);
	if (got < 0) {
		image_close(img);
		return err_errno(e, "read the header of image '%s'", filename);
	}
	if (got < (ssize_t)sizeof(h)) {
		image_close(img);
		return err_input(e, "image '%s' is truncated: %zd of %zu header bytes", filename, got, sizeof(h));
	}
	if (le32toh(h.magic) != IMAGE_MAGIC) {
		image_close(img);
		return err_input(e, "'%s' is not an amber image: magic %#x, want %#x", filename, le32toh(h.magic), IMAGE_MAGIC);
	}
	img->kind = image_kind_by_magic(le32toh(h.kind));
	if (!img->kind || (want && img->kind != want)) {
		image_close(img);
		if (!want)
			return err_input(e, "image '%s' has an unknown kind magic %#x", filename, le32toh(h.kind));
		return err_input(e, "image '%s' has kind magic %#x, want %s (%#x)", filename,
				 le32toh(h.kind), want->name, want->magic);
	}
	if (le32toh(h.version) != IMAGE_FORMAT_VERSION) {
		image_close(img);
		return err_input(e, "image '%s' has format version %u; this amber reads version %u",
				 filename, le32toh(h.version), IMAGE_FORMAT_VERSION);
	}
	hdr_size = le32toh(h.hdr_size);
	if (hdr_size < sizeof(h) || hdr_size > IMAGE_PAGES_HDR_SIZE) {
		image_close(img);
		return err_input(e, "image '%s' has a bad header size %u", filename, hdr_size);
	}
	if (lseek(img->fd, hdr_size, SEEK_SET) < 0) {
		image_close(img);
		return err_errno(e, "seek past the header of '%s'", filename);
	}
	frame_reader_init(&img->rd, img->fd, img->name, 0);
	img->rd.offset = hdr_size;
	return 0;
}

int image_open_write(struct image *img, int dirfd, const char *kind, const char *filename, struct err *e)
{
	const struct image_kind *k = image_kind_by_name(kind);
	struct image_header h;
	uint32_t hdr_size = !strcmp(kind, "pages") ? IMAGE_PAGES_HDR_SIZE : IMAGE_HDR_SIZE;
	int ret;

	memset(img, 0, sizeof(*img));
	img->fd = -1;
	if (!k)
		return err_set(e, EXIT_FAILURE_, "internal: unknown image kind '%s'", kind);
	img->kind = k;
	img->writing = true;
	snprintf(img->name, sizeof(img->name), "%s", filename);
	img->fd = image_openat(dirfd, filename, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (img->fd < 0)
		return err_errno(e, "create image '%s'", filename);
	h.magic = htole32(IMAGE_MAGIC);
	h.kind = htole32(k->magic);
	h.version = htole32(IMAGE_FORMAT_VERSION);
	h.hdr_size = htole32(hdr_size);
	ret = write_all(img->fd, &h, sizeof(h));
	if (ret == 0 && hdr_size > sizeof(h) && ftruncate(img->fd, hdr_size) < 0)
		ret = -errno;
	if (ret == 0 && hdr_size > sizeof(h) && lseek(img->fd, hdr_size, SEEK_SET) < 0)
		ret = -errno;
	if (ret < 0) {
		image_close(img);
		return err_errnum(e, ret, "write the header of image '%s'", filename);
	}
	return 0;
}

int image_read(struct image *img, ProtobufCMessage **msg, struct err *e)
{
	const ProtobufCMessageDescriptor *desc = image_record_desc(img);

	if (!desc)
		return err_input(e, "'%s' holds raw pages, not records", img->name);
	return frame_next_msg(&img->rd, desc, msg, e);
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
	int ret = img->fd >= 0 ? image_flush(img, e) : 0;

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
	image_close(&img);
	if (ret == 0)
		return err_input(e, "image '%s' holds no record; the dump was cut short", filename);
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
