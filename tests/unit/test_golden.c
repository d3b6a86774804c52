/* test_golden: golden protocol tests (STYLE 18). A stage's output, decoded
 * by 'amber show', is compared byte for byte with a checked-in expectation,
 * so any change to the images, the state stream or the show printer shows
 * up as a reviewed diff of tests/golden/ rather than by accident.
 *
 * The input is a small dump built here with image_write_one (fixed pids 4242,
 * 4243 and 4250, fixed times and kernel string), so the output is the same
 * on every machine:
 *	show-dir.txt		amber show DIR
 *	show-dir.json		amber show --json DIR
 *	show-core.json		amber show DIR/core-4242.img
 *	show-pagemap.json	amber show DIR/pagemap-4242.img
 *	collect-pstree.json	amber-collect-pstree -D DIR, its stdout decoded by
 *				amber show --stream
 * The temp directory's path is replaced by "DIR" and TZ is UTC. The stage runs
 * in a new pid namespace with its own /proc, so the fixture pids are free
 * whatever runs on this machine (without the privilege for that, it runs
 * plainly and the case is skipped when a fixture pid is taken).
 *
 * Environment: AMBER_BUILD (default build) for the binaries, AMBER_GOLDEN_DIR
 * (default tests/golden) for the expectations; AMBER_GOLDEN_UPDATE=1 rewrites
 * the expectations from this run instead of comparing (review the diff!). */
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
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
#include "tests/unit/unit.h"

static const uint32_t golden_pids[] = { 4242, 4243, 4250 };	/* every pid and tid of the fixture */

static const char *golden_build(void)
{
	const char *b = getenv("AMBER_BUILD");

	return b && *b ? b : "build";
}

static const char *golden_dir(void)
{
	const char *d = getenv("AMBER_GOLDEN_DIR");

	return d && *d ? d : "tests/golden";
}

/* ---- the fixture dump ------------------------------------------------------ */

static int golden_core(int dfd, uint32_t tid, bool leader, struct err *e)
{
	CoreEntry core = CORE_ENTRY__INIT;
	UserRegsEntry regs = USER_REGS_ENTRY__INIT;
	SigactionEntry sa = SIGACTION_ENTRY__INIT, *sap = &sa;
	uint8_t xstate[16];
	char name[64];

	for (size_t i = 0; i < sizeof(xstate); i++)
		xstate[i] = i;
	regs.ip = 0x401136;
	regs.sp = 0x7ffd5e3c1f28 - 0x1000 * (tid - 4242);
	regs.ax = (uint64_t)-516;	/* -ERESTART_RESTARTBLOCK */
	regs.orig_ax = 34;
	regs.cs = 0x33;
	regs.ss = 0x2b;
	regs.flags = 0x246;
	regs.fs_base = 0x7f1e2a4b3740;
	core.tid = tid;
	core.regs = &regs;
	core.has_xstate = true;
	core.xstate.data = xstate;
	core.xstate.len = sizeof(xstate);
	core.sigmask = 1ull << (SIGUSR2 - 1);
	core.comm = leader ? "golden" : "golden-worker";
	if (leader) {
		sa.sig = SIGUSR1;
		sa.handler = 0x401200;
		sa.flags = 0x04000000;	/* SA_RESTORER */
		sa.restorer = 0x7f1e2a2a1050;
		core.n_sigactions = 1;
		core.sigactions = &sap;
		core.has_brk = true;
		core.brk = 0x1a4c000;
		core.has_restarted_syscall = true;
		core.restarted_syscall = true;
	}
	snprintf(name, sizeof(name), "core-%u.img", tid);
	return image_write_one(dfd, "core", name, &core.base, e);
}

static int golden_mm(int dfd, uint32_t pid, struct err *e)
{
	MmEntry mm = MM_ENTRY__INIT;
	VmaEntry v[3], *vp[3];
	uint64_t auxv[] = { 6, 4096, 0, 0 };
	char name[64];

	for (int i = 0; i < 3; i++) {
		vma_entry__init(&v[i]);
		vp[i] = &v[i];
	}
	v[0].start = 0x400000;
	v[0].end = 0x402000;
	v[0].prot = 5;
	v[0].flags = 2;
	v[0].kind = VMA_KIND__VMA_FILE_PRIVATE;
	v[0].path = "/usr/bin/golden";
	v[0].has_dev = v[0].has_ino = v[0].has_file_size = true;
	v[0].dev = 0xfe00;
	v[0].ino = 1234;
	v[0].file_size = 0x2000;
	v[1].start = 0x1a2b000;
	v[1].end = 0x1a4c000;
	v[1].prot = 3;
	v[1].flags = 2;
	v[1].kind = VMA_KIND__VMA_ANON_PRIVATE;
	v[1].name = "[heap]";
	v[2].start = 0x7ffd5e3a2000;
	v[2].end = 0x7ffd5e3c3000;
	v[2].prot = 3;
	v[2].flags = 0x102;
	v[2].kind = VMA_KIND__VMA_ANON_PRIVATE;
	v[2].name = "[stack]";
	mm.start_code = 0x400000;
	mm.end_code = 0x401fff;
	mm.start_stack = 0x7ffd5e3c2000;
	mm.start_brk = 0x1a2b000;
	mm.n_auxv = UNIT_ARRAY_SIZE(auxv);
	mm.auxv = auxv;
	mm.exe_path = "/usr/bin/golden";
	mm.n_vmas = 3;
	mm.vmas = vp;
	snprintf(name, sizeof(name), "mm-%u.img", pid);
	return image_write_one(dfd, "mm", name, &mm.base, e);
}

/* pagemap-PID.img: 'nr' runs of 'each' pages, at 'first_offset' in pages-1.img. */
static int golden_pagemap(int dfd, uint32_t pid, int nr, uint64_t first_offset, struct err *e)
{
	PagemapHead head = PAGEMAP_HEAD__INIT;
	PagemapEntry pe = PAGEMAP_ENTRY__INIT;
	struct image img;
	char name[64];
	int ret;

	snprintf(name, sizeof(name), "pagemap-%u.img", pid);
	if ((ret = image_open_write(&img, dfd, "pagemap", name, e)) < 0)
		return ret;
	head.pages_id = 1;
	ret = image_write(&img, &head.base, e);
	for (int i = 0; ret == 0 && i < nr; i++) {
		pe.vaddr = i == 0 ? 0x1a2b000 : 0x7ffd5e3c1000;
		pe.nr_pages = 1;
		pe.offset = first_offset + i * 4096;
		ret = image_write(&img, &pe.base, e);
	}
	if (ret < 0) {
		image_close(&img);
		return ret;
	}
	return image_close_write(&img, e);
}

static int golden_fs(int dfd, uint32_t pid, struct err *e)
{
	FsEntry fs = FS_ENTRY__INIT;
	char name[64];

	fs.cwd = "/srv/golden";
	fs.root = "/";
	fs.has_umask = true;
	fs.umask = 022;
	snprintf(name, sizeof(name), "fs-%u.img", pid);
	return image_write_one(dfd, "fs", name, &fs.base, e);
}

static int golden_fdinfo(int dfd, uint32_t pid, struct err *e)
{
	FdinfoEntry f[3];
	struct image img;
	char name[64];
	int ret;

	snprintf(name, sizeof(name), "fdinfo-%u.img", pid);
	if ((ret = image_open_write(&img, dfd, "fdinfo", name, e)) < 0)
		return ret;
	for (int i = 0; ret == 0 && i < 3; i++) {
		fdinfo_entry__init(&f[i]);
		f[i].fd = i == 2 ? 5 : i;
		f[i].id = i == 2 ? 2 : 1;
		f[i].type = FD_TYPE__FD_REG;
		f[i].cloexec = i == 2;
		ret = image_write(&img, &f[i].base, e);
	}
	if (ret < 0) {
		image_close(&img);
		return ret;
	}
	return image_close_write(&img, e);
}

static int golden_files(int dfd, struct err *e)
{
	RegFileEntry r[2];
	struct image img;
	int ret;

	if ((ret = image_open_write(&img, dfd, "files", "files.img", e)) < 0)
		return ret;
	for (int i = 0; ret == 0 && i < 2; i++) {
		reg_file_entry__init(&r[i]);
		r[i].id = i + 1;
		r[i].path = i ? "/srv/golden/log \"quoted\"" : "/dev/null";
		r[i].flags = i ? 02001 : 02;	/* O_WRONLY|O_APPEND; O_RDWR */
		r[i].pos = i ? 123 : 0;
		r[i].has_mnt_id = r[i].has_inode = r[i].has_size = r[i].has_mode = true;
		r[i].mnt_id = 27;
		r[i].inode = 4 + 1000 * i;
		r[i].size = 123 * i;
		r[i].mode = i ? 0100644 : 020666;
		ret = image_write(&img, &r[i].base, e);
	}
	if (ret < 0) {
		image_close(&img);
		return ret;
	}
	return image_close_write(&img, e);
}

static int golden_pstree(int dfd, struct err *e)
{
	PstreeEntry p[2];
	uint32_t t0[] = { 4242, 4243 }, t1[] = { 4250 };
	struct image img;
	int ret;

	if ((ret = image_open_write(&img, dfd, "pstree", "pstree.img", e)) < 0)
		return ret;
	/* Parents first, as pstree.img promises ('amber show' indents by it). */
	pstree_entry__init(&p[0]);
	p[0].pid = 4250;
	p[0].ppid = 4242;
	p[0].pgid = p[0].sid = 4242;
	p[0].threads = t1;
	p[0].n_threads = 1;
	pstree_entry__init(&p[1]);
	p[1].pid = 4242;
	p[1].pgid = p[1].sid = 4242;
	p[1].threads = t0;
	p[1].n_threads = 2;
	ret = image_write(&img, &p[1].base, e);
	if (ret == 0)
		ret = image_write(&img, &p[0].base, e);
	if (ret < 0) {
		image_close(&img);
		return ret;
	}
	return image_close_write(&img, e);
}

static int golden_pages(int dfd, struct err *e)
{
	uint8_t page[4096];
	struct image img;
	int ret;

	if ((ret = image_open_write(&img, dfd, "pages", "pages-1.img", e)) < 0)
		return ret;
	for (int i = 0; ret == 0 && i < 3; i++) {
		memset(page, 'a' + i, sizeof(page));
		ret = write_all(img.fd, page, sizeof(page));
	}
	if (ret < 0) {
		image_close(&img);
		return ret;
	}
	return image_close_write(&img, e);
}

static int golden_inventory(int dfd, struct err *e)
{
	InventoryEntry inv = INVENTORY_ENTRY__INIT;
	char *images[] = {
		"pstree.img", "files.img", "pages-1.img",
		"core-4242.img", "core-4243.img", "mm-4242.img", "pagemap-4242.img", "fs-4242.img", "fdinfo-4242.img",
		"core-4250.img", "mm-4250.img", "pagemap-4250.img", "fs-4250.img", "fdinfo-4250.img",
	};

	inv.format_version = IMAGE_FORMAT_VERSION;
	inv.kernel = "6.18.0-golden";
	inv.root_pid = 4242;
	inv.n_images = UNIT_ARRAY_SIZE(images);
	inv.images = images;
	inv.has_dump_time_ns = true;
	inv.dump_time_ns = 1767225600123456789ull;	/* 2026-01-01 00:00:00 UTC */
	inv.amber_version = "0.1.0-golden";
	inv.has_page_size = true;
	inv.page_size = 4096;
	/* The legacy area plus the xsave header with x87|SSE: any x86-64 can load it. */
	inv.has_xstate_size = inv.has_xfeatures = true;
	inv.xstate_size = 576;
	inv.xfeatures = 3;
	inv.has_dump_id = true;
	inv.dump_id = image_dump_id();
	return image_write_one(dfd, "inventory", "inventory.img", &inv.base, e);
}

#define GOLDEN_DUMP_ID 0x601de7d0a0b0c0d0ull

/* Writes the whole fixture dump into dfd, as dump GOLDEN_DUMP_ID. */
static int golden_make_dump(int dfd, struct err *e)
{
	int ret;

	image_set_dump_id(GOLDEN_DUMP_ID);
	ret = golden_pstree(dfd, e);

	if (!ret) ret = golden_files(dfd, e);
	if (!ret) ret = golden_pages(dfd, e);
	if (!ret) ret = golden_core(dfd, 4242, true, e);
	if (!ret) ret = golden_core(dfd, 4243, false, e);
	if (!ret) ret = golden_core(dfd, 4250, true, e);
	for (int i = 0; !ret && i < 2; i++) {
		uint32_t pid = i ? 4250 : 4242;

		ret = golden_mm(dfd, pid, e);
		if (!ret) ret = golden_pagemap(dfd, pid, i ? 1 : 2, i ? 2 * 4096 : 0, e);
		if (!ret) ret = golden_fs(dfd, pid, e);
		if (!ret) ret = golden_fdinfo(dfd, pid, e);
	}
	if (!ret) ret = golden_inventory(dfd, e);
	return ret;
}

/* ---- running binaries ------------------------------------------------------ */

struct golden_run {
	char *out;	/* stdout, malloc'd, NUL-terminated */
	size_t out_len;	/* its length (a state stream holds NUL bytes) */
	char err[4096];	/* the tail of stderr */
	int status;	/* exit status, or 128 + signal */
};

/* Reads all of fd into a malloc'd NUL-terminated buffer; its length in *lenp. */
static char *golden_slurp_len(int fd, size_t *lenp)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	ssize_t n;

	while (buf) {
		if (len + 1 >= cap) {
			char *nb = realloc(buf, cap *= 2);

			if (!nb) {
				free(buf);
				return NULL;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += n;
	}
	if (buf)
		buf[len] = 0;
	if (lenp)
		*lenp = len;
	return buf;
}

static char *golden_slurp(int fd)
{
	return golden_slurp_len(fd, NULL);
}

/* In a new pid and mount namespace with a fresh /proc, as its pid 1: exec argv. */
static void golden_exec_in_pidns(char **argv)
{
	pid_t pid;
	int status;

	if (unshare(CLONE_NEWPID | CLONE_NEWNS) < 0)
		_exit(125);
	pid = fork();
	if (pid < 0)
		_exit(126);
	if (pid == 0) {
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
			perror("golden: mount a fresh /proc");
			_exit(126);
		}
		execv(argv[0], argv);
		perror(argv[0]);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			_exit(126);
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

/* Runs argv with stdin from 'in' (a path, or NULL for /dev/null), TZ=UTC;
 * collects stdout and stderr. 'pidns': run it as pid 1 of a new pid ns. */
static int golden_run(char **argv, const char *in, bool pidns, struct golden_run *r)
{
	int out[2], err[2], status;
	pid_t pid;
	char *errtext;

	memset(r, 0, sizeof(*r));
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
		return -1;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(in ? in : "/dev/null", O_RDONLY);

		if (fd < 0 || dup2(fd, 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0)
			_exit(126);
		setenv("TZ", "UTC", 1);
		setenv("LC_ALL", "C", 1);
		if (pidns)
			golden_exec_in_pidns(argv);
		execv(argv[0], argv);
		perror(argv[0]);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	/* Outputs are small (well under a pipe's 64 KiB), so reading one then
	 * the other cannot deadlock; stdout is read first all the same. */
	r->out = golden_slurp_len(out[0], &r->out_len);
	errtext = golden_slurp(err[0]);
	close(out[0]);
	close(err[0]);
	if (errtext) {
		size_t n = strlen(errtext);

		snprintf(r->err, sizeof(r->err), "%s", n >= sizeof(r->err) ? errtext + n - sizeof(r->err) + 1 : errtext);
		free(errtext);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	return r->out ? 0 : -1;
}

/* Replaces every occurrence of 'from' in s (malloc'd) with 'to'. */
static char *golden_replace(char *s, const char *from, const char *to)
{
	size_t fl = strlen(from), tl = strlen(to), n = 0;
	char *out, *w;

	for (char *p = strstr(s, from); p; p = strstr(p + fl, from))
		n++;
	out = malloc(strlen(s) + n * (tl > fl ? tl - fl : 0) + 1);
	if (!out)
		return s;
	w = out;
	for (char *p = s, *q; ; p = q + fl) {
		q = strstr(p, from);
		if (!q) {
			strcpy(w, p);
			break;
		}
		memcpy(w, p, q - p);
		w += q - p;
		memcpy(w, to, tl);
		w += tl;
	}
	free(s);
	return out;
}

/* Compares 'got' with tests/golden/NAME (or rewrites it when updating). */
static void golden_compare(const char *name, const char *got)
{
	char path[512], actual[600], cmd[1400];
	const char *update = getenv("AMBER_GOLDEN_UPDATE");
	char *want = NULL;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", golden_dir(), name);
	if (update && *update && strcmp(update, "0")) {
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0 || write_all(fd, got, strlen(got)) < 0)
			unit_fail(__FILE__, __LINE__, "cannot write %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		printf("# wrote %s\n", path);
		return;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		unit_fail(__FILE__, __LINE__, "no expectation %s (run from the source root, or set AMBER_GOLDEN_DIR; "
			  "AMBER_GOLDEN_UPDATE=1 creates it)", path);
		return;
	}
	want = golden_slurp(fd);
	close(fd);
	if (want && !strcmp(want, got)) {
		free(want);
		return;
	}
	/* Keep what we got and show the difference. */
	snprintf(actual, sizeof(actual), "/tmp/amber-golden-%s", name);
	fd = open(actual, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0) {
		write_all(fd, got, strlen(got));
		close(fd);
	}
	unit_fail(__FILE__, __LINE__, "output differs from %s (got it in %s; AMBER_GOLDEN_UPDATE=1 accepts it):", path, actual);
	snprintf(cmd, sizeof(cmd), "diff -u '%s' '%s' | head -60 | sed 's/^/#   /'", path, actual);
	fflush(stdout);
	if (system(cmd) < 0)
		printf("# (diff failed)\n");
	free(want);
}

/* The binaries, or a skip when they are not built. */
static void golden_need(const char *path)
{
	if (access(path, X_OK) < 0)
		UNIT_SKIP("%s is not built (make B=%s tests)", path, golden_build());
}

/* A fixture dump in a temp dir; returns its path, or NULL after a failed check. */
static char *golden_setup(void)
{
	struct err e = { 0 };
	char *dir = unit_tmpdir();
	int dfd;

	if (!dir)
		return NULL;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || golden_make_dump(dfd, &e) < 0) {
		unit_fail(__FILE__, __LINE__, "build the fixture dump: %s", e.msg);
		if (dfd >= 0)
			close(dfd);
		unit_rmtree(dir);
		return NULL;
	}
	close(dfd);
	return dir;
}

/* Runs 'amber ARGS... PATH' on the fixture and compares its normalised stdout. */
static void golden_show(const char *golden, const char *opt, const char *file, int want_status)
{
	char amber[512], target[512];
	char *argv[5];
	struct golden_run r;
	char *dir;
	int n = 0;

	snprintf(amber, sizeof(amber), "%s/bin/amber", golden_build());
	golden_need(amber);
	dir = golden_setup();
	REQUIRE(dir);
	snprintf(target, sizeof(target), "%s%s%s", dir, file ? "/" : "", file ? file : "");
	argv[n++] = amber;
	argv[n++] = "show";
	if (opt)
		argv[n++] = (char *)opt;
	argv[n++] = target;
	argv[n] = NULL;
	if (golden_run(argv, NULL, false, &r) < 0) {
		unit_fail(__FILE__, __LINE__, "run %s: %s", amber, strerror(errno));
	} else {
		if (r.status != want_status)
			unit_fail(__FILE__, __LINE__, "amber show exited %d, want %d: %s", r.status, want_status, r.err);
		r.out = golden_replace(r.out, dir, "DIR");
		golden_compare(golden, r.out);
	}
	free(r.out);
	unit_rmtree(dir);
}

static void golden_show_dir_text(void) { golden_show("show-dir.txt", NULL, NULL, 0); }
static void golden_show_dir_json(void) { golden_show("show-dir.json", "--json", NULL, 0); }
static void golden_show_core(void) { golden_show("show-core.json", NULL, "core-4242.img", 0); }
static void golden_show_pagemap(void) { golden_show("show-pagemap.json", NULL, "pagemap-4242.img", 0); }

/* collect-pstree on the fixture: its state stream, decoded. */
static void golden_collect_pstree(void)
{
	char stage[512], amber[512], in[600], out[600], dirarg[600];
	struct stream_out so;
	struct golden_run r, show;
	struct err e = { 0 };
	char *argv[5], *dir;
	bool pidns = geteuid() == 0;
	int fd;

	snprintf(stage, sizeof(stage), "%s/libexec/amber/amber-collect-pstree", golden_build());
	snprintf(amber, sizeof(amber), "%s/bin/amber", golden_build());
	golden_need(stage);
	golden_need(amber);
	if (!pidns)
		for (size_t i = 0; i < UNIT_ARRAY_SIZE(golden_pids); i++) {
			char proc[64];

			snprintf(proc, sizeof(proc), "/proc/%u", golden_pids[i]);
			if (access(proc, F_OK) == 0)
				UNIT_SKIP("fixture pid %u is taken here and there is no privilege for a pid namespace", golden_pids[i]);
		}
	dir = golden_setup();
	REQUIRE(dir);
	/* The driver gives collect-pstree an empty stream: hello, end. */
	snprintf(in, sizeof(in), "%s/00-collect-pstree.in", dir);
	fd = open(in, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	REQUIRE(fd >= 0);
	CHECK_INT(stream_out_open(&so, fd, "driver", &e), 0);
	CHECK_INT(stream_out_end(&so, &e), 0);
	close(fd);

	snprintf(dirarg, sizeof(dirarg), "%s", dir);
	argv[0] = stage;
	argv[1] = "-D";
	argv[2] = dirarg;
	argv[3] = NULL;
	REQUIRE(golden_run(argv, in, pidns, &r) == 0);
	if (r.status == 125) {
		/* No pid namespace after all (a container): check the pids here. */
		free(r.out);
		for (size_t i = 0; i < UNIT_ARRAY_SIZE(golden_pids); i++) {
			char proc[64];

			snprintf(proc, sizeof(proc), "/proc/%u", golden_pids[i]);
			if (access(proc, F_OK) == 0) {
				unit_rmtree(dir);
				UNIT_SKIP("fixture pid %u is taken here and unshare(CLONE_NEWPID) is refused", golden_pids[i]);
			}
		}
		REQUIRE(golden_run(argv, in, false, &r) == 0);
	}
	CHECK_INT(r.status, 0);
	if (r.status)
		printf("# collect-pstree stderr: %s\n", r.err);
	snprintf(out, sizeof(out), "%s/01-collect-pstree.out", dir);
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	REQUIRE(fd >= 0);
	CHECK_INT(write_all(fd, r.out, r.out_len), 0);
	close(fd);
	free(r.out);

	argv[0] = amber;
	argv[1] = "show";
	argv[2] = "--stream";
	argv[3] = out;
	argv[4] = NULL;
	REQUIRE(golden_run(argv, NULL, false, &show) == 0);
	CHECK_INT(show.status, 0);
	if (show.status)
		printf("# amber show --stream stderr: %s\n", show.err);
	show.out = golden_replace(show.out, dir, "DIR");
	golden_compare("collect-pstree.json", show.out);
	free(show.out);
	unit_rmtree(dir);
}

/* The fixture itself is a valid dump: show finds no problem in it. A change
 * here means the fixture, not the code, went wrong. */
static void golden_fixture_reads_back(void)
{
	ProtobufCMessage *m = NULL;
	struct err e = { 0 };
	char *dir = golden_setup();
	int dfd;

	REQUIRE(dir);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	REQUIRE(dfd >= 0);
	CHECK_INT(image_read_one(dfd, "inventory", "inventory.img", &m, &e), 0);
	if (m) {
		CHECK_INT(((InventoryEntry *)m)->root_pid, 4242);
		protobuf_c_message_free_unpacked(m, NULL);
	}
	close(dfd);
	unit_rmtree(dir);
}

static const struct unit_case cases[] = {
	UNIT_CASE(golden_fixture_reads_back),
	UNIT_CASE(golden_show_dir_text),
	UNIT_CASE(golden_show_dir_json),
	UNIT_CASE(golden_show_core),
	UNIT_CASE(golden_show_pagemap),
	UNIT_CASE(golden_collect_pstree),
};
UNIT_MAIN(cases)
