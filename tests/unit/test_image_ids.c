/* test_image_ids: ids that records give each other (file ids, mount
 * namespace ids) are bounded before a reader indexes or sizes a table by
 * them (images/image.h IMAGE_MAX_*, image_check_id).
 *
 * Crafted images and streams carry an id over its bound, up to UINT32_MAX
 * (whose "+ 1" wrapped to 0 in the 32-bit arithmetic the readers once
 * used); the stages that read them, run as programs from $AMBER_BUILD
 * (default build), must exit with the documented class (lib/exitcodes.h:
 * EXIT_INPUT for an image, EXIT_PROTOCOL for a stream) and a last line that
 * names the image, the record and the bound: never a crash or a huge
 * allocation. An id at its bound is still accepted. */
#include <fcntl.h>
#include <sys/stat.h>

#include "images/files.pb-c.h"
#include "images/image.h"
#include "images/inventory.pb-c.h"
#include "images/mnt.pb-c.h"
#include "lib/exitcodes.h"
#include "ipc/stream.h"
#include "tests/unit/unit.h"

static const char *ids_build(void)
{
	const char *b = getenv("AMBER_BUILD");

	return b && *b ? b : "build";
}

/* A fresh images dir: its path in *path, an O_DIRECTORY fd returned.
 * Images are written as one dump, which the stages learn from the
 * inventory.img ids_write_dump writes. */
static int ids_dir(char **path)
{
	image_set_dump_id(0x1d5);
	*path = unit_tmpdir();
	if (!*path)
		return -1;
	return open(*path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* The images collect-remaps reads for a dump with one mount namespace
 * (mntns.img, mountpoints-1.img), one file on its root mount with file id
 * 'file_id' (files.img), and a link remap of that file (remaps.img); the
 * namespace has id 'ns_id'. */
static int ids_write_dump(int dfd, uint32_t file_id, uint32_t ns_id)
{
	InventoryEntry inv = INVENTORY_ENTRY__INIT;
	MntnsEntry ns = MNTNS_ENTRY__INIT;
	MntEntry me = MNT_ENTRY__INIT;
	RegFileEntry re = REG_FILE_ENTRY__INIT;
	RemapEntry rm = REMAP_ENTRY__INIT;
	uint32_t pids[] = { 4242 };
	char name[64];
	struct err e = { 0 };

	ns.id = ns_id;
	ns.n_pids = 1;
	ns.pids = pids;
	ns.root_mnt = 5;
	me.mnt_id = 5;
	me.parent_id = 5;
	me.root = "/";
	me.mountpoint = "/";
	me.fstype = "tmpfs";
	me.kind = MNT_KIND__MNT_TMPFS;
	re.id = file_id;
	re.path = "/tmp/unlinked";
	re.has_mnt_id = true;
	re.mnt_id = 5;
	rm.file_id = file_id;
	rm.kind = REMAP_KIND__REMAP_LINK;
	rm.path = "/tmp/.amber-remap.1.1";
	inv.format_version = IMAGE_FORMAT_VERSION;
	inv.kernel = "test";
	inv.root_pid = 4242;
	snprintf(name, sizeof(name), "mountpoints-%u.img", ns_id);
	if (image_write_one(dfd, "inventory", "inventory.img", &inv.base, &e) < 0 ||
	    image_write_one(dfd, "mntns", "mntns.img", &ns.base, &e) < 0 ||
	    image_write_one(dfd, "mountpoints", name, &me.base, &e) < 0 ||
	    image_write_one(dfd, "files", "files.img", &re.base, &e) < 0 ||
	    image_write_one(dfd, "remaps", "remaps.img", &rm.base, &e) < 0) {
		unit_fail(__FILE__, __LINE__, "%s", e.msg);
		return -1;
	}
	return 0;
}

/* What a stage run left: its exit status (128 + signal if killed) and the
 * last line of its stderr. */
struct ids_run {
	int status;
	char last[1024];
};

/* Runs stage NAME with -D dir, stdin from 'in' (NULL: /dev/null). */
static int ids_run_stage(const char *stage, const char *dir, const char *in, struct ids_run *r)
{
	char bin[512], errpath[128], line[1024];
	int status;
	pid_t pid;
	FILE *f;

	snprintf(bin, sizeof(bin), "%s/libexec/amber/amber-%s", ids_build(), stage);
	if (access(bin, X_OK) < 0)
		UNIT_SKIP("no %s (build the stages first)", bin);
	snprintf(errpath, sizeof(errpath), "%s/stderr", dir);
	fflush(stdout);
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		int in_fd = open(in ? in : "/dev/null", O_RDONLY);
		int out_fd = open("/dev/null", O_WRONLY);
		int err_fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (in_fd < 0 || out_fd < 0 || err_fd < 0 || dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 ||
		    dup2(err_fd, 2) < 0)
			_exit(126);
		execl(bin, bin, "-D", dir, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	r->last[0] = 0;
	if (!(f = fopen(errpath, "r")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (line[0] != '\n')
			snprintf(r->last, sizeof(r->last), "%s", line);
	fclose(f);
	return 0;
}

/* image_check_id itself: at the bound is fine, one over names the file,
 * the record (counted from 0) and the bound, as an input error. */
static void ids_check_id_message(void)
{
	RegFileEntry re = REG_FILE_ENTRY__INIT;
	ProtobufCMessage *m;
	struct image img;
	struct err e = { 0 };
	char *dir;
	int dfd = ids_dir(&dir);

	REQUIRE(dfd >= 0);
	re.path = "/x";
	REQUIRE(image_open_write(&img, dfd, "files", "files.img", &e) == 0);
	re.id = IMAGE_MAX_FILE_ID;
	CHECK_INT(image_write(&img, &re.base, &e), 0);
	re.id = IMAGE_MAX_FILE_ID + 1;
	CHECK_INT(image_write(&img, &re.base, &e), 0);
	REQUIRE(image_close_write(&img, &e) == 0);
	REQUIRE(image_open_read(&img, dfd, "files", "files.img", &e) == 0);
	REQUIRE(image_read(&img, &m, &e) == 1);
	CHECK_INT(image_check_id(&img, "file id", ((RegFileEntry *)m)->id, IMAGE_MAX_FILE_ID, &e), 0);
	protobuf_c_message_free_unpacked(m, NULL);
	REQUIRE(image_read(&img, &m, &e) == 1);
	CHECK_INT(image_check_id(&img, "file id", ((RegFileEntry *)m)->id, IMAGE_MAX_FILE_ID, &e), -EINVAL);
	protobuf_c_message_free_unpacked(m, NULL);
	CHECK_INT(e.exit_code, EXIT_INPUT);
	CHECK_CONTAINS(e.msg, "'files.img'");
	CHECK_CONTAINS(e.msg, "record 1");
	CHECK_CONTAINS(e.msg, "file id 4194305");
	CHECK_CONTAINS(e.msg, "limit of 4194304");
	image_close(&img);
	close(dfd);
	unit_rmtree(dir);
}

/* A file id of UINT32_MAX in files.img: collect-remaps sizes its table of
 * namespaces by file id. */
static void ids_collect_remaps_file_id(void)
{
	struct ids_run r;
	char *dir;
	int dfd = ids_dir(&dir);

	REQUIRE(dfd >= 0);
	REQUIRE(ids_write_dump(dfd, UINT32_MAX, 1) == 0);
	REQUIRE(ids_run_stage("collect-remaps", dir, NULL, &r) == 0);
	CHECK_INT(r.status, EXIT_INPUT);
	CHECK_CONTAINS(r.last, "'files.img': record 0: file id 4294967295 is over the limit of 4194304");
	close(dfd);
	unit_rmtree(dir);
}

/* One over the bound, and at the bound (which is planned: the remap's
 * namespace is found through the table). */
static void ids_collect_remaps_file_id_edge(void)
{
	struct ids_run r;
	char *dir;
	int dfd = ids_dir(&dir);

	REQUIRE(dfd >= 0);
	REQUIRE(ids_write_dump(dfd, IMAGE_MAX_FILE_ID + 1, 1) == 0);
	REQUIRE(ids_run_stage("collect-remaps", dir, NULL, &r) == 0);
	CHECK_INT(r.status, EXIT_INPUT);
	CHECK_CONTAINS(r.last, "file id 4194305 is over the limit of 4194304");
	REQUIRE(ids_write_dump(dfd, IMAGE_MAX_FILE_ID, 1) == 0);
	REQUIRE(ids_run_stage("collect-remaps", dir, NULL, &r) == 0);
	CHECK_INT(r.status, EXIT_OK);
	close(dfd);
	unit_rmtree(dir);
}

/* A mount namespace id over its bound in mntns.img. */
static void ids_collect_remaps_mntns_id(void)
{
	struct ids_run r;
	char *dir;
	int dfd = ids_dir(&dir);

	REQUIRE(dfd >= 0);
	REQUIRE(ids_write_dump(dfd, 1, UINT32_MAX) == 0);
	REQUIRE(ids_run_stage("collect-remaps", dir, NULL, &r) == 0);
	CHECK_INT(r.status, EXIT_INPUT);
	CHECK_CONTAINS(r.last, "'mntns.img': record 0: mount namespace id 4294967295 is over the limit of 4096");
	close(dfd);
	unit_rmtree(dir);
}

/* gc-remaps indexes the pins build-mntns sends by namespace id: one over
 * the bound on its stdin is a broken stream. */
static void ids_gc_remaps_mntns_record(void)
{
	MntnsPlanEntry m = MNTNS_PLAN_ENTRY__INIT;
	StreamRecord rec = STREAM_RECORD__INIT;
	struct stream_out out;
	struct err e = { 0 };
	struct ids_run r;
	char in[128], *dir;
	int dfd = ids_dir(&dir), fd;

	REQUIRE(dfd >= 0);
	snprintf(in, sizeof(in), "%s/gc-remaps.in", dir);
	REQUIRE((fd = open(in, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) >= 0);
	m.id = UINT32_MAX;
	m.pin = "/nonexistent/mnt.4294967295";
	rec.body_case = STREAM_RECORD__BODY_MNTNS;
	rec.mntns = &m;
	CHECK_INT(stream_out_open(&out, fd, "build-mntns", &e), 0);
	CHECK_INT(stream_out_write(&out, &rec, &e), 0);
	CHECK_INT(stream_out_end(&out, &e), 0);
	close(fd);
	REQUIRE(ids_run_stage("gc-remaps", dir, in, &r) == 0);
	CHECK_INT(r.status, EXIT_PROTOCOL);
	CHECK_CONTAINS(r.last, "mount namespace 4294967295 is over the limit of 4096");
	close(dfd);
	unit_rmtree(dir);
}

static const struct unit_case cases[] = {
	UNIT_CASE(ids_check_id_message),
	UNIT_CASE(ids_collect_remaps_file_id),
	UNIT_CASE(ids_collect_remaps_file_id_edge),
	UNIT_CASE(ids_collect_remaps_mntns_id),
	UNIT_CASE(ids_gc_remaps_mntns_record),
};

UNIT_MAIN(cases)
