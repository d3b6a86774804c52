/* test_fuzz_images: a deterministic fuzzer for what amber parses from
 * outside: image files (images/image.c over lib/frame.c and protobuf-c) and
 * the state stream between stages (ipc/stream.c); the /proc parsers have
 * test_fuzz_proc.c, and the generator is shared (fuzz.h).
 *
 * Each case builds valid input (images of every kind written with
 * image_open_write, a stream written with stream_out, the recorded /proc
 * fixtures), then mutates it with a fixed-seed generator: bit flips,
 * truncations, corrupt record lengths, random byte runs, duplicated or
 * dropped records, spliced-in garbage. Half the mutants get their header
 * "refinished" (length and record count fixed to match, as a careful forger
 * would), so that the record parsers behind the header's length and count
 * checks are reached too. Every mutant is fed to the readers,
 * which must return records or an error naming the file, never crash, hang
 * or leak: the same program runs under ASan/UBSan (tests/asan.sh), where an
 * out-of-bounds read or a leak fails the case.
 *
 * The seeds are fixed, so a failure is reproducible: the failing iteration
 * is printed, and FUZZ_ITERS=N scales the iteration counts (default 1).
 * All cases together run in well under 5 s (about 10 s under ASan). */
#include <endian.h>
#include <fcntl.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "images/core.pb-c.h"
#include "images/files.pb-c.h"
#include "images/fs.pb-c.h"
#include "images/image.h"
#include "images/inventory.pb-c.h"
#include "images/mm.pb-c.h"
#include "images/pagemap.pb-c.h"
#include "images/pstree.pb-c.h"
#include "ipc/stream.h"
#include "lib/proc.h"
#include "tests/unit/fuzz.h"
#include "tests/unit/unit.h"

/* ---- images -------------------------------------------------------------- */

#define FUZZ_DUMP_ID 0x0123456789abcdefull

/* A fresh images dir opened O_DIRECTORY; its path in *path. Images are
 * written and read as dump FUZZ_DUMP_ID. */
static int fuzz_dir(char **path)
{
	image_set_dump_id(FUZZ_DUMP_ID);
	*path = unit_tmpdir();
	if (!*path)
		return -1;
	return open(*path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static int fuzz_put(int dirfd, const char *name, const struct fuzz_buf *f)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int ret;

	if (fd < 0)
		return -1;
	ret = write_all(fd, f->b, f->len);
	close(fd);
	return ret;
}

static int fuzz_get(int dirfd, const char *name, struct fuzz_buf *f)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	struct stat st;
	ssize_t got;

	if (fd < 0 || fstat(fd, &st) < 0)
		return -1;
	fuzz_reserve(f, st.st_size + 1);
	got = pread(fd, f->b, st.st_size, 0);
	close(fd);
	if (got != st.st_size)
		return -1;
	f->len = got;
	return 0;
}

/* Writes the messages as image 'name' of 'kind' and reads its bytes back. */
static int fuzz_make_image(int dirfd, const char *kind, const char *name, const ProtobufCMessage **msgs, size_t n,
			   struct fuzz_buf *f)
{
	struct image img;
	struct err e = { 0 };
	int ret = image_open_write(&img, dirfd, kind, name, &e);

	if (ret < 0) {
		unit_fail(__FILE__, __LINE__, "%s", e.msg);
		return ret;
	}
	for (size_t i = 0; i < n && ret == 0; i++)
		ret = image_write(&img, msgs[i], &e);
	if (ret < 0)
		image_close(&img);
	else
		ret = image_close_write(&img, &e);
	if (ret < 0) {
		unit_fail(__FILE__, __LINE__, "%s", e.msg);
		return ret;
	}
	return fuzz_get(dirfd, name, f);
}

/* Did a mutation touch the header anywhere but count and body (which
 * fuzz_refinish may have set)? Every such mutant must be refused. */
static bool fuzz_header_changed(const struct fuzz_buf *f, const struct fuzz_buf *seed, size_t hdr_size)
{
	size_t fixed = offsetof(struct image_header, count);

	if (f->len < hdr_size)
		return true;
	if (memcmp(f->b, seed->b, fixed))
		return true;
	return memcmp(f->b + IMAGE_HDR_SIZE, seed->b + IMAGE_HDR_SIZE, hdr_size - IMAGE_HDR_SIZE) != 0;
}

/* Makes a mutant's header agree with its length and its records, if it
 * still has a whole header: what a forger who knows the format would do. */
static void fuzz_refinish(struct fuzz_buf *f, size_t hdr_size, bool pages)
{
	size_t offs[256];
	uint64_t body, count;

	if (f->len < hdr_size || f->len < IMAGE_HDR_SIZE)
		return;
	body = f->len - hdr_size;
	count = pages ? body / IMAGE_PAGE_SIZE : fuzz_records(f, hdr_size, offs, UNIT_ARRAY_SIZE(offs));
	body = htole64(body);
	count = htole64(count);
	memcpy(f->b + offsetof(struct image_header, body), &body, 8);
	memcpy(f->b + offsetof(struct image_header, count), &count, 8);
}

/* Reads image 'name' with every reader, as a stage would; returns the number
 * of records, or -1 after an error, which must name the file. */
static int fuzz_read_image(int dirfd, const char *kind, const char *name, int iter)
{
	ProtobufCMessage *m = NULL;
	struct image img;
	struct err e = { 0 };
	int n = 0, ret;

	ret = image_open_read(&img, dirfd, kind, name, &e);
	if (ret < 0)
		goto err;
	while ((ret = image_read(&img, &m, &e)) == 1) {
		if (!m) {
			unit_fail(__FILE__, __LINE__, "iteration %d: image_read returned 1 and no message", iter);
			break;
		}
		protobuf_c_message_free_unpacked(m, NULL);
		m = NULL;
		if (++n > 100000) {
			unit_fail(__FILE__, __LINE__, "iteration %d: more than 100000 records from a small file", iter);
			break;
		}
	}
	image_close(&img);
	if (ret < 0)
		goto err;
	/* And as a single-record image (core, mm, fs, inventory are read so). */
	ret = image_read_one(dirfd, kind, name, &m, &e);
	if (ret == 0 && m)
		protobuf_c_message_free_unpacked(m, NULL);
	else if (ret == 0)
		unit_fail(__FILE__, __LINE__, "iteration %d: image_read_one returned 0 and no message", iter);
	else if (!strstr(e.msg, name))
		unit_fail(__FILE__, __LINE__, "iteration %d: image_read_one error '%s' does not name '%s'", iter, e.msg, name);
	return n;
err:
	if (m)
		unit_fail(__FILE__, __LINE__, "iteration %d: an error returned a message too", iter);
	if (!strstr(e.msg, name))
		unit_fail(__FILE__, __LINE__, "iteration %d: error '%s' does not name '%s'", iter, e.msg, name);
	if (e.exit_code == 0)
		unit_fail(__FILE__, __LINE__, "iteration %d: error '%s' has no exit class", iter, e.msg);
	return -1;
}

/* The fuzz loop shared by every image kind: 'seed' holds the valid image. */
static void fuzz_image_loop(int dirfd, const char *kind, const struct fuzz_buf *seed, int want_records,
			    uint64_t rng_seed, int iters)
{
	struct fuzz_buf f = { 0 };
	char name[64];
	int errors = 0, ok = 0;

	/* The unmutated image reads back whole. */
	snprintf(name, sizeof(name), "%s-4242.img", kind);
	if (fuzz_put(dirfd, name, seed) < 0) {
		unit_fail(__FILE__, __LINE__, "write %s", name);
		return;
	}
	CHECK_INT(fuzz_read_image(dirfd, kind, name, -1), want_records);

	fuzz_seed(rng_seed);
	for (int i = 0; i < iters; i++) {
		int before = unit_failures;

		fuzz_set(&f, seed->b, seed->len);
		fuzz_mutate(&f, IMAGE_HDR_SIZE);
		if (fuzz_below(2))
			fuzz_refinish(&f, IMAGE_HDR_SIZE, false);
		if (fuzz_put(dirfd, name, &f) < 0) {
			unit_fail(__FILE__, __LINE__, "write %s", name);
			break;
		}
		/* Read as the kind a stage expects, then as any kind (amber show). */
		if (fuzz_read_image(dirfd, kind, name, i) < 0)
			errors++;
		else if (fuzz_header_changed(&f, seed, IMAGE_HDR_SIZE))
			unit_fail(__FILE__, __LINE__, "iteration %d: a mutant with a changed header was accepted", i);
		else
			ok++;
		fuzz_read_image(dirfd, NULL, name, i);
		if (unit_failures > before) {
			printf("# %s: iteration %d of seed %#llx failed; mutant kept as %s\n",
			       kind, i, (unsigned long long)rng_seed, name);
			break;
		}
	}
	/* A fuzzer whose mutants all fail at the header tests nothing deeper. */
	printf("# %s: %d mutants refused, %d read\n", kind, errors, ok);
	CHECK(errors > 0);
	free(f.b);
}

/* Runs the loop on an image of 'kind' built from msgs. */
static void fuzz_image_kind(const char *kind, const ProtobufCMessage **msgs, size_t n, uint64_t rng_seed)
{
	struct fuzz_buf seed = { 0 };
	char *dir, name[64];
	int dfd = fuzz_dir(&dir);

	REQUIRE(dfd >= 0);
	snprintf(name, sizeof(name), "%s-4242.img", kind);
	if (fuzz_make_image(dfd, kind, name, msgs, n, &seed) == 0)
		fuzz_image_loop(dfd, kind, &seed, n, rng_seed, fuzz_iters(400));
	free(seed.b);
	close(dfd);
	unit_rmtree(dir);
}

static void fuzz_image_core(void)
{
	CoreEntry core = CORE_ENTRY__INIT;
	UserRegsEntry regs = USER_REGS_ENTRY__INIT;
	SigactionEntry sa[3], *sap[3];
	RseqEntry rseq = RSEQ_ENTRY__INIT;
	uint8_t xstate[1088], fpregs[512];
	const ProtobufCMessage *msgs[] = { &core.base };

	for (size_t i = 0; i < sizeof(xstate); i++)
		xstate[i] = i * 7;
	memset(fpregs, 0x5a, sizeof(fpregs));
	regs.ip = 0x401000;
	regs.sp = 0x7ffc00001000;
	regs.ax = (uint64_t)-512;
	regs.orig_ax = 34;
	regs.cs = 0x33;
	regs.ss = 0x2b;
	regs.flags = 0x246;
	core.tid = 4242;
	core.regs = &regs;
	core.has_xstate = true;
	core.xstate.data = xstate;
	core.xstate.len = sizeof(xstate);
	core.has_fpregs = true;
	core.fpregs.data = fpregs;
	core.fpregs.len = sizeof(fpregs);
	core.sigmask = 1ull << 9;
	core.comm = "fuzz";
	rseq.ptr = 0x7f0000001000;
	rseq.len = 32;
	rseq.signature = 0x53053053;
	core.rseq = &rseq;
	for (int i = 0; i < 3; i++) {
		sigaction_entry__init(&sa[i]);
		sa[i].sig = i + 1;
		sa[i].handler = 0x401100 + i;
		sa[i].flags = 0x04000000;
		sa[i].restorer = 0x401200;
		sa[i].mask = 1ull << i;
		sap[i] = &sa[i];
	}
	core.n_sigactions = 3;
	core.sigactions = sap;
	core.has_brk = true;
	core.brk = 0x600000;
	fuzz_image_kind("core", msgs, 1, 0xc0de);
}

static void fuzz_image_mm(void)
{
	MmEntry mm = MM_ENTRY__INIT;
	VmaEntry v[4], *vp[4];
	uint64_t auxv[] = { 6, 4096, 33, 0x7ffc00002000, 0, 0 };
	uint32_t madv[] = { 16, 14 };
	const ProtobufCMessage *msgs[] = { &mm.base };

	for (int i = 0; i < 4; i++) {
		vma_entry__init(&v[i]);
		v[i].start = 0x400000 + i * 0x10000;
		v[i].end = v[i].start + 0x3000;
		v[i].pgoff = i * 0x1000;
		v[i].prot = i & 7;
		v[i].flags = 2;
		v[i].kind = i == 0 ? VMA_KIND__VMA_FILE_PRIVATE : VMA_KIND__VMA_ANON_PRIVATE;
		vp[i] = &v[i];
	}
	v[0].path = "/usr/bin/fuzz";
	v[0].has_dev = v[0].has_ino = v[0].has_file_size = true;
	v[0].dev = 0xfe00;
	v[0].ino = 18624;
	v[0].file_size = 0x5000;
	v[1].name = "[heap]";
	v[2].n_madvise = 2;
	v[2].madvise = madv;
	v[3].kind = VMA_KIND__VMA_VDSO;
	v[3].name = "[vdso]";
	mm.start_code = 0x400000;
	mm.end_code = 0x401000;
	mm.start_stack = 0x7ffc00001000;
	mm.n_auxv = UNIT_ARRAY_SIZE(auxv);
	mm.auxv = auxv;
	mm.exe_path = "/usr/bin/fuzz";
	mm.n_vmas = 4;
	mm.vmas = vp;
	fuzz_image_kind("mm", msgs, 1, 0x3333);
}

static void fuzz_image_memfd(void)
{
	MemfdEntry m = MEMFD_ENTRY__INIT;
	MemfdRun r[2], *rp[2];
	const ProtobufCMessage *msgs[] = { &m.base };

	for (int i = 0; i < 2; i++) {
		memfd_run__init(&r[i]);
		r[i].offset = i * 0x5000;
		r[i].nr_pages = i + 2;
		rp[i] = &r[i];
	}
	m.ino = 3809;
	m.name = "fuzz";
	m.size = 0x8000;
	m.has_seals = m.has_mode = true;
	m.seals = 6;
	m.mode = 0777;
	m.n_data = 2;
	m.data = rp;
	fuzz_image_kind("memfd", msgs, 1, 0x3fd);
}

static void fuzz_image_pagemap(void)
{
	PagemapHead head = PAGEMAP_HEAD__INIT;
	PagemapEntry pe[5];
	const ProtobufCMessage *msgs[6] = { &head.base };

	head.pages_id = 1;
	for (int i = 0; i < 5; i++) {
		pagemap_entry__init(&pe[i]);
		pe[i].vaddr = 0x400000 + i * 0x10000;
		pe[i].nr_pages = i + 1;
		pe[i].offset = i * 0x4000;
		msgs[i + 1] = &pe[i].base;
	}
	fuzz_image_kind("pagemap", msgs, 6, 0x9a9e);
}

static void fuzz_image_pstree(void)
{
	PstreeEntry p[4];
	uint32_t tids[4][3];
	const ProtobufCMessage *msgs[4];

	for (int i = 0; i < 4; i++) {
		pstree_entry__init(&p[i]);
		p[i].pid = 4242 + 10 * i;
		p[i].ppid = i ? 4242 : 0;
		p[i].pgid = p[i].sid = 4242;
		for (int t = 0; t < 3; t++)
			tids[i][t] = p[i].pid + t;
		p[i].n_threads = 1 + i % 3;
		p[i].threads = tids[i];
		msgs[i] = &p[i].base;
	}
	fuzz_image_kind("pstree", msgs, 4, 0x7737);
}

static void fuzz_image_files(void)
{
	RegFileEntry r[3];
	const ProtobufCMessage *msgs[3];
	static const char *paths[] = { "/dev/null", "/tmp/fuzz log", "/etc/passwd" };

	for (int i = 0; i < 3; i++) {
		reg_file_entry__init(&r[i]);
		r[i].id = i + 1;
		r[i].path = (char *)paths[i];
		r[i].flags = i == 1 ? 02001 : 0;
		r[i].pos = 123 * i;
		r[i].has_mnt_id = r[i].has_inode = r[i].has_size = r[i].has_mode = true;
		r[i].mnt_id = 27;
		r[i].inode = 1000 + i;
		r[i].size = 4096;
		r[i].mode = 0100644;
		msgs[i] = &r[i].base;
	}
	fuzz_image_kind("files", msgs, 3, 0xf11e);
}

static void fuzz_image_fdinfo(void)
{
	FdinfoEntry f[4];
	const ProtobufCMessage *msgs[4];

	for (int i = 0; i < 4; i++) {
		fdinfo_entry__init(&f[i]);
		f[i].fd = i;
		f[i].id = 1 + i % 3;
		f[i].type = FD_TYPE__FD_REG;
		f[i].cloexec = i == 3;
		msgs[i] = &f[i].base;
	}
	fuzz_image_kind("fdinfo", msgs, 4, 0xfd);
}

static void fuzz_image_fs(void)
{
	FsEntry fs = FS_ENTRY__INIT;
	const ProtobufCMessage *msgs[] = { &fs.base };

	fs.cwd = "/tmp/some where";
	fs.root = "/";
	fs.has_umask = true;
	fs.umask = 022;
	fuzz_image_kind("fs", msgs, 1, 0xf5);
}

static void fuzz_image_inventory(void)
{
	InventoryEntry inv = INVENTORY_ENTRY__INIT;
	char *images[] = { "pstree.img", "core-4242.img", "mm-4242.img", "pagemap-4242.img", "pages-1.img" };
	const ProtobufCMessage *msgs[] = { &inv.base };

	inv.format_version = IMAGE_FORMAT_VERSION;
	inv.kernel = "6.18.0-fuzz";
	inv.root_pid = 4242;
	inv.n_images = UNIT_ARRAY_SIZE(images);
	inv.images = images;
	inv.has_dump_time_ns = inv.has_page_size = inv.has_xstate_size = inv.has_xfeatures = true;
	inv.dump_time_ns = 1700000000000000000ull;
	inv.amber_version = "0.1.0";
	inv.page_size = 4096;
	inv.xstate_size = 1088;
	inv.xfeatures = 7;
	fuzz_image_kind("inventory", msgs, 1, 0x1147);
}

/* A pages image holds raw memory: image_read must refuse it, mutated or not. */
static void fuzz_image_pages(void)
{
	struct fuzz_buf seed = { 0 }, f = { 0 };
	struct image img;
	struct err e = { 0 };
	uint8_t page[4096];
	char *dir;
	int dfd = fuzz_dir(&dir), hdr_refused = 0;

	REQUIRE(dfd >= 0);
	memset(page, 0xab, sizeof(page));
	REQUIRE(image_open_write(&img, dfd, "pages", "pages-1.img", &e) == 0);
	REQUIRE(write_all(img.fd, page, sizeof(page)) == 0);
	REQUIRE(image_close_write(&img, &e) == 0);
	REQUIRE(fuzz_get(dfd, "pages-1.img", &seed) == 0);
	CHECK_INT(seed.len, 8192);
	REQUIRE(image_open_read(&img, dfd, "pages", "pages-1.img", &e) == 0);
	image_close(&img);
	fuzz_seed(0x9a9e5);
	for (int i = 0; i < fuzz_iters(300); i++) {
		ProtobufCMessage *m = NULL;
		int ret;

		fuzz_set(&f, seed.b, seed.len);
		fuzz_mutate(&f, IMAGE_PAGES_HDR_SIZE);
		if (fuzz_below(2))
			fuzz_refinish(&f, IMAGE_PAGES_HDR_SIZE, true);
		REQUIRE(fuzz_put(dfd, "pages-1.img", &f) == 0);
		/* As restore-tasks and restore-files open it: a pages image,
		 * its header as strict as every other's. */
		ret = image_open_read(&img, dfd, "pages", "pages-1.img", &e);
		if (ret == 0 && fuzz_header_changed(&f, &seed, IMAGE_PAGES_HDR_SIZE))
			unit_fail(__FILE__, __LINE__, "iteration %d: a pages image with a changed header was accepted", i);
		else if (ret < 0 && fuzz_header_changed(&f, &seed, IMAGE_PAGES_HDR_SIZE))
			hdr_refused++;
		if (ret == 0)
			image_close(&img);
		ret = image_open_read(&img, dfd, NULL, "pages-1.img", &e);
		if (ret == 0) {
			/* It is whatever kind the header now says; read it as such. */
			while ((ret = image_read(&img, &m, &e)) == 1)
				protobuf_c_message_free_unpacked(m, NULL);
			image_close(&img);
		}
		if (ret < 0)
			CHECK_CONTAINS(e.msg, "pages-1.img");
	}
	printf("# pages: %d mutants with a changed header, all refused\n", hdr_refused);
	CHECK(hdr_refused > 50);
	free(seed.b);
	free(f.b);
	close(dfd);
	unit_rmtree(dir);
}

/* ---- state streams ------------------------------------------------------- */

/* A valid stream: hello, every body kind, end. */
static int fuzz_make_stream(struct fuzz_buf *f)
{
	struct stream_out out;
	struct err e = { 0 };
	PstreeEntry t = PSTREE_ENTRY__INIT;
	FdPlanEntry fp = FD_PLAN_ENTRY__INIT;
	RestoredEntry re = RESTORED_ENTRY__INIT;
	SeizedEntry se = SEIZED_ENTRY__INIT;
	StreamRecord rec = STREAM_RECORD__INIT;
	uint32_t tids[] = { 4242, 4243 };
	char path[] = "/tmp/amber-fuzz-stream-XXXXXX";
	int fd = mkstemp(path), ret;

	if (fd < 0)
		return -1;
	unlink(path);
	ret = stream_out_open(&out, fd, "fuzz", &e);
	t.pid = 4242;
	t.threads = tids;
	t.n_threads = 2;
	for (int i = 0; ret == 0 && i < 3; i++)
		ret = stream_out_task(&out, &t, &e);
	fp.pid = 4242;
	fp.fd = 3;
	fp.file_id = 7;
	rec.body_case = STREAM_RECORD__BODY_FD_PLAN;
	rec.fd_plan = &fp;
	if (ret == 0)
		ret = stream_out_write(&out, &rec, &e);
	re.pid = 4242;
	re.has_root = re.root = true;
	rec.body_case = STREAM_RECORD__BODY_RESTORED;
	rec.restored = &re;
	if (ret == 0)
		ret = stream_out_write(&out, &rec, &e);
	se.pid = 4242;
	se.nr_threads = 2;
	rec.body_case = STREAM_RECORD__BODY_SEIZED;
	rec.seized = &se;
	if (ret == 0)
		ret = stream_out_write(&out, &rec, &e);
	if (ret == 0)
		ret = stream_out_end(&out, &e);
	if (ret == 0) {
		struct stat st;

		fstat(fd, &st);
		fuzz_reserve(f, st.st_size + 1);
		ret = pread(fd, f->b, st.st_size, 0) == st.st_size ? 0 : -1;
		f->len = st.st_size;
	} else {
		unit_fail(__FILE__, __LINE__, "%s", e.msg);
	}
	close(fd);
	return ret;
}

/* Reads a whole stream from fd; returns the records before the end, or -1. */
static int fuzz_read_stream(int fd, int iter)
{
	struct stream_in in;
	struct err e = { 0 };
	StreamRecord *rec;
	int n = 0, ret;

	ret = stream_in_open(&in, fd, "fuzz-stream", &e);
	if (ret == 0) {
		while ((ret = stream_in_next(&in, &rec, &e)) == 1) {
			n++;
			stream_record__free_unpacked(rec, NULL);
		}
		/* After the end, the reader stays at the end. */
		if (ret == 0)
			CHECK_INT(stream_in_next(&in, &rec, &e), 0);
		stream_in_close(&in);
	}
	if (ret < 0) {
		if (!strstr(e.msg, "fuzz-stream"))
			unit_fail(__FILE__, __LINE__, "iteration %d: stream error '%s' does not name the stream", iter, e.msg);
		if (e.exit_code == 0)
			unit_fail(__FILE__, __LINE__, "iteration %d: stream error '%s' has no exit class", iter, e.msg);
		return -1;
	}
	if (ret > 0)
		unit_fail(__FILE__, __LINE__, "iteration %d: stream_in_open returned %d", iter, ret);
	return n;
}

static void fuzz_stream(void)
{
	struct fuzz_buf seed = { 0 }, f = { 0 };
	int fd = memfd_create("fuzz-stream", MFD_CLOEXEC), errors = 0, ok = 0;

	REQUIRE(fd >= 0);
	REQUIRE(fuzz_make_stream(&seed) == 0);
	REQUIRE(pwrite(fd, seed.b, seed.len, 0) == (ssize_t)seed.len);
	CHECK_INT(fuzz_read_stream(fd, -1), 6);
	fuzz_seed(0x57ea);
	for (int i = 0; i < fuzz_iters(1500); i++) {
		int before = unit_failures;

		fuzz_set(&f, seed.b, seed.len);
		fuzz_mutate(&f, 0);
		REQUIRE(ftruncate(fd, 0) == 0);
		REQUIRE(pwrite(fd, f.b, f.len, 0) == (ssize_t)f.len);
		REQUIRE(lseek(fd, 0, SEEK_SET) == 0);
		if (fuzz_read_stream(fd, i) < 0)
			errors++;
		else
			ok++;
		if (unit_failures > before) {
			printf("# stream: iteration %d failed\n", i);
			break;
		}
	}
	printf("# stream: %d mutants refused, %d read\n", errors, ok);
	CHECK(errors > 0);
	free(seed.b);
	free(f.b);
	close(fd);
}

/* A stream cut at every byte is refused: only hello ... end is success. */
static void fuzz_stream_every_cut(void)
{
	struct fuzz_buf seed = { 0 };
	int fd = memfd_create("fuzz-stream", MFD_CLOEXEC);

	REQUIRE(fd >= 0);
	REQUIRE(fuzz_make_stream(&seed) == 0);
	for (size_t cut = 0; cut < seed.len; cut++) {
		REQUIRE(ftruncate(fd, 0) == 0);
		REQUIRE(pwrite(fd, seed.b, cut, 0) == (ssize_t)cut);
		REQUIRE(lseek(fd, 0, SEEK_SET) == 0);
		if (fuzz_read_stream(fd, cut) >= 0)
			unit_fail(__FILE__, __LINE__, "a stream cut after %zu of %zu bytes was accepted", cut, seed.len);
	}
	free(seed.b);
	close(fd);
}

static const struct unit_case cases[] = {
	UNIT_CASE(fuzz_image_core),
	UNIT_CASE(fuzz_image_mm),
	UNIT_CASE(fuzz_image_memfd),
	UNIT_CASE(fuzz_image_pagemap),
	UNIT_CASE(fuzz_image_pstree),
	UNIT_CASE(fuzz_image_files),
	UNIT_CASE(fuzz_image_fdinfo),
	UNIT_CASE(fuzz_image_fs),
	UNIT_CASE(fuzz_image_inventory),
	UNIT_CASE(fuzz_image_pages),
	UNIT_CASE(fuzz_stream),
	UNIT_CASE(fuzz_stream_every_cut),
};
UNIT_MAIN(cases)
