/* tests/unit/fuzz.h: the fixed-seed generator and the byte-buffer
 * mutations the fuzzers share (test_fuzz_images.c, test_fuzz_proc.c). */
#ifndef AMBER_TESTS_UNIT_FUZZ_H
#define AMBER_TESTS_UNIT_FUZZ_H

#include <endian.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/unit.h"

/* ---- a small deterministic generator ----------------------------------- */

static uint64_t fuzz_state;

static inline void fuzz_seed(uint64_t seed)
{
	fuzz_state = seed * 0x9e3779b97f4a7c15ull + 1;
}

/* xorshift64*: fast, good enough, and the same on every machine. */
static inline uint64_t fuzz_next(void)
{
	fuzz_state ^= fuzz_state >> 12;
	fuzz_state ^= fuzz_state << 25;
	fuzz_state ^= fuzz_state >> 27;
	return fuzz_state * 0x2545f4914f6cdd1dull;
}

/* Uniform-ish in [0, n); 0 when n is 0. */
static inline size_t fuzz_below(size_t n)
{
	return n ? fuzz_next() % n : 0;
}

/* Iterations scaled by FUZZ_ITERS (a multiplier, for longer local runs). */
static inline int fuzz_iters(int base)
{
	const char *s = getenv("FUZZ_ITERS");
	int m = s && *s ? atoi(s) : 1;

	return base * (m > 0 ? m : 1);
}

/* ---- byte buffers and mutations ----------------------------------------- */

struct fuzz_buf {
	uint8_t *b;
	size_t len, cap;
};

static inline void fuzz_reserve(struct fuzz_buf *f, size_t n)
{
	if (f->cap >= n)
		return;
	f->cap = n + 256;
	f->b = realloc(f->b, f->cap);
	if (!f->b) {
		perror("realloc");
		exit(2);
	}
}

static inline void fuzz_set(struct fuzz_buf *f, const void *src, size_t len)
{
	fuzz_reserve(f, len + 1);
	memcpy(f->b, src, len);
	f->len = len;
}

/* Inserts n bytes (src, or random when NULL) at offset at. */
static inline void fuzz_insert(struct fuzz_buf *f, size_t at, const void *src, size_t n)
{
	fuzz_reserve(f, f->len + n + 1);
	memmove(f->b + at + n, f->b + at, f->len - at);
	if (src)
		memcpy(f->b + at, src, n);
	else
		for (size_t i = 0; i < n; i++)
			f->b[at + i] = fuzz_next();
	f->len += n;
}

/* Offsets of the u32 length prefixes of the records in f, starting at 'first'
 * (16 for an image, 0 for a stream); stops at the first one that overruns. */
static inline size_t fuzz_records(const struct fuzz_buf *f, size_t first, size_t *offs, size_t max)
{
	size_t n = 0, at = first;

	while (n < max && at + 4 <= f->len) {
		uint32_t len;

		memcpy(&len, f->b + at, 4);
		len = le32toh(len);
		if (at + 4 + (uint64_t)len > f->len)
			break;
		offs[n++] = at;
		at += 4 + len;
	}
	return n;
}

/* Values a corrupt length field likes to hold. */
static inline uint32_t fuzz_bad_length(uint32_t was)
{
	static const uint32_t odd[] = {
		0, 1, 3, 4, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0x3fffff, 0x400000, 0x400001,
		0xffffff, 0x1000000, 0x1000001, 0x7fffffff, 0x80000000, 0xfffffffc, 0xffffffff,
	};

	switch (fuzz_below(4)) {
	case 0: return odd[fuzz_below(UNIT_ARRAY_SIZE(odd))];
	case 1: return was + 1 + fuzz_below(8);
	case 2: return was ? was - 1 - fuzz_below(was < 8 ? was : 8) : 0;
	default: return (uint32_t)fuzz_next();
	}
}

/* Applies one to three mutations; 'first' is where records start. */
static inline void fuzz_mutate(struct fuzz_buf *f, size_t first)
{
	size_t offs[64], nrec;
	int rounds = 1 + fuzz_below(3);

	while (rounds--) {
		nrec = fuzz_records(f, first, offs, UNIT_ARRAY_SIZE(offs));
		switch (fuzz_below(10)) {
		case 0:	/* flip a few bits anywhere */
		case 1:
			for (size_t k = 1 + fuzz_below(8); k && f->len; k--)
				f->b[fuzz_below(f->len)] ^= 1u << fuzz_below(8);
			break;
		case 2:	/* truncate */
			f->len = fuzz_below(f->len + 1);
			break;
		case 3:	/* corrupt a record length */
			if (nrec) {
				size_t at = offs[fuzz_below(nrec)];
				uint32_t len;

				memcpy(&len, f->b + at, 4);
				len = htole32(fuzz_bad_length(le32toh(len)));
				memcpy(f->b + at, &len, 4);
			}
			break;
		case 4:	/* a run of random bytes */
			if (f->len) {
				size_t at = fuzz_below(f->len), n = 1 + fuzz_below(32);

				for (size_t i = at; i < at + n && i < f->len; i++)
					f->b[i] = fuzz_next();
			}
			break;
		case 5:	/* duplicate a record */
			if (nrec) {
				size_t i = fuzz_below(nrec);
				size_t end = i + 1 < nrec ? offs[i + 1] : f->len;
				size_t n = end - offs[i];
				uint8_t *copy = malloc(n);

				if (copy) {
					memcpy(copy, f->b + offs[i], n);
					fuzz_insert(f, fuzz_below(2) ? end : offs[fuzz_below(nrec)], copy, n);
					free(copy);
				}
			}
			break;
		case 6:	/* drop a record */
			if (nrec) {
				size_t i = fuzz_below(nrec);
				size_t end = i + 1 < nrec ? offs[i + 1] : f->len;

				memmove(f->b + offs[i], f->b + end, f->len - end);
				f->len -= end - offs[i];
			}
			break;
		case 7:	/* splice garbage in, or a whole bogus record */
			if (fuzz_below(2)) {
				fuzz_insert(f, fuzz_below(f->len + 1), NULL, 1 + fuzz_below(16));
			} else {
				uint32_t n = fuzz_below(24), le = htole32(n);
				size_t at = nrec ? offs[fuzz_below(nrec)] : f->len;

				fuzz_insert(f, at, NULL, n);
				fuzz_insert(f, at, &le, 4);
			}
			break;
		case 8:	/* a header field (magic, kind, version, hdr_size) */
			if (f->len >= 16) {
				uint32_t v = fuzz_below(2) ? fuzz_bad_length(0) : (uint32_t)fuzz_next();

				memcpy(f->b + 4 * fuzz_below(4), &v, 4);
			}
			break;
		default:	/* protobuf-level: a varint byte set to a continuation byte */
			if (nrec) {
				size_t i = fuzz_below(nrec);
				size_t end = i + 1 < nrec ? offs[i + 1] : f->len;

				if (end > offs[i] + 4)
					f->b[offs[i] + 4 + fuzz_below(end - offs[i] - 4)] = 0x80 | fuzz_next();
			}
			break;
		}
	}
}

#endif
