/* frame: u32-length framing of protobuf messages on an fd, shared by image
 * files and the state stream. A frame is a little-endian u32 length followed
 * by that many bytes; lengths above the caller's maximum are refused before
 * anything is allocated, so a corrupt length cannot exhaust memory. */
#ifndef AMBER_FRAME_H
#define AMBER_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <protobuf-c/protobuf-c.h>

#include "lib/err.h"

#define FRAME_MAX_DEFAULT (16u << 20)

/* A buffered reader over an fd. 'what' names the source in messages. */
struct frame_reader {
	int fd;
	const char *what;
	uint32_t max;
	uint8_t *buf;		/* bytes read, not yet consumed */
	size_t len, pos, cap;
	uint64_t offset;	/* file offset of buf[pos], for messages */
	uint64_t nr;		/* frames returned so far */
};

void frame_reader_init(struct frame_reader *r, int fd, const char *what, uint32_t max);
void frame_reader_free(struct frame_reader *r);
/* Reads exactly n raw bytes (for headers). 0 ok, <0 error (short read is an input error). */
int frame_read_raw(struct frame_reader *r, void *dst, size_t n, struct err *e);
/* Next frame: 1 with data and len pointing into the reader buffer, valid until the
 * next call; 0 at a clean EOF between frames, <0 on a truncated or oversize frame. */
int frame_next(struct frame_reader *r, const uint8_t **data, uint32_t *len, struct err *e);
/* Next frame unpacked as desc; same return values. */
int frame_next_msg(struct frame_reader *r, const ProtobufCMessageDescriptor *desc,
		   ProtobufCMessage **msg, struct err *e);

/* Writes one framed message with a single write where possible. */
int frame_write_msg(int fd, const ProtobufCMessage *msg, const char *what, struct err *e);
/* Writes a frame holding raw bytes. */
int frame_write_raw(int fd, const void *data, uint32_t len, const char *what, struct err *e);
/* write(2) until done, retrying on EINTR and short writes. */
int write_all(int fd, const void *buf, size_t len);

#endif
