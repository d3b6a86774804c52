/* image: amber's image file format.
 *
 * Every image file starts with a 56-byte header (format version 3), all
 * little-endian:
 *	u32 magic    0x524d4241 (the bytes "ABMR")
 *	u32 kind     per-kind magic from the table in image.c
 *	u32 version  IMAGE_FORMAT_VERSION
 *	u32 hdr_size bytes from the start of the file to the first record
 *	u64 dump_id  the dump it belongs to: random, picked by the driver per
 *		     dump, in every image of it (inventory.img's says it)
 *	u64 owner    the N of its name NAME-N.img (a pid or tid, a memfd's
 *		     inode, a namespace, mount or ghost id); 0 for NAME.img
 *	u32 flags    IMAGE_FLAG_COMPLETE once its writer closed it
 *	u32 reserved 0
 *	u64 count    records in it (pages: pages)
 *	u64 body     bytes after the header
 * followed by records, each a u32 length + one protobuf message (lib/frame.h).
 * pages-N.img is the exception: hdr_size is IMAGE_PAGES_HDR_SIZE (4096, the
 * header zero-padded) and the rest of the file is raw, page-aligned page
 * contents described by pagemap-PID.img.
 *
 * A writer writes the header with flags 0 and fills in flags, count and
 * body when it closes the image (image_close_write, pwrite at offset 0), so
 * an image whose writer died says so. Every reader checks all of it: an
 * image of another dump, of another process (a renamed or swapped file),
 * unfinished, cut short, extended, or with a record missing is refused as
 * bad input, naming the file and both values.
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
#define IMAGE_FORMAT_VERSION	3u	/* 3: dump id, owner, count and length in the header */
#define IMAGE_HDR_SIZE		56u
#define IMAGE_PAGES_HDR_SIZE	4096u
#define IMAGE_PAGE_SIZE		4096u	/* the unit of a pages image's count */
#define IMAGE_FLAG_COMPLETE	1u	/* its writer closed it: count and body are final */

/* Bounds on the ids that records give each other, which readers use as
 * indices into tables: file ids (files.img, counted from 1 by dump-files)
 * and mount namespace ids (mntns.img, 1, 2, ... by dump-mounts). The dump
 * writes no larger one, and a reader refuses a larger one as bad input
 * (image_check_id) before it sizes or indexes anything by it. */
#define IMAGE_MAX_FILE_ID	(1u << 22)
#define IMAGE_MAX_MNTNS_ID	4096u

/* The header as it is on disk (little-endian); struct image holds it in
 * host order. */
struct image_header {
	uint32_t magic;
	uint32_t kind;
	uint32_t version;
	uint32_t hdr_size;
	uint64_t dump_id;
	uint64_t owner;
	uint32_t flags;
	uint32_t reserved;
	uint64_t count;
	uint64_t body;
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
	struct image_header hdr;	/* host order: as read, or as it will be written */
	uint64_t size;			/* reading: the file's size */
	struct frame_reader rd;		/* reading */
	uint64_t nr_written;		/* writing */
	bool writing;
	uint8_t *wbuf;			/* records not yet written: one write per image, mostly */
	size_t wlen, wcap;
	int werr;			/* a failed flush, reported by image_close_write */
};

/* The dump whose images this process writes and reads: the driver picks
 * it for a dump, the dump stages are given it (--dump-id, ipc/stage.h).
 * 0 forgets it: readers then take the id of the inventory.img of the
 * directory they read (image_dir_dump_id). */
void image_set_dump_id(uint64_t id);
/* The id image_set_dump_id gave, or 0. */
uint64_t image_dump_id(void);
/* The dump the images in dirfd must belong to: the one set, else the id
 * in the header of dirfd's inventory.img (read once per directory). A
 * missing or bad inventory.img is an input error (-ENOENT if missing). */
int image_dir_dump_id(int dirfd, uint64_t *id, struct err *e);
/* The owner a file name gives its image: N of "KIND-N.img" (also
 * "pages-memfd-N.img"), 0 for any other name. */
uint64_t image_owner_of_file(const char *filename);

/* Opens an existing image for reading and checks its header against 'kind'
 * (NULL accepts any known kind), against the dump (image_dir_dump_id) and
 * the owner its name says, that its writer finished it and that the file
 * is as long as the header says. A missing file is -ENOENT with a message;
 * everything else the image is at fault for is an input error naming it. */
int image_open_read(struct image *img, int dirfd, const char *kind, const char *filename, struct err *e);
/* The same with only the format checked (magic, kind, version, header
 * size), for 'amber show', which reports the rest with image_check. */
int image_open_inspect(struct image *img, int dirfd, const char *kind, const char *filename, struct err *e);
/* Checks an open image's header as image_open_read does: dump 'dump_id'
 * (0: not checked), owner, complete, length. 0 or an input error. */
int image_check(const struct image *img, uint64_t dump_id, struct err *e);
/* Creates (truncating) an image and writes its header, unfinished, with
 * the dump id set and the owner its name says. */
int image_open_write(struct image *img, int dirfd, const char *kind, const char *filename, struct err *e);
/* For an image written under a temporary name: the owner its final name says. */
void image_set_owner(struct image *img, uint64_t owner);
/* Next record: 1 read, 0 end of file, <0 error naming the file and record.
 * At the end of the file, fewer or more records than the header counts is
 * an error. */
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
/* Closes; an image being written is left unfinished (a failed writer). */
void image_close(struct image *img);
/* Flushes what image_write buffered, finishes the header (complete, the
 * record count, or for pages the page count, and the body length) and
 * closes; a write error is reported here. */
int image_close_write(struct image *img, struct err *e);

/* Opens a file in the images dir safely: O_NOFOLLOW, RESOLVE_BENEATH; for
 * reading, without blocking and only if it is a regular file (else -1 with
 * errno EINVAL, or EISDIR for a directory). */
int image_openat(int dirfd, const char *filename, int flags, mode_t mode);

#endif
