/* image: amber's image file format.
 *
 * Every image file starts with a 16-byte header
 *	u32 magic    0x524d4241 (the bytes "ABMR")
 *	u32 kind     per-kind magic from the table in image.c
 *	u32 version  IMAGE_FORMAT_VERSION
 *	u32 hdr_size bytes from the start of the file to the first record
 * followed by records, each a u32 length + one protobuf message (lib/frame.h).
 * pages-N.img is the exception: hdr_size is IMAGE_PAGES_HDR_SIZE (4096, the
 * header zero-padded) and the rest of the file is raw, page-aligned page
 * contents described by pagemap-PID.img.
 *
 * Files are opened relative to the images directory fd with O_NOFOLLOW and
 * RESOLVE_BENEATH, and created 0600: images hold memory and secrets.
 */
#ifndef AMBER_IMAGE_H
#define AMBER_IMAGE_H

#include <stdbool.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

#include "lib/err.h"
#include "lib/frame.h"

#define IMAGE_MAGIC		0x524d4241u	/* on disk, little-endian: the bytes "ABMR" */
#define IMAGE_FORMAT_VERSION	2u	/* 2: memfd descriptors in memfd-INO.img, not ghosts */
#define IMAGE_HDR_SIZE		16u
#define IMAGE_PAGES_HDR_SIZE	4096u

/* Bounds on the ids that records give each other, which readers use as
 * indices into tables: file ids (files.img, counted from 1 by dump-files)
 * and mount namespace ids (mntns.img, 1, 2, ... by dump-mounts). The dump
 * writes no larger one, and a reader refuses a larger one as bad input
 * (image_check_id) before it sizes or indexes anything by it. */
#define IMAGE_MAX_FILE_ID	(1u << 22)
#define IMAGE_MAX_MNTNS_ID	4096u

struct image_header {
	uint32_t magic;
	uint32_t kind;
	uint32_t version;
	uint32_t hdr_size;
};

struct image_kind {
	const char *name;	/* "core": files are named core.img or core-N.img */
	uint32_t magic;
	const ProtobufCMessageDescriptor *desc;	/* record type; NULL for raw pages */
	const char *what;	/* one line for 'amber show' and the docs */
};

/* Looks a kind up by name or by header magic; NULL if unknown. */
const struct image_kind *image_kind_by_name(const char *name);
const struct image_kind *image_kind_by_magic(uint32_t magic);
/* The kind a file name belongs to ("core-42.img" -> core); NULL if none. */
const struct image_kind *image_kind_of_file(const char *filename);
/* All kinds, NULL-terminated by a zero entry; for show and docs. */
const struct image_kind *image_kinds(void);

struct image {
	int fd;
	const struct image_kind *kind;
	char name[256];			/* file name within the images dir */
	struct frame_reader rd;		/* reading */
	uint64_t nr_written;		/* writing */
	bool writing;
	uint8_t *wbuf;			/* records not yet written: one write per image, mostly */
	size_t wlen, wcap;
	int werr;			/* a failed flush, reported by image_close_write */
};

/* Opens an existing image for reading and checks its header against 'kind'
 * (NULL accepts any known kind). A missing file is -ENOENT with a message. */
int image_open_read(struct image *img, int dirfd, const char *kind, const char *filename, struct err *e);
/* Creates (truncating) an image and writes its header. */
int image_open_write(struct image *img, int dirfd, const char *kind, const char *filename, struct err *e);
/* Next record: 1 read, 0 end of file, <0 error naming the file and record. */
int image_read(struct image *img, ProtobufCMessage **msg, struct err *e);
/* Checks an id (what names it: "file id", ...) of the record image_read
 * returned last against its bound: 0, or an input error naming the image,
 * the record and the bound. */
int image_check_id(const struct image *img, const char *what, uint64_t id, uint64_t max, struct err *e);
/* Reads the one record a single-record image holds (inventory, mm, core, fs). */
int image_read_one(int dirfd, const char *kind, const char *filename, ProtobufCMessage **msg, struct err *e);
int image_write(struct image *img, const ProtobufCMessage *msg, struct err *e);
/* Writes a single-record image in one call. */
int image_write_one(int dirfd, const char *kind, const char *filename, const ProtobufCMessage *msg, struct err *e);
void image_close(struct image *img);
/* Flushes what image_write buffered and closes; a write error is reported here. */
int image_close_write(struct image *img, struct err *e);

/* Opens a file in the images dir safely: O_NOFOLLOW, RESOLVE_BENEATH; for
 * reading, without blocking and only if it is a regular file (else -1 with
 * errno EINVAL, or EISDIR for a directory). */
int image_openat(int dirfd, const char *filename, int flags, mode_t mode);

#endif
