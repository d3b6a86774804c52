/* tests/fuzz/mutate.h: a structure-aware mutator for amber's framed inputs.
 *
 * A target that includes this (every fuzz_image_*, fuzz_stage_* and
 * fuzz_show target) gets LLVMFuzzerCustomMutator: besides libFuzzer's own
 * byte mutations it knows what the input is made of (tests/fuzz/fuzz.h):
 * the files of a bundle, the image header, the u32-length frames of an
 * image or a state stream, and the protobuf message in each frame, which it
 * decodes with the descriptor of its image kind (images/image.c) or as a
 * StreamRecord and changes field by field: an id, pid or count set to an
 * edge value or to a value that another field holds, a string or bytes
 * emptied or replaced, a repeated field shortened, an optional submessage
 * dropped. Frames are also duplicated, dropped and swapped, and a stream's
 * end record is made to count right again, so that a mutant gets past the
 * framing checks to the code that uses the records.
 *
 * protobuf-c itself is not instrumented (a Debian library), so without
 * this libFuzzer could only guess at message contents byte by byte.
 */
#ifndef AMBER_TESTS_FUZZ_MUTATE_H
#define AMBER_TESTS_FUZZ_MUTATE_H

#include <endian.h>
#include <protobuf-c/protobuf-c.h>

#include "images/image.h"
#include "images/pagemap.pb-c.h"
#include "images/stream.pb-c.h"
#include "tests/fuzz/fuzz.h"

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);

#define FM_MAX_PARTS	FUZZ_MAX_FILES
#define FM_MAX_FRAMES	256
#define FM_MAX_FIELDS	128
#define FM_MAX_UNDO	8

static uint64_t fm_state;

static inline uint64_t fm_next(void)
{
	fm_state ^= fm_state >> 12;
	fm_state ^= fm_state << 25;
	fm_state ^= fm_state >> 27;
	return fm_state * 0x2545f4914f6cdd1dull;
}

static inline size_t fm_below(size_t n)
{
	return n ? fm_next() % n : 0;
}

/* A growable byte buffer. */
struct fm_buf {
	uint8_t *b;
	size_t len, cap;
};

static inline void fm_put(struct fm_buf *f, const void *src, size_t n)
{
	if (!n)
		return;
	if (f->len + n > f->cap) {
		f->cap = (f->len + n) * 2 + 64;
		if (!(f->b = realloc(f->b, f->cap)))
			abort();
	}
	memcpy(f->b + f->len, src, n);
	f->len += n;
}

/* One file of a bundle (name NULL: the stdin part, or a whole non-bundle input). */
struct fm_part {
	const uint8_t *name;
	size_t name_len;
	struct fm_buf data;
};

/* ---- protobuf fields ------------------------------------------------------ */

/* A field of some (sub)message of the decoded record that may be changed. */
struct fm_field {
	ProtobufCMessage *msg;
	const ProtobufCFieldDescriptor *f;
};

struct fm_undo {
	void *addr;
	size_t size;
	uint8_t old[16];
};

struct fm_edit {
	struct fm_field fields[FM_MAX_FIELDS];
	int nr_fields;
	uint64_t pool[32];	/* integer values the record holds, for cross-references */
	int nr_pool;
	struct fm_undo undo[FM_MAX_UNDO];
	int nr_undo;
};

/* Remembers size bytes at addr, to be put back before the message is freed
 * (it is protobuf-c's to free: nothing of ours may stay in it). */
static inline void fm_save(struct fm_edit *ed, void *addr, size_t size)
{
	if (ed->nr_undo == FM_MAX_UNDO || size > sizeof(ed->undo[0].old))
		abort();
	ed->undo[ed->nr_undo].addr = addr;
	ed->undo[ed->nr_undo].size = size;
	memcpy(ed->undo[ed->nr_undo++].old, addr, size);
}

static inline void fm_restore(struct fm_edit *ed)
{
	while (ed->nr_undo--)
		memcpy(ed->undo[ed->nr_undo].addr, ed->undo[ed->nr_undo].old, ed->undo[ed->nr_undo].size);
	ed->nr_undo = 0;
}

/* Bytes of one scalar of this type in memory (0: not a scalar). */
static inline size_t fm_scalar_size(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32: case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_ENUM:
		return 4;
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	default:
		return 0;
	}
}

static inline uint64_t fm_get_scalar(const void *p, size_t size)
{
	uint32_t v32;
	uint64_t v64;

	if (size == 8) {
		memcpy(&v64, p, 8);
		return v64;
	}
	memcpy(&v32, p, 4);
	return v32;
}

/* Lists the fields of msg and its submessages (a few levels down). */
static inline void fm_walk(struct fm_edit *ed, ProtobufCMessage *msg, int depth)
{
	const ProtobufCMessageDescriptor *d = msg->descriptor;

	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		char *p = (char *)msg + f->offset;
		size_t n = 1, sz = fm_scalar_size(f->type);

		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			/* Only the member that is set, and never its case. */
			if (*(uint32_t *)((char *)msg + f->quantifier_offset) != f->id)
				continue;
		} else if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			n = *(size_t *)((char *)msg + f->quantifier_offset);
		} else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset && sz &&
			   !*(protobuf_c_boolean *)((char *)msg + f->quantifier_offset)) {
			n = 0;
		}
		if (ed->nr_fields < FM_MAX_FIELDS)
			ed->fields[ed->nr_fields++] = (struct fm_field){ msg, f };
		for (size_t k = 0; sz && n && k < n && ed->nr_pool < (int)(sizeof(ed->pool) / sizeof(ed->pool[0])); k++)
			ed->pool[ed->nr_pool++] = fm_get_scalar(f->label == PROTOBUF_C_LABEL_REPEATED ?
								(char *)*(void **)p + k * sz : p, sz);
		if (f->type != PROTOBUF_C_TYPE_MESSAGE || depth >= 4)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			ProtobufCMessage **sub = *(ProtobufCMessage ***)p;

			for (size_t k = 0; k < n && k < 8; k++)
				fm_walk(ed, sub[k], depth + 1);
		} else if (*(ProtobufCMessage **)p) {
			fm_walk(ed, *(ProtobufCMessage **)p, depth + 1);
		}
	}
}

/* An edge value, a value the record holds elsewhere, a neighbour or noise. */
static inline uint64_t fm_value(const struct fm_edit *ed, uint64_t was)
{
	static const uint64_t edge[] = {
		0, 1, 2, 3, 4, 7, 8, 0x7f, 0x80, 0xff, 0x100, 0xfff, 0x1000, 0x1001, 0xffff, 0x10000,
		0x3fffff, 0x400000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 0x100000000ull,
		0x7fffffffffffffffull, 0x8000000000000000ull, 0xffffffffffffffffull,
	};

	switch (fm_below(6)) {
	case 0: case 1: return edge[fm_below(sizeof(edge) / sizeof(edge[0]))];
	case 2: return ed->nr_pool ? ed->pool[fm_below(ed->nr_pool)] : was;
	case 3: return was + 1;
	case 4: return was - 1;
	default: return fm_next() >> fm_below(64);
	}
}

/* Changes one field of the record (undoably). */
static inline void fm_edit_field(struct fm_edit *ed, const struct fm_field *ff)
{
	static const char *strs[] = {
		"", "/", ".", "..", "a", "/tmp", "../../x", "%s%s%n", "pipe:[1]", "socket:[1]", "file[1:2]",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	static uint8_t noise[64];
	const ProtobufCFieldDescriptor *f = ff->f;
	char *p = (char *)ff->msg + f->offset;
	size_t sz = fm_scalar_size(f->type);

	if (f->label == PROTOBUF_C_LABEL_REPEATED) {
		size_t *n = (size_t *)((char *)ff->msg + f->quantifier_offset);

		if (!*n)
			return;
		if (fm_below(3) == 0 || !sz) {
			/* Fewer elements (protobuf-c frees by the count it allocated:
			 * the count is put back before the free). */
			fm_save(ed, n, sizeof(*n));
			*n = fm_below(*n);
			return;
		}
		p = (char *)*(void **)p + fm_below(*n) * sz;
	} else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset &&
		   !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) && sz) {
		protobuf_c_boolean *has = (protobuf_c_boolean *)((char *)ff->msg + f->quantifier_offset);

		fm_save(ed, has, sizeof(*has));
		if (*has && fm_below(4) == 0) {
			*has = 0;
			return;
		}
		*has = 1;
	}
	if (sz) {
		uint64_t v = fm_value(ed, fm_get_scalar(p, sz));
		uint32_t v32 = (uint32_t)v;

		fm_save(ed, p, sz);
		if (f->type == PROTOBUF_C_TYPE_BOOL)
			*(protobuf_c_boolean *)p = !*(protobuf_c_boolean *)p;
		else if (sz == 8)
			memcpy(p, &v, 8);
		else
			memcpy(p, &v32, 4);
		return;
	}
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING:
		fm_save(ed, p, sizeof(char *));
		/* An optional string may be absent (NULL); a required one may not. */
		if (f->label == PROTOBUF_C_LABEL_OPTIONAL && !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) && !fm_below(4))
			*(const char **)p = NULL;
		else
			*(const char **)p = strs[fm_below(sizeof(strs) / sizeof(strs[0]))];
		break;
	case PROTOBUF_C_TYPE_BYTES: {
		ProtobufCBinaryData *bd = (ProtobufCBinaryData *)p;

		fm_save(ed, bd, sizeof(*bd));
		if (fm_below(2) && bd->len) {
			bd->len = fm_below(bd->len);
		} else {
			for (size_t i = 0; i < sizeof(noise); i++)
				noise[i] = fm_next();
			bd->data = noise;
			bd->len = fm_below(sizeof(noise) + 1);
		}
		break;
	}
	case PROTOBUF_C_TYPE_MESSAGE:
		/* Only an optional submessage may be left out. */
		if (f->label == PROTOBUF_C_LABEL_OPTIONAL && !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)) {
			fm_save(ed, p, sizeof(void *));
			*(void **)p = NULL;
		}
		break;
	default:
		break;
	}
}

/* Re-encodes payload (a message of desc) with one to three fields changed;
 * returns 0 and the new payload in out, -1 if it does not decode. */
static inline int fm_mutate_message(const ProtobufCMessageDescriptor *desc, const uint8_t *payload, size_t len,
				    struct fm_buf *out)
{
	ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, len, payload);
	static struct fm_edit ed;
	size_t n;

	if (!m)
		return -1;
	memset(&ed, 0, sizeof(ed));
	fm_walk(&ed, m, 0);
	for (int k = 1 + fm_below(3); k && ed.nr_fields && ed.nr_undo + 3 <= FM_MAX_UNDO; k--)
		fm_edit_field(&ed, &ed.fields[fm_below(ed.nr_fields)]);
	n = protobuf_c_message_get_packed_size(m);
	if (out->cap < n + 1) {
		out->cap = n + 64;
		if (!(out->b = realloc(out->b, out->cap)))
			abort();
	}
	out->len = protobuf_c_message_pack(m, out->b);
	fm_restore(&ed);
	protobuf_c_message_free_unpacked(m, NULL);
	return 0;
}

/* ---- frames ---------------------------------------------------------------- */

/* Where the records of a part start: after the image header, or at 0 for a
 * stream; *desc is the kind's record type (NULL: raw pages or unknown). */
static inline size_t fm_first(const struct fm_buf *p, const ProtobufCMessageDescriptor **desc, bool *image)
{
	uint32_t h[4];

	*desc = &stream_record__descriptor;
	*image = false;
	if (p->len < 16)
		return 0;
	memcpy(h, p->b, 16);
	if (le32toh(h[0]) != IMAGE_MAGIC)
		return 0;
	*image = true;
	*desc = image_kind_by_magic(le32toh(h[1])) ? image_kind_by_magic(le32toh(h[1]))->desc : NULL;
	if (image_kind_by_magic(le32toh(h[1])) && !strcmp(image_kind_by_magic(le32toh(h[1]))->name, "pagemap"))
		*desc = &pagemap_entry__descriptor;	/* the head is told apart below */
	return le32toh(h[3]) >= 16 && le32toh(h[3]) <= p->len ? le32toh(h[3]) : 16;
}

/* Offsets of the frames of p from 'first' (up to the first that overruns). */
static inline int fm_frames(const struct fm_buf *p, size_t first, size_t *offs)
{
	size_t at = first;
	int n = 0;

	while (n < FM_MAX_FRAMES && at + 4 <= p->len) {
		uint32_t len;

		memcpy(&len, p->b + at, 4);
		len = le32toh(len);
		if (at + 4 + (uint64_t)len > p->len)
			break;
		offs[n++] = at;
		at += 4 + len;
	}
	offs[n] = at;	/* the end of the last whole frame */
	return n;
}

/* Rebuilds p with frame i replaced by (or, with len SIZE_MAX, without) the
 * given payload; insert puts it before frame i instead. */
static inline void fm_splice(struct fm_buf *p, const size_t *offs, int i, bool insert, const uint8_t *payload,
			     size_t len)
{
	struct fm_buf o = { 0 };
	uint32_t le = htole32((uint32_t)len);

	fm_put(&o, p->b, offs[i]);
	if (len != SIZE_MAX) {
		fm_put(&o, &le, 4);
		fm_put(&o, payload, len);
	}
	if (insert)
		fm_put(&o, p->b + offs[i], p->len - offs[i]);
	else
		fm_put(&o, p->b + offs[i + 1], p->len - offs[i + 1]);
	free(p->b);
	*p = o;
}

/* Makes a stream's end record count the records before it again. */
static inline void fm_fix_end(struct fm_buf *p)
{
	size_t offs[FM_MAX_FRAMES + 1];
	int n = fm_frames(p, 0, offs);
	StreamRecord *rec;
	uint32_t len;

	if (n < 2)
		return;
	memcpy(&len, p->b + offs[n - 1], 4);
	rec = stream_record__unpack(NULL, le32toh(len), p->b + offs[n - 1] + 4);
	if (rec && rec->body_case == STREAM_RECORD__BODY_END && rec->end->count != (uint64_t)n - 2) {
		struct fm_buf o = { 0 };

		rec->end->count = n - 2;
		o.cap = stream_record__get_packed_size(rec) + 1;
		if (!(o.b = malloc(o.cap)))
			abort();
		o.len = stream_record__pack(rec, o.b);
		fm_splice(p, offs, n - 1, false, o.b, o.len);
		free(o.b);
	}
	if (rec)
		stream_record__free_unpacked(rec, NULL);
}

/* One structural mutation of part p; false if it had nothing to work on. */
static inline bool fm_mutate_part(struct fm_buf *p, size_t max_size)
{
	size_t offs[FM_MAX_FRAMES + 1], first;
	const ProtobufCMessageDescriptor *desc;
	struct fm_buf out = { 0 };
	bool image, done = true;
	int n, i, j;

	first = fm_first(p, &desc, &image);
	n = fm_frames(p, first, offs);
	if (!n)
		return false;
	i = fm_below(n);
	switch (fm_below(8)) {
	case 0: case 1: case 2: case 3:	/* a field or three of one record */
		if (image && desc == &pagemap_entry__descriptor && i == 0)
			desc = &pagemap_head__descriptor;
		if (!desc || fm_mutate_message(desc, p->b + offs[i] + 4, offs[i + 1] - offs[i] - 4, &out) < 0) {
			done = false;
			break;
		}
		fm_splice(p, offs, i, false, out.b, out.len);
		break;
	case 4: {	/* the bytes of one record */
		size_t len = offs[i + 1] - offs[i] - 4, cap = len * 2 + 64;
		uint8_t *b = malloc(cap);

		if (!b)
			abort();
		memcpy(b, p->b + offs[i] + 4, len);
		len = LLVMFuzzerMutate(b, len, cap < max_size ? cap : max_size);
		fm_splice(p, offs, i, false, b, len);
		free(b);
		break;
	}
	case 5:		/* a record twice */
		j = fm_below(n + 1);
		fm_put(&out, p->b + offs[i] + 4, offs[i + 1] - offs[i] - 4);
		fm_splice(p, offs, j, true, out.b, out.len);
		break;
	case 6:		/* a record dropped */
		fm_splice(p, offs, i, false, NULL, SIZE_MAX);
		break;
	default:	/* two records swapped */
		j = fm_below(n);
		if (i == j) {
			done = false;
			break;
		}
		if (i > j) {
			int t = i;

			i = j;
			j = t;
		}
		{
			struct fm_buf o = { 0 };

			fm_put(&o, p->b, offs[i]);
			fm_put(&o, p->b + offs[j], offs[j + 1] - offs[j]);
			fm_put(&o, p->b + offs[i + 1], offs[j] - offs[i + 1]);
			fm_put(&o, p->b + offs[i], offs[i + 1] - offs[i]);
			fm_put(&o, p->b + offs[j + 1], p->len - offs[j + 1]);
			free(p->b);
			*p = o;
		}
		break;
	}
	free(out.b);
	if (done && !image && fm_below(4))
		fm_fix_end(p);
	return done;
}

/* Splits a bundle into its parts (see fuzz.h); returns how many. */
static inline int fm_split(const uint8_t *data, size_t size, struct fm_part *parts)
{
	const size_t seplen = strlen(FUZZ_BUNDLE_SEP);
	const uint8_t *end = data + size, *at = data, *sep;
	int n = 0;

	sep = memmem(data, size, FUZZ_BUNDLE_SEP, seplen);
	memset(&parts[0], 0, sizeof(parts[0]));
	fm_put(&parts[n++].data, data, sep ? (size_t)(sep - data) : size);
	while (sep && n < FM_MAX_PARTS) {
		const uint8_t *name = sep + seplen, *nl = memchr(name, '\n', end - name), *next;

		if (!nl) {
			/* A torn separator: it stays in the part before. */
			fm_put(&parts[n - 1].data, sep, end - sep);
			break;
		}
		at = nl + 1;
		next = memmem(at, end - at, FUZZ_BUNDLE_SEP, seplen);
		memset(&parts[n], 0, sizeof(parts[n]));
		parts[n].name = name;
		parts[n].name_len = nl - name;
		fm_put(&parts[n++].data, at, (next ? next : end) - at);
		sep = next;
	}
	return n;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
	struct fm_part parts[FM_MAX_PARTS];
	struct fm_buf all = { 0 };
	int n, k, tries;
	bool done = false;

	fm_state = seed * 0x9e3779b97f4a7c15ull + 1;
	if (fm_below(4) == 0 || !size)
		return LLVMFuzzerMutate(data, size, max_size);
	n = fm_split(data, size, parts);
	for (tries = 0; tries < 4 && !done; tries++) {
		/* A stage's stdin is half of what it is given. */
		k = n > 1 && parts[0].data.len && fm_below(2) ? 0 : fm_below(n);
		done = fm_mutate_part(&parts[k].data, max_size);
	}
	for (k = 0; k < n; k++) {
		if (k) {
			fm_put(&all, FUZZ_BUNDLE_SEP, strlen(FUZZ_BUNDLE_SEP));
			fm_put(&all, parts[k].name, parts[k].name_len);
			fm_put(&all, "\n", 1);
		}
		fm_put(&all, parts[k].data.b, parts[k].data.len);
		free(parts[k].data.b);
	}
	if (!done || all.len > max_size) {
		free(all.b);
		return LLVMFuzzerMutate(data, size, max_size);
	}
	if (all.len)
		memcpy(data, all.b, all.len);
	free(all.b);
	return all.len;
}

#endif
