/* frame: see frame.h. */
#include <stdlib.h>
#include <endian.h>
#include <string.h>
#include <unistd.h>

#include "lib/frame.h"
#include "lib/grow.h"

void frame_reader_init(struct frame_reader *r, int fd, const char *what, uint32_t max)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->what = what;
	r->max = max ? max : FRAME_MAX_DEFAULT;
}

void frame_reader_free(struct frame_reader *r)
{
	free(r->buf);
	r->buf = NULL;
}

/* Makes at least n unconsumed bytes available; returns how many are (< n at EOF). */
static ssize_t frame_fill(struct frame_reader *r, size_t n, struct err *e)
{
	if (r->pos && r->len - r->pos < n) {
		memmove(r->buf, r->buf + r->pos, r->len - r->pos);
		r->len -= r->pos;
		r->pos = 0;
	}
	/* At least 64 KiB, so that small frames cost few reads. */
	if (grow_cap(&r->buf, &r->cap, n < 65536 ? 65536 : n) < 0)
		return err_errno(e, "'%s': cannot buffer %zu bytes", r->what, n);
	while (r->len - r->pos < n) {
		ssize_t got = read(r->fd, r->buf + r->len, r->cap - r->len);

		if (got < 0) {
			if (errno == EINTR)
				continue;
			return err_errno(e, "read '%s'", r->what);
		}
		if (got == 0)
			break;
		r->len += got;
	}
	return r->len - r->pos;
}

int frame_read_raw(struct frame_reader *r, void *dst, size_t n, struct err *e)
{
	ssize_t have = frame_fill(r, n, e);

	if (have < 0)
		return have;
	if ((size_t)have < n)
		return err_input(e, "'%s': truncated at byte %llu: wanted %zu bytes, found %zd",
				 r->what, (unsigned long long)r->offset, n, have);
	memcpy(dst, r->buf + r->pos, n);
	r->pos += n;
	r->offset += n;
	return 0;
}

int frame_next(struct frame_reader *r, const uint8_t **data, uint32_t *len, struct err *e)
{
	uint32_t n;
	ssize_t have = frame_fill(r, 4, e);

	if (have < 0)
		return have;
	if (have == 0)
		return 0;
	if (have < 4)
		return err_input(e, "'%s': truncated record header at byte %llu (record %llu)",
				 r->what, (unsigned long long)r->offset, (unsigned long long)r->nr);
	memcpy(&n, r->buf + r->pos, 4);
	n = le32toh(n);
	if (n > r->max)
		return err_input(e, "'%s': record %llu at byte %llu is %u bytes, over the %u byte limit; the file is corrupt",
				 r->what, (unsigned long long)r->nr, (unsigned long long)r->offset, n, r->max);
	have = frame_fill(r, 4 + (size_t)n, e);
	if (have < 0)
		return have;
	if ((size_t)have < 4 + (size_t)n)
		return err_input(e, "'%s': record %llu at byte %llu is truncated: %u bytes announced, %zd present",
				 r->what, (unsigned long long)r->nr, (unsigned long long)r->offset, n, have - 4);
	*data = r->buf + r->pos + 4;
	*len = n;
	r->pos += 4 + n;
	r->offset += 4 + n;
	r->nr++;
	return 1;
}

int frame_next_msg(struct frame_reader *r, const ProtobufCMessageDescriptor *desc,
		   ProtobufCMessage **msg, struct err *e)
{
	const uint8_t *data;
	uint32_t len;
	int ret = frame_next(r, &data, &len, e);

	if (ret <= 0)
		return ret;
	*msg = protobuf_c_message_unpack(desc, NULL, len, data);
	if (!*msg)
		return err_input(e, "'%s': record %llu is not a valid %s message",
				 r->what, (unsigned long long)r->nr - 1, desc->short_name);
	return 1;
}

int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= n;
	}
	return 0;
}

int frame_write_raw(int fd, const void *data, uint32_t len, const char *what, struct err *e)
{
	uint8_t stackbuf[4096];
	uint8_t *buf = stackbuf;
	uint32_t le = htole32(len);
	int ret;

	if (len > FRAME_MAX_DEFAULT)
		return err_input(e, "'%s': a %u byte record is over the %u byte limit", what, len, FRAME_MAX_DEFAULT);
	if (len + 4 > sizeof(stackbuf)) {
		buf = malloc(len + 4);
		if (!buf)
			return err_errno(e, "'%s': cannot allocate a %u byte record", what, len);
	}
	memcpy(buf, &le, 4);
	memcpy(buf + 4, data, len);
	ret = write_all(fd, buf, len + 4);
	if (buf != stackbuf)
		free(buf);
	if (ret < 0)
		return err_errnum(e, ret, "write '%s'", what);
	return 0;
}

int frame_write_msg(int fd, const ProtobufCMessage *msg, const char *what, struct err *e)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	uint8_t stackbuf[4096];
	uint8_t *buf = stackbuf;
	uint32_t le = htole32((uint32_t)len);
	int ret;

	if (len > FRAME_MAX_DEFAULT)
		return err_input(e, "'%s': a %s record of %zu bytes is over the %u byte limit",
				 what, msg->descriptor->short_name, len, FRAME_MAX_DEFAULT);
	if (len + 4 > sizeof(stackbuf)) {
		buf = malloc(len + 4);
		if (!buf)
			return err_errno(e, "'%s': cannot allocate a %zu byte record", what, len);
	}
	memcpy(buf, &le, 4);
	protobuf_c_message_pack(msg, buf + 4);
	ret = write_all(fd, buf, len + 4);
	if (buf != stackbuf)
		free(buf);
	if (ret < 0)
		return err_errnum(e, ret, "write '%s'", what);
	return 0;
}
